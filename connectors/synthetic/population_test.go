package synthetic

import (
	"reflect"
	"strings"
	"testing"

	"github.com/lgsp-bus/lgsp/connectors/cccd"
	"github.com/lgsp-bus/lgsp/connectors/contract"
)

func TestPopulationDeterministic(t *testing.T) {
	a, b := Population(7, 2000), Population(7, 2000)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("same seed, different population")
	}
	for _, i := range []int{0, 17, 1999} {
		if Citizen(7, i) != a[i] {
			t.Errorf("Citizen(7, %d) differs from Population's", i)
		}
	}
	c := Population(8, 2000)
	same := 0
	for i := range a {
		if a[i] == c[i] {
			same++
		}
	}
	if same > 0 {
		t.Errorf("seeds 7 and 8 share %d citizens", same)
	}
}

// checkCitizens verifies uniqueness and internal consistency.
func checkCitizens(t *testing.T, cs []contract.Citizen) {
	t.Helper()
	ids, olds := map[string]bool{}, map[string]bool{}
	for _, c := range cs {
		if ids[c.ID] {
			t.Fatalf("personal number %s twice", c.ID)
		}
		ids[c.ID] = true
		n, err := cccd.Parse(c.ID)
		if err != nil {
			t.Fatalf("%s: %v", c.ID, err)
		}
		if d := n.Consistent(c.DOB, c.Sex); d != nil {
			t.Fatalf("%+v: number disagrees on %v", c, d)
		}
		if n.Province != c.BirthProvince {
			t.Fatalf("%+v: birth province is not the number's", c)
		}
		if c.OldID != "" {
			if !cccd.IsOldCMND(c.OldID) || olds[c.OldID] {
				t.Fatalf("bad or repeated CMND %q", c.OldID)
			}
			olds[c.OldID] = true
		}
		if c.DOB < "1930-01-01" || c.DOB > "2025-06-30" {
			t.Fatalf("date of birth %s out of range", c.DOB)
		}
		if len(strings.Fields(c.FullName)) < 3 {
			t.Fatalf("name %q has no middle name", c.FullName)
		}
	}
}

func TestPopulationUniqueAndConsistent(t *testing.T) {
	cs := Population(1, 100_000)
	checkCitizens(t, cs)

	// shape of the population, loosely
	var old, dead, nguyen, van, thi int
	for _, c := range cs {
		if c.OldID != "" {
			old++
		}
		if c.Deceased {
			dead++
		}
		words := strings.Fields(c.FullName)
		if words[0] == "Nguyễn" {
			nguyen++
		}
		switch words[1] {
		case "Văn":
			van++
			if c.Sex != "M" {
				t.Errorf("%q is a man's name", c.FullName)
			}
		case "Thị":
			thi++
			if c.Sex != "F" {
				t.Errorf("%q is a woman's name", c.FullName)
			}
		}
	}
	n := float64(len(cs))
	for _, tc := range []struct {
		what   string
		got    int
		lo, hi float64
	}{
		{"with a CMND", old, 0.25, 0.35},
		{"deceased", dead, 0.003, 0.008},
		{"named Nguyễn", nguyen, 0.34, 0.42},
		{"with middle name Văn", van, 0.15, 0.40},
		{"with middle name Thị", thi, 0.15, 0.40},
	} {
		if r := float64(tc.got) / n; r < tc.lo || r > tc.hi {
			t.Errorf("%.3f %s, want %.3f-%.3f", r, tc.what, tc.lo, tc.hi)
		}
	}
}

// TestPopulationUniqueAcrossBlocks covers citizens sharing a serial (i and
// i + 1,000,000), who must get different prefixes.
func TestPopulationUniqueAcrossBlocks(t *testing.T) {
	var cs []contract.Citizen
	for _, base := range []int{0, serialSpace, 2 * serialSpace, (MaxPopulation/serialSpace - 1) * serialSpace} {
		for i := 0; i < 3000; i++ {
			cs = append(cs, Citizen(3, base+i))
		}
	}
	checkCitizens(t, cs)
}

func TestPopHas(t *testing.T) {
	const n = 20_000
	pop := NewPop(5, n)
	cs := Population(5, n)
	ids := map[string]bool{}
	for _, c := range cs {
		ids[c.ID] = true
		if c.OldID != "" {
			ids[c.OldID] = true
		}
	}
	for _, c := range cs[:2000] {
		if !pop.Has(c.ID) {
			t.Fatalf("Has(%s) false for a citizen", c.ID)
		}
		if c.OldID != "" && !pop.Has(c.OldID) {
			t.Fatalf("Has(%s) false for a citizen's CMND", c.OldID)
		}
	}
	// near misses: every single-digit variant of some numbers
	for _, c := range cs[:200] {
		for _, id := range []string{c.ID, c.OldID} {
			for p := 0; p < len(id); p++ {
				b := []byte(id)
				for d := byte('0'); d <= '9'; d++ {
					b[p] = d
					if got := pop.Has(string(b)); got != ids[string(b)] {
						t.Fatalf("Has(%s) = %v, want %v", b, got, !got)
					}
				}
			}
		}
	}
	// citizens beyond n are not in the population
	if c := Citizen(5, n); pop.Has(c.ID) {
		t.Errorf("citizen %d is outside the population", n)
	}
}

func TestProvinceWeights(t *testing.T) {
	for _, p := range cccd.Provinces() {
		if provincePop[p.Code] <= 0 {
			t.Errorf("no population weight for %s %s", p.Code, p.Name)
		}
	}
	if len(provincePop) != len(cccd.Provinces()) {
		t.Errorf("weights for %d provinces, the table has %d", len(provincePop), len(cccd.Provinces()))
	}
}

func TestPermIsBijective(t *testing.T) {
	for _, n := range []uint64{1, 7, 1000, 65536, 100_003} {
		p := newPerm(n, 42, "test")
		seen := make([]bool, n)
		for x := uint64(0); x < n; x++ {
			y := p.Apply(x)
			if y >= n || seen[y] {
				t.Fatalf("n=%d: %d -> %d out of range or repeated", n, x, y)
			}
			seen[y] = true
			if p.Invert(y) != x {
				t.Fatalf("n=%d: Invert(Apply(%d)) = %d", n, x, p.Invert(y))
			}
		}
	}
}

func BenchmarkCitizen(b *testing.B) {
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		Citizen(1, i)
		i++
	}
}
