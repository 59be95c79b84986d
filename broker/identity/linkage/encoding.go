package linkage

import (
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/transform"
)

// Encoding is the character encoding of a person file. Vietnamese files
// written before Unicode was usual come in TCVN3 (the "ABC" fonts, TCVN
// 5712:1993) or Windows-1258; read as UTF-8 their names are invalid, and
// each such record says so in its reason.
type Encoding string

const (
	UTF8        Encoding = "utf-8"
	Windows1258 Encoding = "windows-1258"
	TCVN3       Encoding = "tcvn3"
)

// ParseEncoding accepts the usual names of the supported encodings.
func ParseEncoding(s string) (Encoding, error) {
	switch strings.ToLower(strings.ReplaceAll(strings.TrimSpace(s), "_", "-")) {
	case "", "utf-8", "utf8":
		return UTF8, nil
	case "windows-1258", "cp1258", "1258":
		return Windows1258, nil
	case "tcvn3", "tcvn", "tcvn-5712", "tcvn5712-1", "abc", "vn3":
		return TCVN3, nil
	}
	return "", fmt.Errorf("linkage: unknown encoding %q (utf-8, windows-1258 or tcvn3)", s)
}

// Decode returns a reader of in converted to UTF-8.
func (e Encoding) Decode(in io.Reader) io.Reader {
	switch e {
	case Windows1258:
		return charmap.Windows1258.NewDecoder().Reader(in)
	case TCVN3:
		return transform.NewReader(in, tcvnDecoder{})
	}
	return in
}

// tcvnDecoder maps TCVN 5712:1993 bytes to UTF-8: ASCII as is, the
// precomposed letters of 0x80-0xFF and the capitals that VN1 puts in the
// control range. Tone marks at 0xB0-0xB4 are combining characters, which
// name normalisation composes.
type tcvnDecoder struct{ transform.NopResetter }

func (tcvnDecoder) Transform(dst, src []byte, atEOF bool) (nDst, nSrc int, err error) {
	for nSrc < len(src) {
		c := src[nSrc]
		r := rune(c)
		switch {
		case c >= 0x80:
			r = tcvnHigh[c-0x80]
		case c < 0x20:
			if v := tcvnLow[c]; v != 0 {
				r = v
			}
		}
		if nDst+utf8.RuneLen(r) > len(dst) {
			return nDst, nSrc, transform.ErrShortDst
		}
		nDst += utf8.EncodeRune(dst[nDst:], r)
		nSrc++
	}
	return nDst, nSrc, nil
}

// tcvnLow are the capitals TCVN 5712 VN1 places among the control codes.
var tcvnLow = [0x20]rune{0x01: 0x00DA, 0x02: 0x1EE4, 0x04: 0x1EEA, 0x05: 0x1EEC, 0x06: 0x1EEE, 0x11: 0x1EE8,
	0x12: 0x1EF0, 0x13: 0x1EF2, 0x14: 0x1EF6, 0x15: 0x1EF8, 0x16: 0x00DD, 0x17: 0x1EF4}

// tcvnHigh maps 0x80-0xFF (from the TCVN5712-1 charmap of the GNU C library).
var tcvnHigh = [128]rune{
	0x00C0, 0x1EA2, 0x00C3, 0x00C1, 0x1EA0, 0x1EB6, 0x1EAC, 0x00C8, // 0x80
	0x1EBA, 0x1EBC, 0x00C9, 0x1EB8, 0x1EC6, 0x00CC, 0x1EC8, 0x0128, // 0x88
	0x00CD, 0x1ECA, 0x00D2, 0x1ECE, 0x00D5, 0x00D3, 0x1ECC, 0x1ED8, // 0x90
	0x1EDC, 0x1EDE, 0x1EE0, 0x1EDA, 0x1EE2, 0x00D9, 0x1EE6, 0x0168, // 0x98
	0x00A0, 0x0102, 0x00C2, 0x00CA, 0x00D4, 0x01A0, 0x01AF, 0x0110, // 0xA0
	0x0103, 0x00E2, 0x00EA, 0x00F4, 0x01A1, 0x01B0, 0x0111, 0x1EB0, // 0xA8
	0x0300, 0x0309, 0x0303, 0x0301, 0x0323, 0x00E0, 0x1EA3, 0x00E3, // 0xB0
	0x00E1, 0x1EA1, 0x1EB2, 0x1EB1, 0x1EB3, 0x1EB5, 0x1EAF, 0x1EB4, // 0xB8
	0x1EAE, 0x1EA6, 0x1EA8, 0x1EAA, 0x1EA4, 0x1EC0, 0x1EB7, 0x1EA7, // 0xC0
	0x1EA9, 0x1EAB, 0x1EA5, 0x1EAD, 0x00E8, 0x1EC2, 0x1EBB, 0x1EBD, // 0xC8
	0x00E9, 0x1EB9, 0x1EC1, 0x1EC3, 0x1EC5, 0x1EBF, 0x1EC7, 0x00EC, // 0xD0
	0x1EC9, 0x1EC4, 0x1EBE, 0x1ED2, 0x0129, 0x00ED, 0x1ECB, 0x00F2, // 0xD8
	0x1ED4, 0x1ECF, 0x00F5, 0x00F3, 0x1ECD, 0x1ED3, 0x1ED5, 0x1ED7, // 0xE0
	0x1ED1, 0x1ED9, 0x1EDD, 0x1EDF, 0x1EE1, 0x1EDB, 0x1EE3, 0x00F9, // 0xE8
	0x1ED6, 0x1EE7, 0x0169, 0x00FA, 0x1EE5, 0x1EEB, 0x1EED, 0x1EEF, // 0xF0
	0x1EE9, 0x1EF1, 0x1EF3, 0x1EF7, 0x1EF9, 0x00FD, 0x1EF5, 0x1ED0, // 0xF8
}
