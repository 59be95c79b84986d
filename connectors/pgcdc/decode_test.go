package pgcdc

import (
	"reflect"
	"strings"
	"testing"

	"github.com/lgsp-bus/lgsp/connectors"
)

// FuzzRowPlan: decoding a row through its plan gives exactly what
// ColumnMapping.Apply gives for the row by column name, whatever the
// columns, the mapping (renames, dropped columns, a value table, set
// fields) and which columns are null.
func FuzzRowPlan(f *testing.F) {
	f.Add("so_giay_chung_nhan,ma_tinh,dien_tich", "so_giay_chung_nhan=certificate_no,ma_tinh=province_code", "", "", uint8(0))
	f.Add("id,version,note", "", "", "", uint8(4))
	f.Add("id,c,s", "id=key,c=province,missing=gone", "province:HN=01", "source=pg", uint8(1))
	f.Add("a,b", "a=x,b=x", "", "", uint8(3))
	f.Fuzz(func(t *testing.T, cols, columns, values, set string, nulls uint8) {
		names := strings.Split(cols, ",")
		seen := map[string]bool{}
		for _, n := range names {
			if seen[n] {
				return // a result never has two columns of one name
			}
			seen[n] = true
		}
		m := connectors.ColumnMapping{Dataset: "test.item"}
		for _, kv := range strings.Split(columns, ",") {
			if c, fld, ok := strings.Cut(kv, "="); ok && fld != "" {
				if m.Columns == nil {
					m.Columns = map[string]string{}
				}
				m.Columns[c] = fld
			}
		}
		if len(m.Check("m")) > 0 {
			return // the config check refuses it
		}
		if field, kv, ok := strings.Cut(values, ":"); ok {
			from, to, _ := strings.Cut(kv, "=")
			m.Values = map[string]map[string]any{field: {from: to}}
		}
		if k, v, ok := strings.Cut(set, "="); ok {
			m.Set = map[string]any{k: v}
		}
		row := map[string]any{}
		plan := newRowPlan(m, names)
		planned := plan.newRow()
		for i, n := range names {
			var v any = "HN"
			if i < 8 && nulls&(1<<i) != 0 {
				v = nil
			}
			row[n] = v
			if plan.wants(i) {
				plan.set(planned, i, v)
			}
		}
		got, want := plan.record(m, planned), m.Apply(row)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("columns %q, mapping %+v: plan gives %v, Apply %v", names, m, got, want)
		}
	})
}
