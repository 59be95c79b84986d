package identity

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// The five Vietnamese tone marks as combining characters (after NFD), and
// the three vowel modifiers that are part of the letter (â ê ô, ă, ơ ư).
const (
	toneGrave = '\u0300' // huyền
	toneAcute = '\u0301' // sắc
	toneTilde = '\u0303' // ngã
	toneHook  = '\u0309' // hỏi
	toneDot   = '\u0323' // nặng
	modCirc   = '\u0302'
	modBreve  = '\u0306'
	modHorn   = '\u031B'
)

func isTone(r rune) bool {
	switch r {
	case toneGrave, toneAcute, toneTilde, toneHook, toneDot:
		return true
	}
	return false
}

func isModifier(r rune) bool { return r == modCirc || r == modBreve || r == modHorn }

// dStroke maps the letters that are typed in place of đ to đ: Icelandic eth
// (Ð, ð) and African D (Ɖ, ɖ) look identical to Vietnamese Đ/đ and turn up
// in data entered on foreign keyboard layouts.
func dStroke(r rune) rune {
	switch r {
	case 'Ð', 'ð', 'Ɖ', 'ɖ', 'Đ':
		return 'đ'
	}
	return r
}

// asciiFold handles the common all-ASCII input without decoding: it lower-
// cases, collapses runs of whitespace to one space and trims. It returns s
// itself when nothing changes, so a clean name costs no allocation. ok is
// false when s is not ASCII.
func asciiFold(s string) (string, bool) {
	clean := true
	prevSpace := true // true at the start so a leading space counts as dirty
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= utf8.RuneSelf {
			return "", false
		}
		switch {
		case c >= 'A' && c <= 'Z':
			clean = false
		case asciiSpace(c):
			if c != ' ' || prevSpace {
				clean = false
			}
			prevSpace = true
			continue
		}
		prevSpace = false
	}
	if clean && (len(s) == 0 || !asciiSpace(s[len(s)-1])) {
		return s, true
	}
	var b strings.Builder
	b.Grow(len(s))
	pending := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if asciiSpace(c) {
			pending = b.Len() > 0
			continue
		}
		if pending {
			b.WriteByte(' ')
			pending = false
		}
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		b.WriteByte(c)
	}
	return b.String(), true
}

// validUTF8 replaces invalid bytes by U+FFFD up front: the normalizer
// leaves text after an invalid byte undecomposed, which would make the
// result depend on whether the input had been cleaned before.
func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

// isSpace is Unicode white space plus the zero-width space, which is used
// as a word separator in text pasted from the web.
func isSpace(r rune) bool { return unicode.IsSpace(r) || r == '\u200B' }

func asciiSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}

// Normalize returns the comparison form of a Vietnamese name: NFC, lower
// case, whitespace (including the zero-width space) collapsed to single
// spaces and trimmed, invisible format characters (joiners, BOM, soft
// hyphen) removed, look-alikes of đ mapped to đ,
// and the tone mark of every syllable placed by one rule, so that the old
// and new placements (hòa / hoà, thúy / thuý, khỏe / khoẻ) give the same
// string. Two names are the same name exactly when their Normalize forms are
// equal. The rule is the "new" placement (on the second vowel of oa, oe, uy
// at the end of a syllable); a syllable with no or several tone marks is
// left as it is.
func Normalize(s string) string {
	if out, ok := asciiFold(s); ok {
		return out
	}
	d := norm.NFD.String(validUTF8(s))
	var b strings.Builder
	b.Grow(len(d) + 4)
	var syl []rune
	pending := false
	flush := func() {
		if len(syl) == 0 {
			return
		}
		if pending {
			b.WriteByte(' ')
			pending = false
		}
		for _, r := range placeTone(syl) {
			b.WriteRune(r)
		}
		syl = syl[:0]
	}
	for _, r := range d {
		switch {
		case isSpace(r):
			flush()
			pending = b.Len() > 0
		case unicode.Is(unicode.Cf, r):
			// invisible inside a word (joiners, BOM, soft hyphen): dropped
			// without splitting the syllable, so a second pass sees the
			// same syllables and Normalize stays idempotent
		case unicode.IsLetter(r) || unicode.Is(unicode.Mn, r):
			syl = append(syl, dStroke(unicode.ToLower(r)))
		default:
			flush()
			if pending {
				b.WriteByte(' ')
				pending = false
			}
			b.WriteRune(unicode.ToLower(r))
		}
	}
	flush()
	return norm.NFC.String(b.String())
}

