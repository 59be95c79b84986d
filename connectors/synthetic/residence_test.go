package synthetic

import (
	"regexp"
	"strings"
	"testing"
)

// The residences: deterministic, most people in their birth province,
// households of a few people sharing an address, every address with its
// province's postcode.
func TestResidence(t *testing.T) {
	const n = 100_000
	perAddress := map[string]int{}
	stay := 0
	postcode := regexp.MustCompile(`^[0-9]{5}$`)
	for i := range n {
		a := Residence(7, i)
		if a != Residence(7, i) {
			t.Fatalf("citizen %d: residence not deterministic", i)
		}
		c := Citizen(7, i)
		if a.Province == c.BirthProvince {
			stay++
		}
		if !postcode.MatchString(a.Postcode) || a.Line == "" || a.Commune == "" || a.District == "" || a.Prov == "" {
			t.Fatalf("citizen %d: %+v", i, a)
		}
		if !strings.HasSuffix(a.Line, ", "+a.Prov) || !strings.Contains(a.Line, a.Commune) {
			t.Fatalf("citizen %d: line %q does not end with its parts %+v", i, a.Line, a)
		}
		if a.House != "" {
			perAddress[a.Line]++ // urban: the house number makes it a dwelling
		}
	}
	if share := float64(stay) / n; share < 0.82 || share > 0.9 {
		t.Errorf("%.3f live in their birth province, want about 0.85", share)
	}
	people, shared := 0, 0
	for _, k := range perAddress {
		people += k
		if k > 1 {
			shared += k
		}
	}
	if mean := float64(people) / float64(len(perAddress)); mean < 2 || mean > 5 {
		t.Errorf("%.2f people per urban address, want a household of about 3.5", mean)
	}
	if float64(shared)/float64(people) < 0.7 {
		t.Errorf("only %d of %d people share their address with someone", shared, people)
	}
	// the old address of someone who moved is another one
	same := 0
	for i := range 1000 {
		if OldAddress(7, i, 1).Line == Residence(7, i).Line {
			same++
		}
	}
	if same > 20 {
		t.Errorf("%d of 1000 old addresses are the current one", same)
	}
}

func TestInsuranceNumber(t *testing.T) {
	seen := map[string]int{}
	none := 0
	for i := range 50_000 {
		s := InsuranceNumber(7, i)
		if s == "" {
			none++
			continue
		}
		if len(s) != 10 || strings.Trim(s, "0123456789") != "" || s[:2] != Citizen(7, i).BirthProvince[1:] {
			t.Fatalf("citizen %d: %q", i, s)
		}
		if j, ok := seen[s]; ok {
			t.Fatalf("citizens %d and %d share %s", j, i, s)
		}
		seen[s] = i
	}
	if share := float64(none) / 50_000; share < 0.17 || share > 0.23 {
		t.Errorf("%.3f without a number, want about 0.2", share)
	}
}

// The extract's address, postcode and insurance number: at the documented
// rates, each kind of corruption present, and none with the rates at 0.
func TestLegacyExtras(t *testing.T) {
	pop := NewPop(3, 20_000)
	o := DefaultLegacyOptions()
	errs := map[string]int{}
	var withAddr, withPostcode, withIns int
	for i := range uint64(5000) {
		r := Legacy(3, pop, i, o)
		for _, e := range r.Errors {
			errs[e]++
		}
		if r.Address != "" {
			withAddr++
		}
		if r.Postcode != "" {
			withPostcode++
		}
		if r.InsuranceNumber != "" {
			withIns++
		}
	}
	for k, want := range map[string]float64{"no_address": 0.1, "moved": 0.08, "address_abbrev": 0.4 * 0.9, "address_diacritics": 0.15 * 0.9, "address_partial": 0.15 * 0.9} {
		if got := float64(errs[k]) / 5000; got < want*0.75 || got > want*1.25 {
			t.Errorf("%s: rate %.3f, want about %.3f", k, got, want)
		}
	}
	for _, k := range []string{"house_number", "address_typo", "typo_postcode", "typo_insurance"} {
		if errs[k] == 0 {
			t.Errorf("no %s error generated", k)
		}
	}
	if float64(withAddr)/5000 < 0.85 || float64(withPostcode)/5000 < 0.45 || float64(withIns)/5000 < 0.2 {
		t.Errorf("%d addresses, %d postcodes, %d insurance numbers of 5000", withAddr, withPostcode, withIns)
	}
	// the base fields do not depend on the extras' rates
	z := o
	z.NoAddress, z.Moved, z.AddressAbbrev, z.AddressDiacritics, z.HouseNumber, z.AddressPartial, z.AddressTypo = 0, 0, 0, 0, 0, 0, 0
	z.KeepPostcode, z.KeepInsurance = 0, 0
	for i := range uint64(500) {
		a, b := Legacy(3, pop, i, o), Legacy(3, pop, i, z)
		if a.FullName != b.FullName || a.DOB != b.DOB || a.OldID != b.OldID || a.Province != b.Province || a.Truth != b.Truth {
			t.Fatalf("record %d: the extras' rates changed the base fields:\n%+v\n%+v", i, a, b)
		}
		if b.Postcode != "" || b.InsuranceNumber != "" {
			t.Fatalf("record %d: %+v with the rates at 0", i, b)
		}
		if b.Truth != "" {
			who := int(newPerm(uint64(pop.Len()), 3, "legacy").Apply(i))
			if want := Residence(3, who).Line; b.Address != want {
				t.Fatalf("record %d: address %q, registered %q", i, b.Address, want)
			}
		}
	}
}
