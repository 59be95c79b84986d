package linkage

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/lgsp-bus/lgsp/broker/identity"
	"github.com/lgsp-bus/lgsp/connectors/cccd"
	"github.com/lgsp-bus/lgsp/connectors/synthetic"
)

// FuzzCompare: any two people compare without panicking, every level is
// in range, and a person compared with themselves agrees on every field
// they have.
func FuzzCompare(f *testing.F) {
	f.Add("Nguyễn Văn Hòa", "1985-03-14", "M", "001", "123456789", "Văn Hoà Nguyen", "1985-14-03", "F", "079", "123456780")
	f.Add("", "", "", "", "", "Ðặng\u200bThuý", "0000-00-00", "x", "99", "12345678a")
	f.Fuzz(func(t *testing.T, n1, d1, s1, p1, o1, n2, d2, s2, p2, o2 string) {
		mk := func(n, d, s, p, o string) *side {
			x := prepare(Record{Name: n, DOB: d, Sex: s, Province: p, OldID: o})
			return &x.side
		}
		a, b := mk(n1, d1, s1, p1, o1), mk(n2, d2, s2, p2, o2)
		for _, g := range []vector{compare(a, b), compare(b, a)} {
			for c, l := range g[:nBase] {
				if l < null || int(l) >= len(levelNames[c]) {
					t.Fatalf("%s level %d out of range", compNames[c], l)
				}
			}
		}
		g := compare(a, a)
		if len(a.toks) > 0 && g[CompName] != nameExact {
			t.Fatalf("name %q vs itself: level %d", n1, g[CompName])
		}
		if a.dobOK && g[CompDOB] != dobExact {
			t.Fatalf("date %q vs itself: level %d", d1, g[CompDOB])
		}
	})
}

var (
	fOnce   sync.Once
	fIdx    *identity.Index
	fLinker *Linker
)

// smallWorld is a 5,000-citizen register with a linker, cheap enough for
// fuzzing.
func smallWorld() (*identity.Index, *Linker) {
	fOnce.Do(func() {
		cs := synthetic.Population(7, 5000)
		fIdx = identity.NewIndex(len(cs))
		for _, c := range cs {
			fIdx.Add(c)
		}
		pop, _ := PopulationOf(cs)
		view := synthetic.NewPop(7, 5000)
		var train []Record
		for i := range 500 {
			l := synthetic.Legacy(7, view, uint64(i), synthetic.DefaultLegacyOptions())
			train = append(train, Record{ID: l.RecordID, Name: l.FullName, DOB: l.DOB, Sex: l.Sex, Province: l.Province, OldID: l.OldID})
		}
		cfg := DefaultConfig()
		cfg.RandomPairs = 20_000
		fLinker = Train(pop, train, cfg)
	})
	return fIdx, fLinker
}

// FuzzReconcileNDJSON: any input file gives one output line per non-empty
// input line, never a panic.
func FuzzReconcileNDJSON(f *testing.F) {
	f.Add([]byte(`{"record_id":"1","full_name":"Nguyễn Văn An","dob":"1990-01-01","sex":"M"}` + "\n" + `{broken` + "\n"))
	f.Add([]byte(`{"record_id":"2","personal_id":"001090000001","full_name":"","dob":12,"sex":true}`))
	f.Add([]byte("{\"full_name\":\"Nguy\xe1n\",\"old_cmnd\":\"12345678\"}\n\n\n[1,2]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		idx, l := smallWorld()
		var out bytes.Buffer
		sum, err := Reconcile(context.Background(), idx, l, bytes.NewReader(data), &out, BulkOptions{Format: NDJSON})
		if err != nil {
			if strings.Contains(err.Error(), "token too long") {
				return
			}
			t.Fatal(err)
		}
		want := 0
		for _, line := range strings.Split(string(data), "\n") {
			if strings.TrimSpace(line) != "" {
				want++
			}
		}
		if got := strings.Count(out.String(), "\n"); got != want || sum.Records != want {
			t.Fatalf("%d input lines, %d output lines, summary %d", want, got, sum.Records)
		}
	})
}

// FuzzReconcileCSV: the same for CSV.
func FuzzReconcileCSV(f *testing.F) {
	f.Add([]byte("record_id,full_name,dob,sex\n1,Nguyễn Văn An,1990-01-01,M\n2,\"broken,1990\n"))
	f.Add([]byte("\uFEFFrecord_id,personal_id,full_name\nx,00109000000a,Lê Thị Hoa\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		idx, l := smallWorld()
		var out bytes.Buffer
		Reconcile(context.Background(), idx, l, bytes.NewReader(data), &out, BulkOptions{Format: CSV})
	})
}

// FuzzParseAddress: any text parses without panicking; the result does not
// depend on diacritics, case or NFC/NFD; its parts are folded; an address
// compared with itself agrees as far as it goes.
func FuzzParseAddress(f *testing.F) {
	f.Add("Số 012 đường Lê Lợi, P. Bến Nghé, Q.1, TP.HCM")
	f.Add("SN 12/03 Lê Lợi P1 Q10 TPHCM")
	f.Add("Thôn 3, X. Khánh Hoà, H. Đông Anh, Hà Nội")
	f.Fuzz(func(t *testing.T, s string) {
		a := ParseAddress(s)
		if b := ParseAddress(identity.Fold(s)); a != b {
			t.Fatalf("%q: %s, folded %s", s, a, b)
		}
		if b := ParseAddress(norm.NFD.String(strings.ToUpper(s))); utf8.ValidString(s) && a != b {
			t.Fatalf("%q: %s, NFD upper case %s", s, a, b)
		}
		for _, p := range []string{a.House, a.Street, a.Commune, a.District} {
			if p != identity.Fold(p) || strings.Contains(p, ",") {
				t.Fatalf("%q: part %q not folded", s, p)
			}
		}
		if a.Province != 0 {
			if _, ok := cccdProvinceName(pad3(a.Province)); !ok {
				t.Fatalf("%q: province %d", s, a.Province)
			}
		}
		c := newColumn(ExtraField{Name: "a", Column: "a", Comparison: "address"}, 1)
		c.add(s)
		c.finish()
		p := c.probe(s)
		lv := c.level(&p, 0)
		switch {
		case a.Empty() && lv != null:
			t.Fatalf("%q: nothing understood, level %d", s, lv)
		case a.Street != "" && a.Commune != "" && lv != addrExact:
			t.Fatalf("%q (%s) vs itself: level %d", s, a, lv)
		case !a.Empty() && lv == null:
			t.Fatalf("%q (%s) vs itself: missing", s, a)
		}
	})
}

var cccdProvinceName = cccd.ProvinceName
