package synthetic

import (
	"fmt"
	"reflect"
	"slices"
	"testing"

	"github.com/hamba/avro/v2"
	"github.com/xeipuuv/gojsonschema"

	"github.com/lgsp-bus/lgsp/broker/identity"
	"github.com/lgsp-bus/lgsp/connectors"
	"github.com/lgsp-bus/lgsp/schemas"
)

const (
	testSeed = 11
	testPopN = 50_000
	testRecs = 10_000
)

// validator checks a row against its dataset's schema.
type validator func(row map[string]any) error

func validators(t testing.TB) map[string]validator {
	t.Helper()
	cat := schemas.MustLoad()
	out := map[string]validator{}
	for _, d := range cat.Datasets() {
		switch d.Format {
		case schemas.FormatJSON:
			s, err := gojsonschema.NewSchema(gojsonschema.NewStringLoader(d.Schema))
			if err != nil {
				t.Fatalf("%s: %v", d.Name, err)
			}
			out[d.Name] = func(row map[string]any) error {
				res, err := s.Validate(gojsonschema.NewGoLoader(row))
				if err != nil {
					return err
				}
				if !res.Valid() {
					return fmt.Errorf("%v", res.Errors())
				}
				return nil
			}
		case schemas.FormatAvro:
			s, err := avro.Parse(d.Schema)
			if err != nil {
				t.Fatalf("%s: %v", d.Name, err)
			}
			rec := s.(*avro.RecordSchema)
			out[d.Name] = func(row map[string]any) error {
				// hamba encodes a generic map's union value only when told
				// the branch: {"string": v}
				wrapped := make(map[string]any, len(row))
				for k, v := range row {
					wrapped[k] = v
				}
				for _, f := range rec.Fields() {
					if u, ok := f.Type().(*avro.UnionSchema); ok {
						if v, ok := row[f.Name()]; ok && v != nil {
							for _, branch := range u.Types() {
								if branch.Type() != avro.Null {
									wrapped[f.Name()] = map[string]any{string(branch.Type()): v}
								}
							}
						}
					}
				}
				_, err := avro.Marshal(s, wrapped)
				return err
			}
		}
	}
	return out
}

// Every dataset of the catalog but the register's own has a stream, owned
// by the right ministry, with the catalog's identity fields.
func TestDatasetsMatchCatalog(t *testing.T) {
	cat := schemas.MustLoad()
	streamed := map[string]bool{}
	for _, src := range Sources {
		for _, g := range lanes(src) {
			if streamed[g.dataset] {
				t.Errorf("%s: dataset %s streamed twice", src, g.dataset)
			}
			streamed[g.dataset] = true
			d, ok := cat.Dataset(g.dataset)
			if !ok {
				t.Errorf("%s: dataset %s not in the catalog", src, g.dataset)
				continue
			}
			if d.Owner != src {
				t.Errorf("%s: dataset %s is owned by %s", src, d.Name, d.Owner)
			}
			want := schemas.Identity{ID: g.id, Name: g.name, DOB: g.dob, Sex: g.sex}
			if d.Identity != want {
				t.Errorf("%s: identity fields %+v, catalog says %+v", g.dataset, want, d.Identity)
			}
		}
		if got := Datasets(src); len(got) != len(lanes(src)) || got[0] != generators[src].dataset {
			t.Errorf("%s: Datasets %v", src, got)
		}
	}
	for _, d := range cat.Datasets() {
		if !streamed[d.Name] && d.Name != PopulationDataset {
			t.Errorf("catalog dataset %s has no synthetic stream", d.Name)
		}
	}
	if len(generators) != len(Sources) {
		t.Errorf("%d generators for %d sources", len(generators), len(Sources))
	}
}

func TestStreamDeterministic(t *testing.T) {
	pop := NewPop(testSeed, testPopN)
	for _, src := range Sources {
		for i := uint64(0); i < 1500; i += 7 {
			d1, op1, row1, bad1 := Stream(testSeed, src, pop, i)
			d2, op2, row2, bad2 := Stream(testSeed, src, NewPop(testSeed, testPopN), i)
			if d1 != d2 || op1 != op2 || bad1 != bad2 || !reflect.DeepEqual(row1, row2) {
				t.Fatalf("%s record %d differs between runs", src, i)
			}
		}
		_, _, a, _ := Stream(testSeed, src, pop, 3)
		_, _, b, _ := Stream(testSeed+1, src, NewPop(testSeed+1, testPopN), 3)
		if reflect.DeepEqual(a, b) {
			t.Errorf("%s: seeds %d and %d give the same record", src, testSeed, testSeed+1)
		}
	}
	if _, _, row, _ := Stream(testSeed, "weather", pop, 0); row != nil {
		t.Errorf("unknown source gave a row")
	}
}

