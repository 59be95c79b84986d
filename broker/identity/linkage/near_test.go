package linkage

import (
	"strings"
	"testing"
)

// The within_days window is a setting: a date 20 days off is within_days
// under a 30-day window and only same_year under the default 7.
func TestDateWithinDays(t *testing.T) {
	for _, c := range []struct {
		a, b string
		near int
		want int
	}{
		{"1990-01-01", "1990-01-08", 7, dobNear},
		{"1990-01-01", "1990-01-23", 7, dobSameYear},
		{"1990-01-01", "1990-01-23", 30, dobNear},
		{"1989-12-20", "1990-01-10", 30, dobNear}, // across a year: 21 days
		{"1989-12-20", "1990-01-10", 7, dobDifferent},
		{"1990-01-01", "1990-01-01", 30, dobExact},
		{"1990-01-02", "1990-02-01", 365, dobSwapped}, // swapped is still swapped
	} {
		var a, b side
		a.setDOB(c.a)
		b.setDOB(c.b)
		if got := dobLevelNear(&a, &b, c.near); got != c.want {
			t.Errorf("%s / %s within %d: %s, want %s", c.a, c.b, c.near, levelNames[CompDOB][got], levelNames[CompDOB][c.want])
		}
	}
	if _, err := ParseMapping(strings.NewReader(`{"full_name":"n","date_within_days":-1}`)); err == nil || !strings.Contains(err.Error(), "date_within_days") {
		t.Errorf("negative date_within_days: %v", err)
	}
	if _, err := ParseMapping(strings.NewReader(`{"full_name":"n","date_within_days":30}`)); err != nil {
		t.Error(err)
	}
}

// A linker trained with a window keeps it in its model, and a linker made
// from that model (read back from a report) compares with it.
func TestDateWithinDaysInModel(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 200,000-citizen population")
	}
	pop, view := testPopulation(t)
	train, _ := legacy(view, 0, 1000, DefaultLegacyNoNumber())
	cfg := DefaultConfig()
	cfg.DateNearDays = 30
	l, err := TrainWith(pop, train, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if l.Model().DateNearDays != 30 {
		t.Fatalf("model's window %d, want 30", l.Model().DateNearDays)
	}
	again, err := NewLinker(pop, l.Model(), DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	c := view.At(5)
	y, m := c.DOB[:4], c.DOB[5:7]
	off := y + "-" + m + "-28"
	if c.DOB[8:] >= "10" {
		off = y + "-" + m + "-01"
	}
	for _, lk := range []*Linker{l, again} {
		_, ex := lk.Compare(Record{Name: c.FullName, DOB: off, Sex: c.Sex}, c)
		for _, f := range ex.Fields {
			if f.Field == "dob" && f.Level != "within_days" {
				t.Errorf("%s against %s under a 30-day window: %s", off, c.DOB, f.Level)
			}
		}
	}
	cfg.DateNearDays = MaxDateNearDays + 1
	if _, err := TrainWith(pop, train, cfg, nil); err == nil {
		t.Error("a window over a year was taken")
	}
}
