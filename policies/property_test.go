package policies

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// TestProjectionProperty generates thousands of random agreements, writes them
// as YAML, loads them through the real loader, and projects random rows with
// every one of them (stream grants and lookup/verify decisions alike). For
// every projection it checks what this package exists to guarantee: no field
// outside the agreement (or outside the request) is ever released, a masked
// field is never released in clear, the filter decides which rows go out, and
// the input row is left untouched.
func TestProjectionProperty(t *testing.T) {
	const agreements = 2000
	const rowsPerAgreement = 4
	rng := rand.New(rand.NewPCG(20250915, 6))
	catalog := catalogFields()
	datasets := sortedKeys(catalog)
	now := day("2026-03-01")

	fsys := fstest.MapFS{}
	generated := make([]Agreement, 0, agreements)
	for i := range agreements {
		ds := datasets[rng.IntN(len(datasets))]
		a := randomAgreement(rng, i, ds, sortedKeys(catalog[ds]))
		text, err := yaml.Marshal(a)
		if err != nil {
			t.Fatal(err)
		}
		fsys[a.ID+".yaml"] = &fstest.MapFile{Data: text}
		generated = append(generated, a)
	}
	set, err := Load(fsys)
	if err != nil {
		t.Fatalf("generated agreements do not load: %v", err)
	}
	e := NewEngine(set)

	grants := map[string]Grant{}
	for _, ds := range datasets {
		for _, g := range e.StreamTargets(ds, now) {
			grants[g.AgreementID] = g
		}
	}

	projections, released := 0, 0
	for _, a := range generated {
		allowed := map[string]bool{}
		for _, f := range a.Fields {
			allowed[f] = true
		}
		for range rowsPerAgreement {
			row := randomRow(rng, sortedKeys(catalog[a.Dataset]), a.Filter)
			snapshot := deepCopy(row)

			var out map[string]any
			var names []string
			var ok bool
			scopeFields := allowed
			if a.Mode == ModeStream {
				g, found := grants[a.ID]
				if !found {
					t.Fatalf("%s: stream agreement in force has no grant", a.ID)
				}
				out, names, ok = g.Project(row)
			} else {
				req := Request{Consumer: a.Consumer, Dataset: a.Dataset, Mode: a.Mode, Purpose: a.Purposes[rng.IntN(len(a.Purposes))],
					CaseReference: "CASE-1", Now: now}
				if rng.IntN(2) == 0 {
					req.Fields = randomSubset(rng, a.Fields)
					scopeFields = map[string]bool{}
					for _, f := range req.Fields {
						scopeFields[f] = true
					}
				}
				d := e.Decide(req)
				if !d.Allow || d.AgreementID != a.ID {
					t.Fatalf("%s: %+v denied: %s", a.ID, req, d.Reason)
				}
				out, names, ok = d.Project(row)
			}
			projections++

			if want := filterHolds(a.Filter, row); ok != want {
				t.Fatalf("%s: filter %v on row %v: ok = %v, want %v", a.ID, a.Filter, row, ok, want)
			}
			if !reflect.DeepEqual(row, snapshot) {
				t.Fatalf("%s: Project modified its input", a.ID)
			}
			if !ok {
				if out != nil || names != nil {
					t.Fatalf("%s: a filtered-out row released %v", a.ID, out)
				}
				continue
			}
			if !slices.Equal(names, sortedKeys(out)) {
				t.Fatalf("%s: released %v, but out has %v", a.ID, names, sortedKeys(out))
			}
			for f, v := range out {
				released++
				if !scopeFields[f] {
					t.Fatalf("%s: released %s, which is outside %v", a.ID, f, sortedKeys(scopeFields))
				}
				in := row[f]
				kind, masked := a.Mask[f]
				if !masked {
					if !reflect.DeepEqual(v, in) {
						t.Fatalf("%s: %s = %#v, want %#v", a.ID, f, v, in)
					}
					continue
				}
				if msg := maskedWell(kind, in, v); msg != "" {
					t.Fatalf("%s: %s masked %s: %#v -> %#v: %s", a.ID, f, kind, in, v, msg)
				}
			}
			for f := range scopeFields {
				if _, present := row[f]; present {
					if _, out := out[f]; !out {
						t.Fatalf("%s: allowed field %s present in the row was not released", a.ID, f)
					}
				}
			}
			// What a consumer does with its copy does not reach the bus's row.
			for _, v := range out {
				if m, isMap := v.(map[string]any); isMap {
					m["injected"] = true
				}
			}
			if !reflect.DeepEqual(row, snapshot) {
				t.Fatalf("%s: the projection shares memory with the row", a.ID)
			}
		}
	}
	if projections < agreements*rowsPerAgreement || released == 0 {
		t.Fatalf("only %d projections, %d fields released", projections, released)
	}
}

// maskedWell says what is wrong with a masked value, or "".
func maskedWell(kind MaskKind, in, out any) string {
	if out == nil {
		return "" // withheld is always safe
	}
	s, isString := out.(string)
	if !isString {
		return "a masked value must be text or null"
	}
	if in == nil {
		return "null became a value"
	}
	switch kind {
	case MaskLast4:
		clear := fmt.Sprint(in)
		n := utf8.RuneCountInString(clear)
		if utf8.RuneCountInString(s) != n {
			return "length changed"
		}
		keep := n - 4
		if n <= 4 {
			keep = n
		}
		for i, r := range []rune(s) {
			if i < keep && r != '*' {
				return "more than the last 4 characters in clear"
			}
		}
		if n > 0 && s == clear {
			return "in clear"
		}
	case MaskYearOnly:
		clear, _ := in.(string)
		if len(s) != 4 || !strings.HasPrefix(clear, s) || len(clear) < 10 || clear[4] != '-' {
			return "not the year of a date"
		}
	case MaskInitials:
		for _, w := range strings.Fields(s) {
			if utf8.RuneCountInString(w) != 2 || !strings.HasSuffix(w, ".") {
				return "a word longer than its initial"
			}
		}
		if clear, _ := in.(string); clear == s && clear != "" {
			return "in clear"
		}
	}
	return ""
}

