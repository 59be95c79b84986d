package identity

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/lgsp-bus/lgsp/broker/store"
)

func TestIndexLookup(t *testing.T) {
	cs := benchPopulation(5000)
	idx := NewIndex(0) // start tiny: exercise growth of every table
	for _, c := range cs {
		if err := idx.Add(c); err != nil {
			t.Fatal(err)
		}
	}
	if idx.Len() != len(cs) {
		t.Fatalf("Len = %d, want %d", idx.Len(), len(cs))
	}
	for _, c := range cs {
		got, ok := idx.Lookup(c.ID)
		if !ok || got != c {
			t.Fatalf("Lookup(%s) = %+v, %v; want %+v", c.ID, got, ok, c)
		}
		if c.OldID != "" {
			got, ok := idx.LookupOld(c.OldID)
			if !ok || got != c {
				t.Fatalf("LookupOld(%s) = %+v, %v; want %+v", c.OldID, got, ok, c)
			}
		}
	}
	for _, miss := range []string{"001085999999", "00108501234", "abcdefghijkl", ""} {
		if _, ok := idx.Lookup(miss); ok {
			t.Errorf("Lookup(%q) found someone", miss)
		}
	}
	if _, ok := idx.LookupOld("999999999"); ok {
		t.Errorf("LookupOld found someone")
	}
}

func TestIndexReplace(t *testing.T) {
	idx := NewIndex(4)
	c := store.Citizen{ID: "001085012345", OldID: "012345678", FullName: "Nguyễn Văn Hòa", DOB: "1985-03-14", Sex: "M", BirthProvince: "001"}
	for i := 0; i < 3; i++ { // adding the same citizen again changes nothing
		if err := idx.Add(c); err != nil {
			t.Fatal(err)
		}
	}
	if idx.Len() != 1 {
		t.Fatalf("Len = %d", idx.Len())
	}
	d := c
	d.Deceased = true
	d.OldID = "087654321"
	if err := idx.Add(d); err != nil {
		t.Fatal(err)
	}
	if idx.Len() != 1 {
		t.Fatalf("Len after replace = %d", idx.Len())
	}
	if got, _ := idx.Lookup(c.ID); got != d {
		t.Errorf("Lookup after replace = %+v", got)
	}
	if _, ok := idx.LookupOld("012345678"); ok {
		t.Errorf("the replaced CMND number still resolves")
	}
	if got, ok := idx.LookupOld("087654321"); !ok || got != d {
		t.Errorf("LookupOld new = %+v, %v", got, ok)
	}
	// replacements must not leak slots forever: growth drops dead versions
	for i := 0; i < 10000; i++ {
		d.FullName = fmt.Sprintf("Nguyễn Văn Hòa %d", i)
		if err := idx.Add(d); err != nil {
			t.Fatal(err)
		}
	}
	if got, _ := idx.Lookup(c.ID); got.FullName != "Nguyễn Văn Hòa 9999" || idx.Len() != 1 {
		t.Errorf("after many replacements: %+v, Len %d", got, idx.Len())
	}
	if tab := idx.tab.Load(); len(tab.slots) > 64 {
		t.Errorf("table grew to %d slots for one citizen", len(tab.slots))
	}
}

func TestIndexAddRejects(t *testing.T) {
	good := store.Citizen{ID: "001085012345", FullName: "Nguyễn Văn An", DOB: "1985-03-14", Sex: "M"}
	tests := []struct {
		name   string
		mutate func(*store.Citizen)
		want   []string
	}{
		{"short id", func(c *store.Citizen) { c.ID = "00108501234" }, []string{"12 digits"}},
		{"cmnd", func(c *store.Citizen) { c.OldID = "12345" }, []string{"9 digits"}},
		{"dob", func(c *store.Citizen) { c.DOB = "1985-02-30" }, []string{"date of birth"}},
		{"sex", func(c *store.Citizen) { c.Sex = "X" }, []string{"sex"}},
		{"name", func(c *store.Citizen) { c.FullName = strings.Repeat("a", 256) }, []string{"name"}},
		{"all at once", func(c *store.Citizen) { c.ID, c.DOB, c.Sex = "x", "", "" }, []string{"12 digits", "date of birth", "sex"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := good
			tc.mutate(&c)
			err := NewIndex(1).Add(c)
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "001085012345") {
				t.Errorf("error leaks the personal number: %v", err)
			}
		})
	}
	if err := NewIndex(1).Add(good); err != nil {
		t.Fatal(err)
	}
}

// TestIndexConcurrentReadsDuringAdd runs readers against a writer that keeps
// growing and replacing; run with -race.
func TestIndexConcurrentReadsDuringAdd(t *testing.T) {
	cs := benchPopulation(20000)
	idx := mustIndex(cs[:1000])
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for r := 0; r < 4; r++ {
		wg.Add(1)
		go func(r int) {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				c := cs[(i*7+r)%1000] // always present
				if res := Reconcile(idx, Claim{ID: c.ID, Name: c.FullName, DOB: c.DOB, Sex: c.Sex}); res.Outcome != Verified && res.Outcome != Deceased {
					t.Errorf("reader saw %+v for a present citizen", res)
					return
				}
			}
		}(r)
	}
	for _, c := range cs[1000:] {
		if err := idx.Add(c); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range cs[:1000] { // replace with identical demographics
		c.OldID = ""
		if err := idx.Add(c); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	if idx.Len() != len(cs) {
		t.Errorf("Len = %d", idx.Len())
	}
}

func TestIndexCMNDChurnDoesNotGrow(t *testing.T) {
	idx := NewIndex(4)
	c := store.Citizen{ID: "001085012345", FullName: "Nguyễn Văn An", DOB: "1985-03-14", Sex: "M"}
	for i := 0; i < 10000; i++ {
		c.OldID = fmt.Sprintf("%09d", i)
		if err := idx.Add(c); err != nil {
			t.Fatal(err)
		}
	}
	if got, ok := idx.LookupOld("000009999"); !ok || got.ID != c.ID {
		t.Errorf("LookupOld of the last CMND = %+v, %v", got, ok)
	}
	if _, ok := idx.LookupOld("000009998"); ok {
		t.Errorf("a replaced CMND still resolves")
	}
	if tab := idx.tab.Load(); len(tab.olds) > 64 || len(tab.slots) > 64 {
		t.Errorf("tables grew to %d/%d for one citizen", len(tab.slots), len(tab.olds))
	}
}
