package synthetic

import (
	"reflect"
	"testing"
)

func TestLegacy(t *testing.T) {
	pop := NewPop(3, 20_000)
	o := DefaultLegacyOptions()
	seen := map[string]bool{}
	errs := map[string]int{}
	outsiders := 0
	for i := range uint64(5000) {
		r := Legacy(3, pop, i, o)
		if !reflect.DeepEqual(r, Legacy(3, pop, i, o)) {
			t.Fatalf("record %d not deterministic", i)
		}
		if r.PersonalID != "" {
			t.Fatalf("record %d has a number without WithNumber", i)
		}
		for _, e := range r.Errors {
			errs[e]++
		}
		if r.Truth == "" {
			outsiders++
			continue
		}
		if seen[r.Truth] {
			t.Fatalf("record %d repeats citizen %s", i, r.Truth)
		}
		seen[r.Truth] = true
		if !pop.Has(r.Truth) {
			t.Fatalf("record %d: truth %s not in the population", i, r.Truth)
		}
	}
	if outsiders < 150 || outsiders > 350 {
		t.Errorf("%d outsiders of 5000, want ~5%%", outsiders)
	}
	for _, k := range []string{"typo", "diacritics", "reorder", "drop_middle", "swap_date", "digit_date", "no_date", "typo_cmnd"} {
		if errs[k] == 0 {
			t.Errorf("no %s error generated", k)
		}
	}
	o.WithNumber = true
	if r := Legacy(3, pop, 1, o); r.Truth != "" && r.PersonalID != r.Truth {
		t.Errorf("WithNumber: %+v", r)
	}
}
