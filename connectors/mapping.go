package connectors

import (
	"fmt"
	"maps"
	"sort"
)

// ColumnMapping maps the rows of one source table or file onto the rows of a
// shared dataset. Adapters embed it in their config so that every adapter
// maps columns the same way.
type ColumnMapping struct {
	// Dataset is the shared dataset the rows belong to.
	Dataset string `yaml:"dataset" json:"dataset" required:"true" doc:"shared dataset of the rows, <domain>.<name> as in schemas/catalog.yaml, e.g. land.land_use_right"`
	// Columns maps source column → dataset field.
	Columns map[string]string `yaml:"columns" json:"columns" doc:"source column → dataset field; columns not listed are dropped; empty keeps every column under its own name"`
	// Set adds constant fields to every row.
	Set map[string]any `yaml:"set" json:"set" doc:"constant fields added to every row (e.g. province_code: \"001\")"`
	// Values recodes values: dataset field → source value → dataset value.
	Values map[string]map[string]any `yaml:"values" json:"values" doc:"recode values of a dataset field, e.g. sex: {Nam: M, Nữ: F}; the source value is matched as text"`
}

// Apply maps one source row. A mapped column that is missing from the row
// is left out (the schema check then reports it, with the row's key).
func (m ColumnMapping) Apply(row map[string]any) map[string]any {
	if row == nil {
		return nil
	}
	var out map[string]any
	if len(m.Columns) == 0 {
		out = maps.Clone(row)
	} else {
		out = make(map[string]any, len(m.Columns)+len(m.Set))
		for col, field := range m.Columns {
			if v, ok := row[col]; ok {
				out[field] = v
			}
		}
	}
	for field, table := range m.Values {
		if v, ok := out[field]; ok && v != nil {
			if nv, ok := table[fmt.Sprint(v)]; ok {
				out[field] = nv
			}
		}
	}
	for k, v := range m.Set {
		out[k] = v
	}
	return out
}

// Check reports the mapping's problems the tags cannot say (two columns
// mapped onto one field), each prefixed with path; dataset: required is a
// tag, checked by the config decoder.
func (m ColumnMapping) Check(path string) []error {
	var errs []error
	seen := map[string]string{}
	cols := make([]string, 0, len(m.Columns))
	for c := range m.Columns {
		cols = append(cols, c)
	}
	sort.Strings(cols)
	for _, c := range cols {
		f := m.Columns[c]
		if f == "" {
			errs = append(errs, fmt.Errorf("%s.columns.%s: empty field name", path, c))
			continue
		}
		if other, dup := seen[f]; dup {
			errs = append(errs, fmt.Errorf("%s.columns: %s and %s both map to field %s", path, other, c, f))
		}
		seen[f] = c
	}
	return errs
}