// TestStreamRows checks, over 10,000 records of every source, that good
// rows validate against their schema and reconcile, that each bad kind is
// caught where it should be, the bad-record rate, and the op/key shape.
func TestStreamRows(t *testing.T) {
	pop := NewPop(testSeed, testPopN)
	idx := identity.NewIndex(testPopN)
	for _, c := range Population(testSeed, testPopN) {
		if err := idx.Add(c); err != nil {
			t.Fatal(err)
		}
	}
	valid := validators(t)
	cat := schemas.MustLoad()
	for _, src := range Sources {
		ls := lanes(src)
		for l, g := range ls {
			t.Run(g.dataset, func(t *testing.T) {
				checkLane(t, src, l, len(ls), g, pop, idx, valid, cat)
			})
		}
	}
}

// checkLane checks testRecs records of lane l of a source's stream.
func checkLane(t *testing.T, src string, l, nLanes int, g *generator, pop *Pop, idx *identity.Index, valid map[string]validator, cat *schemas.Catalog) {
	ds, _ := cat.Dataset(g.dataset)
	ops := map[connectors.Op]int{}
	kinds := map[BadKind]int{}
	created, deleted := map[string]bool{}, map[string]bool{}
	outcomes := map[string]int{}
	retoned, proposed := 0, 0
	for k := uint64(0); k < testRecs; k++ {
		i := k*uint64(nLanes) + uint64(l)
		dataset, op, row, bad := Stream(testSeed, src, pop, i)
		if dataset != g.dataset {
			t.Fatalf("record %d: dataset %q", i, dataset)
		}
		ops[op]++
		kinds[bad]++
		key := fmt.Sprint(row[ds.Key[0]])
		switch op {
		case connectors.OpCreate:
			if created[key] {
				t.Fatalf("record %d creates key %s again", i, key)
			}
			created[key] = true
		case connectors.OpUpdate, connectors.OpDelete:
			if !created[key] || deleted[key] {
				t.Fatalf("record %d: %s of key %s (created %v, deleted %v)", i, op, key, created[key], deleted[key])
			}
			if op == connectors.OpDelete {
				deleted[key] = true
				if bad != Good {
					t.Fatalf("record %d: a bad delete", i)
				}
			}
		default:
			t.Fatalf("record %d: op %q", i, op)
		}

		err := valid[dataset](row)
		if bad.Schema() {
			if err == nil {
				t.Errorf("record %d (%s) passes schema validation: %v", i, bad, row)
			}
			continue
		}
		if err != nil {
			t.Fatalf("record %d (%q) fails its schema: %v\n%v", i, bad, err, row)
		}
		if g.id == "" {
			continue // names no person
		}

		claim := identity.Claim{ID: row[g.id].(string), Name: row[g.name].(string), DOB: row[g.dob].(string)}
		if g.sex != "" {
			claim.Sex = row[g.sex].(string)
		}
		res := identity.Reconcile(idx, claim)
		outcomes[string(bad)+"→"+string(res.Outcome)]++
		if !expected(bad, res) {
			t.Errorf("record %d (%q) reconciles as %+v; claim %+v", i, bad, res, claim)
		}
		if g == deathGen && bad == Good && res.Outcome != identity.Deceased {
			t.Errorf("record %d: death of a citizen the register has alive: %+v", i, res)
		}
		if res.Proposed != "" {
			// a proposal is the holder: one digit away, same name
			c, ok := idx.Lookup(res.Proposed)
			if !ok {
				c, ok = idx.LookupOld(res.Proposed)
			}
			if !ok || hamming(res.Proposed, claim.ID) != 1 || identity.Normalize(c.FullName) != identity.Normalize(claim.Name) {
				t.Errorf("record %d: proposal %s for %+v is not the holder", i, res.Proposed, claim)
			}
			proposed++
		}
		if bad == Good && op != connectors.OpDelete {
			if c, ok := idx.Lookup(claim.ID); ok && c.FullName != claim.Name {
				retoned++ // same name, other tone placement
			}
		}
	}
	badN := testRecs - kinds[Good]
	if rate := float64(badN) / testRecs; rate < 0.02 || rate > 0.06 {
		t.Errorf("bad-record rate %.3f, want 0.02-0.06", rate)
	}
	want := BadKinds
	if g.id == "" {
		want = BadKinds[:3]
	}
	for _, k := range want {
		if kinds[k] == 0 {
			t.Errorf("no %s record in %d", k, testRecs)
		}
	}
	if ops[connectors.OpCreate] < testRecs*7/10 || ops[connectors.OpUpdate] < testRecs/20 || ops[connectors.OpDelete] < testRecs/200 {
		t.Errorf("op mix %v", ops)
	}
	if g.id != "" && retoned == 0 {
		t.Errorf("no good record used the other tone placement")
	}
	if g.id != "" && proposed == 0 {
		t.Errorf("no mistyped number got a proposed correction")
	}
	t.Logf("ops %v; kinds %v; outcomes %v; other tone placement %d; proposals %d", ops, kinds, outcomes, retoned, proposed)
}

