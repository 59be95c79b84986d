package linkage

import (
	"strings"
	"testing"

	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/unicode/norm"
)

// cp1258 writes s in Windows-1258: tone marks as combining characters
// after letters that keep their other marks precomposed.
func cp1258(t *testing.T, s string) string {
	var b strings.Builder
	for _, r := range norm.NFC.String(s) {
		var base, tones []rune
		for _, m := range norm.NFD.String(string(r)) {
			switch m {
			case '\u0300', '\u0301', '\u0303', '\u0309', '\u0323':
				tones = append(tones, m)
			default:
				base = append(base, m)
			}
		}
		b.WriteString(norm.NFC.String(string(base)))
		b.WriteString(string(tones))
	}
	out, err := charmap.Windows1258.NewEncoder().String(b.String())
	if err != nil {
		t.Fatalf("%q not in Windows-1258: %v", s, err)
	}
	return out
}

// tcvn3 writes s in TCVN3 (the inverse of tcvnHigh).
func tcvn3(t *testing.T, s string) string {
	inv := map[rune]byte{}
	for i, r := range tcvnHigh {
		inv[r] = byte(0x80 + i)
	}
	var b []byte
	for _, r := range norm.NFC.String(s) {
		switch c, ok := inv[r]; {
		case r < 0x80:
			b = append(b, byte(r))
		case ok:
			b = append(b, c)
		default:
			t.Fatalf("%q not in TCVN3", r)
		}
	}
	return string(b)
}

// TestCheckSample: a mapping or an encoding wrong for the whole file fails
// before the run, saying what to change; a few bad rows do not.
func TestCheckSample(t *testing.T) {
	names := []string{"Trần Thị Hương", "Nguyễn Văn Đức", "Lê Thị Thu", "Phạm Văn Hùng", "Hoàng Thị Mai", "Vũ Văn Nam"}
	rows := func(f func(k int, name string) string) string {
		var b strings.Builder
		b.WriteString("record_id,personal_id,old_cmnd,full_name,dob,sex,province_code\n")
		for k, n := range names {
			b.WriteString(f(k, n) + ",\n")
		}
		return b.String()
	}
	cases := []struct {
		what, file string
		m          Mapping
		want       []string // in the error; none: no error
	}{
		{"good file", rows(func(k int, n string) string { return "r,,," + n + ",1990-05-12,F" }), DefaultMapping(), nil},
		{"dates in a layout not listed", rows(func(k int, n string) string { return "r,,," + n + ",12.05.1990,F" }), DefaultMapping(),
			[]string{"dob_layouts", `"12.05.1990"`, `"dob"`}},
		{"the layout listed", rows(func(k int, n string) string { return "r,,," + n + ",12.05.1990,F" }),
			func() Mapping { m := DefaultMapping(); m.DOBLayouts = append(m.DOBLayouts, "02.01.2006"); return m }(), nil},
		{"one bad date among good ones", rows(func(k int, n string) string {
			if k == 0 {
				return "r,,," + n + ",12.05.1990,F"
			}
			return "r,,," + n + ",1990-05-12,F"
		}), DefaultMapping(), nil},
		{"7-digit ids", rows(func(k int, n string) string { return "r,1234567,," + n + ",1990-05-12,F" }), DefaultMapping(),
			[]string{`"personal_id"`, "7 characters", "12 (CCCD) or 9 (CMND)", `comparison "id"`}},
		{"7-digit ids among 12-digit ones", rows(func(k int, n string) string {
			if k%2 == 0 {
				return "r,1234567,," + n + ",1990-05-12,F"
			}
			return "r,001190012345,," + n + ",1990-05-12,F"
		}), DefaultMapping(), nil},
		{"7-digit CMND numbers", rows(func(k int, n string) string { return "r,,1234567," + n + ",1990-05-12,F" }), DefaultMapping(),
			[]string{"12 (CCCD) or 9 (CMND)"}},
		{"Windows-1258 names", rows(func(k int, n string) string { return "r,,," + cp1258(t, n) + ",1990-05-12,F" }), DefaultMapping(),
			[]string{"--encoding windows-1258", "6 of 6 names"}},
		{"TCVN3 names", rows(func(k int, n string) string { return "r,,," + tcvn3(t, n) + ",1990-05-12,F" }), DefaultMapping(),
			[]string{"--encoding tcvn3"}},
		{"one legacy name among UTF-8 ones", rows(func(k int, n string) string {
			if k == 0 {
				n = tcvn3(t, n)
			}
			return "r,,," + n + ",1990-05-12,F"
		}), DefaultMapping(), nil},
	}
	for _, c := range cases {
		t.Run(c.what, func(t *testing.T) {
			m := c.m
			_, err := ReadSample(strings.NewReader(c.file), CSV, &m, 100)
			if len(c.want) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

// A CMND number of the wrong length is said in the record's notes, not
// silently dropped (regression: a 7-digit id was ignored without a word).
func TestShortCMNDNoted(t *testing.T) {
	r := DefaultMapping().Record(func(c string) string {
		return map[string]string{"record_id": "x", "old_cmnd": "1234567", "full_name": "Lê Thị Thu"}[c]
	})
	if r.OldID != "" || !strings.Contains(strings.Join(r.notes, "; "), "CMND number of 7 characters") {
		t.Errorf("old id %q, notes %v", r.OldID, r.notes)
	}
}
