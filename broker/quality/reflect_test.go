package quality_test

import (
	"strings"
	"testing"
	"time"

	"github.com/lgsp-bus/lgsp/broker/quality"
	"github.com/lgsp-bus/lgsp/broker/store"
	"github.com/lgsp-bus/lgsp/schemas"
)

func catalog(t *testing.T) *schemas.Catalog {
	t.Helper()
	cat, err := schemas.Load()
	if err != nil {
		t.Fatal(err)
	}
	return cat
}

// A change of the register (a new name, a new residence) that the
// ministry's current record still does not carry after ReflectWithin (30
// days by default) becomes one alive finding, counted once, however many
// instances sweep it; a record carrying it in time leaves none.
func TestRegisterChangeNotReflected(t *testing.T) {
	const cccd, taxCode = "001080000888", "8012345679"
	taxpayer := func(name, address string) []byte {
		return []byte(`{"tax_code":"` + taxCode + `","cccd":"` + cccd + `","full_name":"` + name + `","address":"` + address + `"}`)
	}
	const oldHome, newHome = "Số 1 Hàng Bài, Hoàn Kiếm, Hà Nội", "Số 12 Lê Lợi, Quận 1, Thành phố Hồ Chí Minh"
	for _, tc := range []struct {
		name     string
		before   []byte        // the ministry's row before the change
		change   store.Citizen // what the population stream says
		update   []byte        // the ministry's row sent after the change, nil: none
		updateAt time.Duration // when, after the change
		want     string        // the finding's path, "" for none
	}{
		{"name not reflected", taxpayer("Ngô Văn Tư", oldHome), store.Citizen{ID: cccd, FullName: "Ngô Văn Tứ"}, nil, 0, "$.after.full_name"},
		{"name reflected within the period", taxpayer("Ngô Văn Tư", oldHome), store.Citizen{ID: cccd, FullName: "Ngô Văn Tứ"},
			taxpayer("NGÔ  VĂN TỨ", oldHome), 10 * 24 * time.Hour, ""},
		{"name reflected after the period, before the sweep", taxpayer("Ngô Văn Tư", oldHome), store.Citizen{ID: cccd, FullName: "Ngô Văn Tứ"},
			taxpayer("Ngô Văn Tứ", oldHome), 30*24*time.Hour + time.Hour, ""},
		{"residence not reflected", taxpayer("Ngô Văn Tư", oldHome), store.Citizen{ID: cccd, FullName: "Ngô Văn Tư", Residence: newHome},
			nil, 0, "$.after.address"},
		{"residence reflected", taxpayer("Ngô Văn Tư", oldHome), store.Citizen{ID: cccd, FullName: "Ngô Văn Tư", Residence: newHome},
			taxpayer("Ngô Văn Tư", newHome), 29 * 24 * time.Hour, ""},
		{"the ministry had it first", taxpayer("Ngô Văn Tứ", oldHome), store.Citizen{ID: cccd, FullName: "Ngô Văn Tứ"}, nil, 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			ctx := t.Context()
			put := func(row []byte, version int64) {
				t.Helper()
				if err := f.st.ApplyState(ctx, []store.StateRow{{Dataset: "tax.taxpayer", Key: taxCode, CitizenKey: "key-" + cccd, Row: row,
					EventID: "e", Updated: f.now(), Version: version}}, nil); err != nil {
					t.Fatal(err)
				}
			}
			put(tc.before, 1)
			idx := f.q.WatchRegister(f.reg)
			for range 2 { // the change seen twice (a replay): the clock does not restart
				if err := idx.Add(tc.change); err != nil {
					t.Fatal(err)
				}
				runOnce(t, f.q)
				f.advance(time.Hour)
			}
			if tc.update != nil && tc.updateAt <= 29*24*time.Hour {
				f.advance(tc.updateAt - 2*time.Hour)
				put(tc.update, 2)
			}
			// A day short of the period: nothing yet.
			f.advance(29*24*time.Hour - f.now().Sub(now))
			runOnce(t, f.q)
			gdt := quality.Viewer{Name: "gdt", Sources: []string{"tax"}}
			kind := quality.ItemQuery{Kind: quality.KindRegisterChangeNotReflected}
			if items, err := f.q.List(ctx, gdt, kind); err != nil || len(items) != 0 {
				t.Fatalf("a finding before the period ended: %+v %v", items, err)
			}
			// Past the period; a second instance sweeps as well.
			f.advance(2*24*time.Hour + time.Hour)
			if tc.update != nil && tc.updateAt > 30*24*time.Hour {
				put(tc.update, 2)
			}
			other, err := quality.New(quality.Config{Store: f.st, Catalog: catalog(t), CitizenKey: func(n string) string { return "key-" + n }, Now: f.now})
			if err != nil {
				t.Fatal(err)
			}
			for _, q := range []*quality.Quality{f.q, other, f.q} {
				runOnce(t, q)
				if err := q.Flush(ctx); err != nil {
					t.Fatal(err)
				}
			}
			items, err := f.q.List(ctx, gdt, kind)
			if err != nil {
				t.Fatal(err)
			}
			day := f.q.Day(f.now())
			sc, err := f.q.Scorecard(ctx, gdt, quality.Query{FromDay: day, ToDay: day})
			if err != nil {
				t.Fatal(err)
			}
			if due, err := f.st.DueRegisterChanges(ctx, f.now(), 0); err != nil || len(due) != 0 {
				t.Fatalf("register changes left after the sweep: %+v %v", due, err)
			}
			if tc.want == "" {
				if len(items) != 0 || len(sc.Datasets) != 0 {
					t.Fatalf("want no finding: %+v, scorecard %+v", items, sc.Datasets)
				}
				return
			}
			if len(items) != 1 || items[0].Path != tc.want || items[0].EntityKey != taxCode || items[0].Dataset != "tax.taxpayer" ||
				!containsAll(items[0].Reason, "2026-03-02", "2026-04-02", "31 days") {
				t.Fatalf("want one finding at %s: %+v", tc.want, items)
			}
			if len(sc.Datasets) != 1 || sc.Datasets[0].Unreflected != 1 {
				t.Fatalf("the finding counted %+v, want once", sc.Datasets)
			}
		})
	}
}

func containsAll(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}