// expected says which reconciliation outcomes a record of a bad kind (or a
// good one) may have.
func expected(bad BadKind, r identity.Result) bool {
	fields := func(field string, kinds ...string) bool {
		for _, f := range r.Fields {
			if f.Field == field && slices.Contains(kinds, f.Kind) {
				return true
			}
		}
		return false
	}
	switch bad {
	case Good:
		return (r.Outcome == identity.Verified) || (r.Outcome == identity.Deceased && len(r.Fields) == 0)
	case BadUnknownID:
		return r.Outcome == identity.NotFound && r.Proposed == ""
	case BadMistypedID:
		// a changed province, century or year digit makes the number
		// invalid; a changed serial digit makes it unknown (and usually
		// proposable)
		return r.Outcome == identity.InvalidID || r.Outcome == identity.NotFound
	case BadMisspelledName:
		return (r.Outcome == identity.Mismatch || r.Outcome == identity.Deceased) && fields("name", "diacritics", "spelling", "different")
	case BadSwappedDOB:
		return (r.Outcome == identity.Mismatch || r.Outcome == identity.Deceased) && fields("dob", "day_month_swapped")
	}
	return false
}

func TestStreamKeysRepeat(t *testing.T) {
	pop := NewPop(testSeed, testPopN)
	seen := map[string]int{}
	for i := uint64(0); i < 3000; i++ {
		_, _, row, _ := Stream(testSeed, "tax", pop, i)
		seen[row["tax_code"].(string)]++
	}
	repeated := 0
	for _, n := range seen {
		if n > 1 {
			repeated++
		}
	}
	if repeated < 100 {
		t.Errorf("only %d keys repeat in 3000 records", repeated)
	}
}

func TestMisspell(t *testing.T) {
	for i := uint64(0); i < 200; i++ {
		r := newRNG(1, i)
		name := "Nguyễn Thị Thu Thủy"
		got := misspell(name, r)
		if got == name || identity.Normalize(got) == identity.Normalize(name) {
			t.Fatalf("misspell(%q) = %q: not a different spelling", name, got)
		}
	}
	if got := stripDiacritics("Đặng Thùy Trâm"); got != "Dang Thuy Tram" {
		t.Errorf("stripDiacritics = %q", got)
	}
	if got, ok := retone("Trần Thị Thủy"); !ok || got != "Trần Thị Thuỷ" || identity.Normalize(got) != identity.Normalize("Trần Thị Thủy") {
		t.Errorf("retone = %q, %v", got, ok)
	}
	if _, ok := retone("Lê Văn An"); ok {
		t.Errorf("retone changed a name without variants")
	}
}

func BenchmarkStream(b *testing.B) {
	pop := NewPop(1, 100_000)
	for _, src := range Sources {
		b.Run(src, func(b *testing.B) {
			b.ReportAllocs()
			i := uint64(0)
			for b.Loop() {
				Stream(1, src, pop, i)
				i++
			}
		})
	}
}