// filterHolds is the filter's meaning written independently of the engine:
// the field is present, and equal (same kind, same value) to one listed value.
func filterHolds(filter []Condition, row map[string]any) bool {
	for _, c := range filter {
		v, present := row[c.Field]
		if !present {
			return false
		}
		values := c.In
		if values == nil {
			values = []any{c.Equals}
		}
		match := false
		for _, want := range values {
			match = match || kindOf(v) == kindOf(want) && fmt.Sprint(toFloatIfNumber(v)) == fmt.Sprint(toFloatIfNumber(want))
		}
		if !match {
			return false
		}
	}
	return true
}

func kindOf(v any) string {
	switch v.(type) {
	case int, int32, int64, float64:
		return "number"
	case string:
		return "string"
	case bool:
		return "bool"
	}
	return fmt.Sprintf("%T", v)
}

func toFloatIfNumber(v any) any {
	switch n := v.(type) {
	case int:
		return float64(n)
	case int32:
		return float64(n)
	case int64:
		return float64(n)
	}
	return v
}

// filterPool is shared by agreements and rows so that filters match often.
var filterPool = []any{"079", "001", "TE", "M", "ACTIVE", int64(1), 2.5, true, false}

func randomAgreement(rng *rand.Rand, i int, dataset string, fields []string) Agreement {
	modes := []Mode{ModeStream, ModeLookup, ModeVerify}
	kinds := []MaskKind{MaskLast4, MaskYearOnly, MaskInitials}
	a := Agreement{
		ID:         fmt.Sprintf("gen-%05d", i),
		Dataset:    dataset,
		Consumer:   fmt.Sprintf("c%d", i), // one agreement per consumer, so Decide must pick it
		Title:      "generated",
		LegalBasis: "Generated for the property test",
		Purposes:   []string{"purpose_a"},
		Mode:       modes[rng.IntN(len(modes))],
		Fields:     randomSubset(rng, fields),
		ValidFrom:  "2020-01-01",
		ValidUntil: "2030-12-31",
	}
	if rng.IntN(2) == 0 {
		a.Purposes = append(a.Purposes, "purpose_b")
	}
	for _, f := range a.Fields {
		if rng.IntN(5) < 2 {
			if a.Mask == nil {
				a.Mask = map[string]MaskKind{}
			}
			a.Mask[f] = kinds[rng.IntN(len(kinds))]
		}
	}
	if rng.IntN(3) == 0 {
		for range 1 + rng.IntN(2) {
			c := Condition{Field: fields[rng.IntN(len(fields))]}
			if rng.IntN(2) == 0 {
				c.Equals = filterPool[rng.IntN(len(filterPool))]
			} else {
				c.In = []any{filterPool[rng.IntN(len(filterPool))], filterPool[rng.IntN(len(filterPool))]}
			}
			a.Filter = append(a.Filter, c)
		}
	}
	if a.Mode != ModeStream {
		a.CaseReferenceRequired = rng.IntN(2) == 0
	}
	return a
}

func randomSubset(rng *rand.Rand, from []string) []string {
	var out []string
	for _, f := range from {
		if rng.IntN(2) == 0 {
			out = append(out, f)
		}
	}
	if len(out) == 0 {
		out = []string{from[rng.IntN(len(from))]}
	}
	return out
}

var sampleStrings = []string{
	"079203001234", "001188009876", "123456789", "Nguyễn Thị Lan", "Đặng Văn Hùng", "Trần  Bảo   Ngọc",
	"2019-05-17", "1988-03-14T08:00:00+07:00", "17/05/2019", "CS012345", "TE1790000123456", "Lê",
	"Số 12, đường Lý Thường Kiệt, Quận 10", "ab", "a b c", "",
}

// randomRow fills some of the dataset's fields, plus fields no agreement can
// allow, with values of every kind a decoder may produce.
func randomRow(rng *rand.Rand, fields []string, filter []Condition) map[string]any {
	row := map[string]any{}
	value := func() any {
		switch rng.IntN(10) {
		case 0:
			return nil
		case 1:
			return filterPool[rng.IntN(len(filterPool))]
		case 2:
			return rng.Int64N(1e12)
		case 3:
			return int32(rng.IntN(6))
		case 4:
			return rng.Float64() * 1000
		case 5:
			return map[string]any{"nested": sampleStrings[rng.IntN(len(sampleStrings))]}
		case 6:
			return []any{"x", int64(1)}
		}
		return sampleStrings[rng.IntN(len(sampleStrings))]
	}
	for _, f := range fields {
		if rng.IntN(5) > 0 {
			row[f] = value()
		}
	}
	// Make the filter pass about half the time.
	for _, c := range filter {
		if rng.IntN(2) == 0 {
			if c.In != nil {
				row[c.Field] = c.In[rng.IntN(len(c.In))]
			} else {
				row[c.Field] = c.Equals
			}
		}
	}
	for _, extra := range []string{"password", "internal_note", "salary"} {
		if rng.IntN(2) == 0 {
			row[extra] = value()
		}
	}
	return row
}