// Fold returns the diacritic-free comparison form of a name: Normalize's
// lower case and whitespace rules, then every combining mark removed and đ
// mapped to d explicitly (đ is a letter of its own, not d plus a mark, so
// decomposition alone leaves it). "Nguyễn Thị Đoàn" folds to "nguyen thi
// doan"; two names that differ only in diacritics fold equal.
func Fold(s string) string {
	if out, ok := asciiFold(s); ok {
		return out
	}
	d := norm.NFD.String(validUTF8(s))
	var b strings.Builder
	b.Grow(len(d))
	pending := false
	for _, r := range d {
		switch {
		case isSpace(r):
			pending = b.Len() > 0
		case unicode.Is(unicode.Cf, r), unicode.Is(unicode.Mn, r):
		default:
			if pending {
				b.WriteByte(' ')
				pending = false
			}
			r = dStroke(unicode.ToLower(r))
			if r == 'đ' {
				r = 'd'
			}
			b.WriteRune(r)
		}
	}
	// Letters that decompose into something non-ASCII (rare outside
	// Vietnamese) are recomposed so the result is still NFC.
	return norm.NFC.String(b.String())
}

// placeTone moves the single tone mark of a decomposed, lower-cased
// syllable onto the vowel chosen by toneVowel. Placement never changes the
// word: a Vietnamese syllable has one tone, and where it is drawn is
// orthographic convention only.
func placeTone(syl []rune) []rune {
	toneAt, tone := -1, rune(0)
	for i, r := range syl {
		if isTone(r) {
			if toneAt >= 0 {
				return syl // several tones: not a Vietnamese syllable
			}
			toneAt, tone = i, r
		}
	}
	if toneAt < 0 {
		return syl
	}
	// letters: index in syl of each base letter; modified: whether that
	// letter carries â/ă/ơ-style marks.
	var lettersBuf [16]int
	var modBuf [16]bool
	letters, modified := lettersBuf[:0], modBuf[:0]
	for i, r := range syl {
		switch {
		case isTone(r):
		case isModifier(r):
			if len(modified) > 0 {
				modified[len(modified)-1] = true
			}
		case unicode.Is(unicode.Mn, r):
		default:
			letters = append(letters, i)
			modified = append(modified, false)
		}
	}
	target := toneVowel(syl, letters, modified)
	if target < 0 {
		return syl
	}
	at := letters[target]
	out := make([]rune, 0, len(syl))
	for i := 0; i < len(syl); i++ {
		if i == toneAt {
			continue
		}
		out = append(out, syl[i])
		if i == at {
			// after the letter's own modifiers, so that NFC composes
			// e.g. ê + acute into ế
			for i+1 < len(syl) && (isModifier(syl[i+1]) || i+1 == toneAt) {
				i++
				if i != toneAt {
					out = append(out, syl[i])
				}
			}
			out = append(out, tone)
		}
	}
	return out
}

func isVowel(r rune) bool {
	switch r {
	case 'a', 'e', 'i', 'o', 'u', 'y':
		return true
	}
	return false
}

// toneVowel returns which letter (index into letters) carries the tone,
// or -1 when the syllable has no vowel.
func toneVowel(syl []rune, letters []int, modified []bool) int {
	base := func(k int) rune { return syl[letters[k]] }
	v0 := -1
	for k := range letters {
		if isVowel(base(k)) {
			v0 = k
			break
		}
	}
	if v0 < 0 {
		return -1
	}
	v1 := v0
	for v1 < len(letters) && isVowel(base(v1)) {
		v1++
	}
	// "qu" and "gi" before another vowel are onsets, not part of the
	// nucleus: quá, giá (but gì keeps its i).
	if v1-v0 > 1 && v0 > 0 && !modified[v0] {
		if (base(v0) == 'u' && base(v0-1) == 'q') || (base(v0) == 'i' && base(v0-1) == 'g') {
			v0++
		}
	}
	for k := v1 - 1; k >= v0; k-- {
		if modified[k] {
			return k // ê, ơ, â …: ươ takes it on ơ, the last one
		}
	}
	n := v1 - v0
	switch {
	case n == 1:
		return v0
	case v1 < len(letters): // a final consonant: hoàng, toán, huỳnh
		return v1 - 1
	case n == 2:
		a, b := base(v0), base(v0+1)
		if (a == 'o' && (b == 'a' || b == 'e')) || (a == 'u' && b == 'y') {
			return v0 + 1 // hoà, khoẻ, thuý
		}
		return v0 // mái, mùa, chìa
	default:
		return v0 + 1 // ngoài, khuỷu
	}
}
