package linkage

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// ReadSample reads up to max records of a person file with the mapping
// (nil: DefaultMapping), to train a Linker on the file it will link: the
// m-probabilities are estimated from the records themselves. Like
// Reconcile, it fails when a CSV header lacks a column the mapping names.
func ReadSample(in io.Reader, f Format, m *Mapping, max int) ([]Record, error) {
	mp, strict := DefaultMapping(), false
	if m != nil {
		mp, strict = *m, true
	}
	rows, err := newRowReader(in, f)
	if err != nil {
		return nil, err
	}
	if h := rows.header(); h != nil {
		if err := mp.Check(h, strict); err != nil {
			return nil, err
		}
	}
	jr, _ := rows.(*jsonRows)
	if jr != nil && strict {
		jr.seen = map[string]bool{}
	}
	var out []Record
	for len(out) < max {
		get, err := rows.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if !isRowError(err) {
				return out, fmt.Errorf("linkage: reading the sample: %w", err)
			}
			continue // an unreadable row is reported by Reconcile, not here
		}
		out = append(out, mp.Record(get))
	}
	if jr != nil && jr.seen != nil && len(out) > 0 {
		// NDJSON has no header: a column the mapping names must appear
		// in some object of the sample
		for _, c := range mp.columns() {
			if !jr.seen[c] {
				return nil, fmt.Errorf("linkage: the mapping names key %q, which no object of the first %d records has", c, len(out))
			}
		}
	}
	if err := CheckSample(out, mp); err != nil {
		return nil, err
	}
	return out, nil
}

// CheckSample fails before a run, saying what to change, when the first
// rows of a file show that the mapping or the encoding is wrong for all
// of it rather than for a few rows: no date of birth read by the date
// layouts, no personal or CMND number of 12 or 9 digits, or most names
// not valid UTF-8 (the error names the encoding that reads them). A few
// such rows are not an error: each is noted in its result.
func CheckSample(sample []Record, m Mapping) error {
	var dates, badDates, ids, badIDs, names, badNames int
	var exDate, exID string
	var raw [][]byte
	for i := range sample {
		r := &sample[i]
		if r.DOB != "" || r.badDOB {
			dates++
		}
		if r.badDOB {
			badDates++
			if exDate == "" {
				exDate = noteValue(r.notes, "date of birth ")
			}
		}
		if r.PersonalID != "" || r.OldID != "" || r.badID {
			ids++
		}
		if r.badID && r.OldID == "" && (r.PersonalID == "" || (len(r.PersonalID) != 12 && len(r.PersonalID) != 9)) {
			badIDs++
			if exID == "" {
				exID = fmt.Sprintf("%d characters", max(len(r.PersonalID), 1))
				if r.PersonalID == "" {
					exID = "a CMND column of other lengths"
				}
			}
		}
		if r.Name != "" {
			names++
			if !utf8.ValidString(r.Name) {
				badNames++
				if len(raw) < 200 {
					raw = append(raw, []byte(r.Name))
				}
			}
		}
	}
	if dates > 0 && badDates == dates {
		return fmt.Errorf("linkage: no date of birth in the first %d rows is read (e.g. %s): the column %q holds dates in a layout the mapping does not list; add it to dob_layouts (Go layouts such as \"02/01/2006\", \"2006.01.02\")", len(sample), exDate, m.DOB)
	}
	if ids > 0 && badIDs == ids && m.idFormat() != IDCCCD {
		return fmt.Errorf("linkage: none of the %d ids in the first %d rows is in the format %s: the mapped column %q holds something else; set id_format (cccd: 12 digits, cmnd: 9 digits, digits: a number of any length, text: any value) or fix the mapping", ids, len(sample), m.idFormat(), m.PersonalID)
	}
	if ids > 0 && badIDs == ids {
		return fmt.Errorf("linkage: none of the %d personal numbers in the first %d rows has 12 (CCCD) or 9 (CMND) digits (%s): the mapped column %q is not a personal number; map it as an extra field with the comparison \"id\" (Mapping.Extra) or fix the mapping", ids, len(sample), exID, cmpOr(m.PersonalID, m.OldID))
	}
	if names >= 5 && badNames*2 > names {
		return fmt.Errorf("linkage: %d of %d names in the first rows are not valid UTF-8: %s", badNames, names, guessEncoding(raw))
	}
	return nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// noteValue returns the quoted value of the first note that starts with
// prefix.
func noteValue(notes []string, prefix string) string {
	for _, n := range notes {
		if strings.HasPrefix(n, prefix) {
			if i := strings.IndexByte(n, '"'); i >= 0 {
				if j := strings.LastIndexByte(n, '"'); j > i {
					return n[i : j+1]
				}
			}
		}
	}
	return "?"
}

// guessEncoding says which --encoding reads names that are not UTF-8: the
// legacy encoding under which more of them decode to Vietnamese words.
func guessEncoding(names [][]byte) string {
	best, score := Windows1258, -1
	for _, e := range []Encoding{Windows1258, TCVN3} {
		n := 0
		for _, b := range names {
			d, err := io.ReadAll(e.Decode(bytes.NewReader(b)))
			if err == nil && looksVietnamese(norm.NFC.String(string(d))) {
				n++
			}
		}
		if n > score {
			best, score = e, n
		}
	}
	return fmt.Sprintf("the file is probably in %s (%d of %d such names read as Vietnamese in it): pass --encoding %s", best, score, len(names), best)
}

// looksVietnamese reports whether s is written in the Vietnamese alphabet:
// Latin letters and đ, with breve, circumflex or horn, and at most one tone
// mark per word. A name decoded in the wrong legacy encoding has letters
// of other alphabets (Ç, Ð) or two tones in a word.
func looksVietnamese(s string) bool {
	tones := 0
	for _, r := range norm.NFD.String(s) {
		switch {
		case r == ' ' || r == '-' || r == '\'':
			tones = 0
		case r < 0x80 && unicode.IsLetter(r), r == 'đ', r == 'Đ', r == '\u0306', r == '\u0302', r == '\u031B':
		case r == '\u0300', r == '\u0301', r == '\u0303', r == '\u0309', r == '\u0323':
			if tones++; tones > 1 {
				return false
			}
		default:
			return false
		}
	}
	return s != ""
}
