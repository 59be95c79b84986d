// Package storetest is the contract suite of store.Store: every backend's
// tests call Run, so the embedded SQLite store of `lgsp dev` and the
// PostgreSQL store of `lgsp serve` are held to one behaviour. It also holds
// the shared benchmark bodies, so both backends are measured the same way.
//
// The suite uses only synthetic data: the personal numbers it makes up are
// not real people's.
package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lgsp-bus/lgsp/broker/store"
)

// Run runs the contract suite. open must return a new, empty store each time
// it is called and close it (and drop whatever backs it) in t.Cleanup.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"Ping", testPing},
		{"PutSchemaDedupe", testPutSchemaDedupe},
		{"SchemaByIDNotFound", testSchemaByIDNotFound},
		{"AddVersion", testAddVersion},
		{"VersionsAscending", testVersionsAscending},
		{"Subjects", testSubjects},
		{"Positions", testPositions},
		{"AuditEmpty", testAuditEmpty},
		{"AuditRoundTrip", testAuditRoundTrip},
		{"AuditAtomic", testAuditAtomic},
		{"AuditStaged", testAuditStaged},
		{"AuditFirstSeq", testAuditFirstSeq},
		{"ListAuditFilters", testListAuditFilters},
		{"ListAuditPaging", testListAuditPaging},
		{"AuditPrune", testAuditPrune},
		{"AuditHiddenUntil", testAuditHiddenUntil},
		{"PutCitizensUpsert", testPutCitizensUpsert},
		{"PutCitizensRejectsEmptyID", testPutCitizensRejectsEmptyID},
		{"ScanCitizensOrder", testScanCitizensOrder},
		{"ScanCitizensStops", testScanCitizensStops},
		{"ConcurrentPositions", testConcurrentPositions},
		{"ConcurrentSchemas", testConcurrentSchemas},
		{"ConcurrentAudit", testConcurrentAudit},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, open(t))
		})
	}
	runRegistry(t, open)
	runRegister(t, open)
}

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func testPing(t *testing.T, s store.Store) {
	if err := s.Ping(ctxFor(t)); err != nil {
		t.Fatalf("Ping: %v", err)
	}
}

// ---- schemas --------------------------------------------------------------

func testPutSchemaDedupe(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	avro := `{"type":"record","name":"Person","fields":[{"name":"id","type":"string"}]}`
	// Larger than a PostgreSQL b-tree entry may be (about 2.7 kB), so a
	// backend that indexes the raw text fails here.
	big := `{"type":"record","name":"Big","doc":"` + strings.Repeat("dữ liệu dân cư ", 8000) + `"}`
	steps := []struct {
		typ, text   string
		wantCreated bool
		sameAs      int // index of an earlier step with the same id; -1 for a new id
	}{
		{"AVRO", avro, true, -1},
		{"AVRO", avro, false, 0},
		{"JSON", avro, true, -1},       // same text, other type: another schema
		{"AVRO", avro + " ", true, -1}, // exact text: whitespace counts
		{"AVRO", strings.ToUpper(avro), true, -1},
		{"JSON", avro, false, 2},
		{"AVRO", big, true, -1},
		{"AVRO", big, false, 6},
		{"AVRO", big[:len(big)-2] + "x\"}", true, -1}, // same prefix, differs at the end
		{"PROTOBUF", `syntax = "proto3"; message Hồ_sơ { string họ_tên = 1; }`, true, -1},
	}
	ids := make([]int, len(steps))
	seen := map[int]int{}
	for i, st := range steps {
		id, created, err := s.PutSchema(ctx, st.typ, st.text)
		if err != nil {
			t.Fatalf("step %d: PutSchema: %v", i, err)
		}
		ids[i] = id
		if created != st.wantCreated {
			t.Errorf("step %d: created = %v, want %v", i, created, st.wantCreated)
		}
		if id <= 0 {
			t.Errorf("step %d: id = %d, want > 0", i, id)
		}
		if st.sameAs >= 0 {
			if id != ids[st.sameAs] {
				t.Errorf("step %d: id = %d, want %d (same as step %d)", i, id, ids[st.sameAs], st.sameAs)
			}
			continue
		}
		if j, dup := seen[id]; dup {
			t.Errorf("step %d: id %d was already given to step %d", i, id, j)
		}
		seen[id] = i
	}
	for i, st := range steps {
		got, err := s.SchemaByID(ctx, ids[i])
		if err != nil {
			t.Fatalf("step %d: SchemaByID(%d): %v", i, ids[i], err)
		}
		if got.ID != ids[i] || got.Type != st.typ || got.Text != st.text {
			t.Errorf("step %d: SchemaByID(%d) = {%d %q %d bytes}, want {%d %q %d bytes}",
				i, ids[i], got.ID, got.Type, len(got.Text), ids[i], st.typ, len(st.text))
		}
	}
}

func testSchemaByIDNotFound(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	id, _, err := s.PutSchema(ctx, "AVRO", `"string"`)
	if err != nil {
		t.Fatalf("PutSchema: %v", err)
	}
	for _, unknown := range []int{0, -1, id + 1, 1 << 30} {
		if _, err := s.SchemaByID(ctx, unknown); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("SchemaByID(%d) error = %v, want ErrNotFound", unknown, err)
		}
	}
}

func putSchema(t *testing.T, s store.Store, text string) int {
	t.Helper()
	id, _, err := s.PutSchema(ctxFor(t), "AVRO", text)
	if err != nil {
		t.Fatalf("PutSchema(%q): %v", text, err)
	}
	return id
}

func testAddVersion(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	a := putSchema(t, s, `"string"`)
	b := putSchema(t, s, `"long"`)
	steps := []struct {
		subject  string
		schemaID int
		want     int // version
	}{
		{"land.parcel-value", a, 1},
		{"land.parcel-value", a, 1}, // idempotent: nothing written
		{"land.parcel-value", b, 2},
		{"land.parcel-value", a, 1},
		{"tax.payer-value", a, 1}, // the same schema id under another subject
		{"tax.payer-value", b, 2},
		{"land.parcel-value", b, 2},
	}
	for i, st := range steps {
		got, err := s.AddVersion(ctx, st.subject, st.schemaID)
		if err != nil {
			t.Fatalf("step %d: AddVersion(%q, %d): %v", i, st.subject, st.schemaID, err)
		}
		want := store.SubjectVersion{Subject: st.subject, Version: st.want, SchemaID: st.schemaID}
		if got != want {
			t.Errorf("step %d: AddVersion = %+v, want %+v", i, got, want)
		}
	}
	for _, subject := range []string{"land.parcel-value", "tax.payer-value"} {
		want := []store.SubjectVersion{
			{Subject: subject, Version: 1, SchemaID: a},
			{Subject: subject, Version: 2, SchemaID: b},
		}
		for _, del := range []bool{false, true} {
			got, err := s.Versions(ctx, subject, del)
			if err != nil {
				t.Fatalf("Versions(%q, %v): %v", subject, del, err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("Versions(%q, %v) = %+v, want %+v", subject, del, got, want)
			}
		}
	}
	got, err := s.Versions(ctx, "no.such-value", true)
	if err != nil || len(got) != 0 {
		t.Errorf("Versions(unknown subject) = %+v, %v; want empty, nil", got, err)
	}
	if _, err := s.AddVersion(ctx, "land.parcel-value", b+1000); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("AddVersion with an unknown schema id: error = %v, want ErrNotFound", err)
	}
	if vs, _ := s.Versions(ctx, "land.parcel-value", true); len(vs) != 2 {
		t.Errorf("after the failed AddVersion the subject has %d versions, want 2", len(vs))
	}
}

func testVersionsAscending(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	const subject = "civil.birth-value"
	var want []store.SubjectVersion
	// 12 versions, so a backend ordering "10" before "2" fails.
	for v := 1; v <= 12; v++ {
		id := putSchema(t, s, fmt.Sprintf(`{"type":"record","name":"Birth","doc":"v%d","fields":[]}`, v))
		sv, err := s.AddVersion(ctx, subject, id)
		if err != nil {
			t.Fatalf("AddVersion #%d: %v", v, err)
		}
		if sv.Version != v {
			t.Fatalf("AddVersion #%d gave version %d", v, sv.Version)
		}
		want = append(want, store.SubjectVersion{Subject: subject, Version: v, SchemaID: id})
	}
	got, err := s.Versions(ctx, subject, false)
	if err != nil {
		t.Fatalf("Versions: %v", err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Versions = %+v\nwant %+v", got, want)
	}
}

func testSubjects(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	for _, del := range []bool{false, true} {
		got, err := s.Subjects(ctx, del)
		if err != nil || len(got) != 0 {
			t.Fatalf("Subjects(%v) on an empty store = %q, %v; want empty, nil", del, got, err)
		}
	}
	id := putSchema(t, s, `"string"`)
	// Inserted out of order, with mixed case and non-ASCII: the contract is
	// bytewise order, the same as Go's sort.Strings, whatever the database's
	// locale.
	names := []string{"tax.payer-value", "B-upper", "a-lower", "land.parcel-key", "đất-value", "Z", "a-lower-2", "10-x", "9-x"}
	for _, n := range names {
		if _, err := s.AddVersion(ctx, n, id); err != nil {
			t.Fatalf("AddVersion(%q): %v", n, err)
		}
	}
	want := slices.Clone(names)
	slices.Sort(want)
	for _, del := range []bool{false, true} {
		got, err := s.Subjects(ctx, del)
		if err != nil {
			t.Fatalf("Subjects(%v): %v", del, err)
		}
		if !slices.Equal(got, want) {
			t.Errorf("Subjects(%v) = %q, want %q", del, got, want)
		}
	}
}

// ---- positions ------------------------------------------------------------

func testPositions(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	if _, err := s.GetPosition(ctx, "land-cdc"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetPosition before any Put: error = %v, want ErrNotFound", err)
	}
	steps := []struct {
		connector string
		pos       []byte
	}{
		{"land-cdc", []byte("0/16B3748")},
		{"tax-poll", []byte{0, 1, 2, 0xff, 0}}, // binary, with NUL bytes
		{"land-cdc", []byte("0/16B9000")},      // overwrite
		{"files", []byte{}},                    // empty is a position, not "none"
		{"tax-poll", []byte(`{"cursor":"2025-01-01T00:00:00Z"}`)},
	}
	want := map[string][]byte{}
	for i, st := range steps {
		if err := s.PutPosition(ctx, st.connector, st.pos); err != nil {
			t.Fatalf("step %d: PutPosition: %v", i, err)
		}
		want[st.connector] = st.pos
		for c, w := range want {
			got, err := s.GetPosition(ctx, c)
			if err != nil {
				t.Fatalf("step %d: GetPosition(%q): %v", i, c, err)
			}
			if !bytes.Equal(got, w) {
				t.Errorf("step %d: GetPosition(%q) = %q, want %q", i, c, got, w)
			}
		}
	}
	if _, err := s.GetPosition(ctx, "unknown"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetPosition(unknown) error = %v, want ErrNotFound", err)
	}
}

// ---- audit ----------------------------------------------------------------

// entry makes a synthetic audit entry. Its hashes are not a real chain; the
// store does not check them, the audit package does.
func entry(seq int64) store.AuditEntry {
	h := make([]byte, 32)
	for i := range h {
		h[i] = byte(seq) + byte(i)
	}
	return store.AuditEntry{
		Seq:         seq,
		Time:        time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC).Add(time.Duration(seq) * time.Second),
		Actor:       "agency.tax",
		Action:      "deliver",
		Dataset:     "population.citizen",
		Fields:      []string{"full_name", "dob"},
		Purpose:     "tax registration",
		LegalBasis:  "Decree 13/2023",
		AgreementID: "agr-tax-pop-1",
		Decision:    "allow",
		RequestID:   fmt.Sprintf("req-%d", seq),
		CitizenKey:  fmt.Sprintf("%064x", seq),
		PrevHash:    []byte{byte(seq - 1)},
		Hash:        h,
	}
}

func appendSeqs(t *testing.T, s store.Store, from, to int64, edit func(*store.AuditEntry)) []store.AuditEntry {
	t.Helper()
	var es []store.AuditEntry
	for q := from; q <= to; q++ {
		e := entry(q)
		if edit != nil {
			edit(&e)
		}
		es = append(es, e)
	}
	if err := s.AppendAudit(ctxFor(t), es); err != nil {
		t.Fatalf("AppendAudit(%d..%d): %v", from, to, err)
	}
	return es
}

func testAuditEmpty(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	if _, err := s.LastAudit(ctx); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("LastAudit on an empty log: error = %v, want ErrNotFound", err)
	}
	if n, err := s.CountAudit(ctx); err != nil || n != 0 {
		t.Errorf("CountAudit = %d, %v; want 0, nil", n, err)
	}
	if es, err := s.ListAudit(ctx, store.AuditQuery{}); err != nil || len(es) != 0 {
		t.Errorf("ListAudit = %d entries, %v; want 0, nil", len(es), err)
	}
	if err := s.AppendAudit(ctx, nil); err != nil {
		t.Errorf("AppendAudit(nil) = %v, want nil", err)
	}
}

func testAuditRoundTrip(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	hanoi := time.FixedZone("ICT", 7*3600)
	in := []store.AuditEntry{
		{
			Seq: 1, Time: time.Date(2025, 1, 2, 3, 4, 5, 123456000, time.UTC),
			Actor: "bus", Action: "schema.register", Decision: "allow",
			// nil stays nil, and the first entry has no previous hash
		},
		{
			Seq: 2, Time: time.Date(2025, 1, 2, 10, 4, 5, 123456789, hanoi), // ns are cut, zone becomes UTC
			Actor: "agency.insurance", Action: "lookup", Dataset: "population.citizen",
			Fields: []string{}, Purpose: "cấp thẻ BHYT cho trẻ dưới 6 tuổi", LegalBasis: "Luật BHYT",
			AgreementID: "agr-1", Decision: "deny", Reason: "field \"ethnicity\" not in agreement",
			RequestID: "ce-7f3a", CitizenKey: strings.Repeat("ab", 32),
			PrevHash: []byte{}, Hash: []byte{0, 0, 0},
		},
		{
			Seq: 3, Time: time.Date(1999, 12, 31, 23, 59, 59, 999999000, time.UTC),
			Actor: "agency.land", Action: "deliver", Dataset: "land.parcel",
			Fields: []string{"họ_tên", "ngày_sinh", "", "a,b", `"q"`}, Decision: "allow",
			PrevHash: bytes.Repeat([]byte{0xff}, 32), Hash: bytes.Repeat([]byte{0x00}, 32),
		},
	}
	if err := s.AppendAudit(ctx, in); err != nil {
		t.Fatalf("AppendAudit: %v", err)
	}
	want := make([]store.AuditEntry, len(in))
	for i, e := range in {
		e.Time = e.Time.Truncate(time.Microsecond).UTC()
		want[i] = e
	}
	got, err := s.ListAudit(ctx, store.AuditQuery{})
	if err != nil {
		t.Fatalf("ListAudit: %v", err)
	}
	if len(got) != len(want) {
		t.Fatalf("ListAudit gave %d entries, want %d", len(got), len(want))
	}
	for i := range want {
		checkEntry(t, got[i], want[i])
	}
	last, err := s.LastAudit(ctx)
	if err != nil {
		t.Fatalf("LastAudit: %v", err)
	}
	checkEntry(t, last, want[2])
	if n, err := s.CountAudit(ctx); err != nil || n != 3 {
		t.Errorf("CountAudit = %d, %v; want 3, nil", n, err)
	}
}

// checkEntry compares field by field: DeepEqual tells nil from empty slices,
// which the audit package's hashing may depend on, and Time must be the same
// instant in UTC, not just an equal instant.
func checkEntry(t *testing.T, got, want store.AuditEntry) {
	t.Helper()
	if !got.Time.Equal(want.Time) || got.Time.Location() != time.UTC {
		t.Errorf("seq %d: Time = %v (%v), want %v in UTC", want.Seq, got.Time, got.Time.Location(), want.Time)
	}
	g, w := got, want
	g.Time, w.Time = time.Time{}, time.Time{}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("seq %d: entry differs\n got %#v\nwant %#v", want.Seq, g, w)
	}
}

func testAuditAtomic(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	stored := appendSeqs(t, s, 1, 2, nil)
	batches := []struct {
		name string
		seqs []int64
	}{
		{"duplicate inside the batch", []int64{3, 4, 4}},
		{"duplicate first", []int64{3, 3}},
		{"duplicate of a stored seq", []int64{2, 3}},
		{"all stored already", []int64{1, 2}},
		{"gap after the log", []int64{4, 5}},
		{"gap inside the batch", []int64{3, 5}},
		{"descending", []int64{4, 3}},
		{"zero", []int64{0}},
		{"negative", []int64{-1}},
	}
	for _, bt := range batches {
		t.Run(bt.name, func(t *testing.T) {
			var es []store.AuditEntry
			for _, q := range bt.seqs {
				e := entry(q)
				e.Actor = "must-not-be-stored"
				es = append(es, e)
			}
			if err := s.AppendAudit(ctx, es); err == nil {
				t.Fatalf("AppendAudit(%v) succeeded, want an error", bt.seqs)
			}
			if n, err := s.CountAudit(ctx); err != nil || n != 2 {
				t.Errorf("after the failed batch CountAudit = %d, %v; want 2", n, err)
			}
			if es, err := s.ListAudit(ctx, store.AuditQuery{Actor: "must-not-be-stored"}); err != nil || len(es) != 0 {
				t.Errorf("after the failed batch %d of its entries are stored (err %v), want 0", len(es), err)
			}
			last, err := s.LastAudit(ctx)
			if err != nil {
				t.Fatalf("LastAudit: %v", err)
			}
			checkEntry(t, last, stored[1])
		})
	}
	appendSeqs(t, s, 3, 4, nil) // the log still continues normally
	if n, err := s.CountAudit(ctx); err != nil || n != 4 {
		t.Errorf("CountAudit = %d, %v; want 4", n, err)
	}
}

func testAuditFirstSeq(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	if err := s.AppendAudit(ctx, []store.AuditEntry{entry(2)}); err == nil {
		t.Errorf("AppendAudit starting at seq 2 on an empty log succeeded, want an error (gap)")
	}
	appendSeqs(t, s, 1, 1, nil)
	if n, err := s.CountAudit(ctx); err != nil || n != 1 {
		t.Errorf("CountAudit = %d, %v; want 1", n, err)
	}
}

func testListAuditFilters(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	actors := []string{"agency.tax", "agency.land", "bus"}
	keys := []string{"ck-a", "ck-b", ""}
	appendSeqs(t, s, 1, 12, func(e *store.AuditEntry) {
		e.Actor = actors[e.Seq%3]
		e.CitizenKey = keys[e.Seq%4%3] // 1:b 2:"" 3:a 4:a 5:b 6:"" 7:a 8:a …
		e.RequestID = fmt.Sprintf("req-%d", e.Seq%5)
	})
	// want computes the expected seqs from the same rules, so the table
	// below states only the queries.
	want := func(q store.AuditQuery) []int64 {
		var out []int64
		for seq := int64(1); seq <= 12; seq++ {
			if q.Actor != "" && actors[seq%3] != q.Actor ||
				q.CitizenKey != "" && keys[seq%4%3] != q.CitizenKey ||
				q.RequestID != "" && fmt.Sprintf("req-%d", seq%5) != q.RequestID ||
				seq <= q.AfterSeq {
				continue
			}
			out = append(out, seq)
		}
		if q.Limit > 0 && len(out) > q.Limit {
			out = out[:q.Limit]
		}
		return out
	}
	queries := []store.AuditQuery{
		{},
		{CitizenKey: "ck-a"},
		{CitizenKey: "ck-b"},
		{CitizenKey: "ck-none"},
		{RequestID: "req-2"},
		{RequestID: "req-0"},
		{Actor: "agency.land"},
		{Actor: "bus", CitizenKey: "ck-a"},
		{Actor: "agency.tax", RequestID: "req-1"},
		{CitizenKey: "ck-a", AfterSeq: 4},
		{CitizenKey: "ck-a", AfterSeq: 4, Limit: 1},
		{AfterSeq: 1},
		{AfterSeq: 1, Limit: 2},
		{AfterSeq: 10},
		{AfterSeq: 12},
		{AfterSeq: 100},
		{Limit: 3},
		{Actor: "agency.tax", CitizenKey: "ck-b", RequestID: "req-0", AfterSeq: 1},
	}
	for _, q := range queries {
		t.Run(fmt.Sprintf("%+v", q), func(t *testing.T) {
			es, err := s.ListAudit(ctx, q)
			if err != nil {
				t.Fatalf("ListAudit: %v", err)
			}
			got := []int64{}
			for _, e := range es {
				got = append(got, e.Seq)
			}
			w := want(q)
			if w == nil {
				w = []int64{}
			}
			if !slices.Equal(got, w) {
				t.Errorf("seqs = %v, want %v", got, w)
			}
		})
	}
	// The empty key means "no filter", not "entries without a citizen".
	es, err := s.ListAudit(ctx, store.AuditQuery{CitizenKey: ""})
	if err != nil || len(es) != 12 {
		t.Errorf("ListAudit(CitizenKey \"\") = %d entries, %v; want all 12", len(es), err)
	}
}

func testListAuditPaging(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	appendSeqs(t, s, 1, 100, nil)
	appendSeqs(t, s, 101, 150, func(e *store.AuditEntry) { e.Actor = "agency.land" })
	cases := []struct {
		q        store.AuditQuery
		from, to int64 // expected seqs, inclusive; from > to for none
	}{
		{store.AuditQuery{}, 1, 100}, // Limit 0 means 100
		{store.AuditQuery{AfterSeq: 100}, 101, 150},
		{store.AuditQuery{AfterSeq: 5, Limit: 10}, 6, 15},
		{store.AuditQuery{Limit: 1000}, 1, 150},
		{store.AuditQuery{Limit: 1}, 1, 1},
		{store.AuditQuery{Actor: "agency.land", Limit: 20}, 101, 120},
		{store.AuditQuery{Actor: "agency.land", AfterSeq: 140}, 141, 150},
		{store.AuditQuery{AfterSeq: 150}, 1, 0},
	}
	for _, c := range cases {
		es, err := s.ListAudit(ctx, c.q)
		if err != nil {
			t.Fatalf("ListAudit(%+v): %v", c.q, err)
		}
		n := int(max(c.to-c.from+1, 0))
		if len(es) != n {
			t.Errorf("ListAudit(%+v) gave %d entries, want %d", c.q, len(es), n)
			continue
		}
		for i, e := range es {
			if e.Seq != c.from+int64(i) {
				t.Errorf("ListAudit(%+v)[%d].Seq = %d, want %d", c.q, i, e.Seq, c.from+int64(i))
				break
			}
		}
	}
	// Walking the whole log with the cursor visits every entry once.
	var seen, cursor int64
	for {
		es, err := s.ListAudit(ctx, store.AuditQuery{AfterSeq: cursor, Limit: 7})
		if err != nil {
			t.Fatalf("ListAudit(AfterSeq %d): %v", cursor, err)
		}
		if len(es) == 0 {
			break
		}
		for _, e := range es {
			if e.Seq != seen+1 {
				t.Fatalf("walk: got seq %d after %d", e.Seq, seen)
			}
			seen = e.Seq
		}
		cursor = es[len(es)-1].Seq
	}
	if seen != 150 {
		t.Errorf("walk saw %d entries, want 150", seen)
	}
	if n, err := s.CountAudit(ctx); err != nil || n != 150 {
		t.Errorf("CountAudit = %d, %v; want 150", n, err)
	}
}

// ---- population -----------------------------------------------------------

// SyntheticCitizen returns a made-up citizen whose 12-digit number has the
// CCCD layout (province, century+sex, year, serial) and is unique for each
// n below 9.6 billion. It is exported for the backends' benchmarks.
func SyntheticCitizen(n int) store.Citizen {
	serial := n % 1_000_000
	rest := n / 1_000_000
	year := rest % 100
	rest /= 100
	province := 1 + rest%96
	sexDigit := 2 + serial%2 // born in the 2000s; 2 male, 3 female
	sex := "M"
	if sexDigit == 3 {
		sex = "F"
	}
	return store.Citizen{
		ID:            fmt.Sprintf("%03d%d%02d%06d", province, sexDigit, year, serial),
		FullName:      fmt.Sprintf("Nguyễn Văn Thử %d", n),
		DOB:           fmt.Sprintf("20%02d-%02d-%02d", year, 1+n%12, 1+n%28),
		Sex:           sex,
		BirthProvince: fmt.Sprintf("%03d", province),
	}
}

func scanAll(t *testing.T, s store.Store) []store.Citizen {
	t.Helper()
	out := []store.Citizen{}
	if err := s.ScanCitizens(ctxFor(t), func(c store.Citizen) error {
		out = append(out, c)
		return nil
	}); err != nil {
		t.Fatalf("ScanCitizens: %v", err)
	}
	return out
}

func testPutCitizensUpsert(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	if n, err := s.CountCitizens(ctx); err != nil || n != 0 {
		t.Fatalf("CountCitizens on an empty store = %d, %v; want 0", n, err)
	}
	if got := scanAll(t, s); len(got) != 0 {
		t.Fatalf("ScanCitizens on an empty store gave %d citizens", len(got))
	}
	if err := s.PutCitizens(ctx, nil); err != nil {
		t.Fatalf("PutCitizens(nil) = %v", err)
	}
	a := store.Citizen{ID: "001099012345", OldID: "012345678", FullName: "Nguyễn Thị Hoà", DOB: "1999-02-28", Sex: "F", BirthProvince: "001",
		Residence: "Số 12 Lê Lợi, Phường Bến Nghé, Quận 1, Thành phố Hồ Chí Minh"}
	b := store.Citizen{ID: "079203000123", FullName: "Trần Đức Anh", DOB: "2003-12-01", Sex: "M", BirthProvince: "079"}
	c := store.Citizen{ID: "048085000777", FullName: "Lê Văn Tám", DOB: "1985-07-07", Sex: "M", BirthProvince: "048", Deceased: true}
	a2 := a
	a2.FullName, a2.Deceased, a2.OldID = "Nguyễn Thị Hòa", true, ""
	b2 := b
	b2.DOB = "2003-12-02"
	b3 := b
	b3.FullName = "Trần Đức Ánh"
	c2 := c // only the residence changes: gained …
	c2.Residence = "Thôn Đông, Xã Hòa Phú, Huyện Hòa Vang, Thành phố Đà Nẵng"
	a3 := a2 // … changed …
	a3.Residence = "Số 5 Hàng Bài, Phường Tràng Tiền, Quận Hoàn Kiếm, Hà Nội"
	c3 := c2 // … and lost
	c3.Residence = ""
	steps := []struct {
		name  string
		batch []store.Citizen
		want  []store.Citizen // all stored, in ID order
	}{
		{"insert", []store.Citizen{b, a}, []store.Citizen{a, b}},
		{"update one, insert one", []store.Citizen{a2, c}, []store.Citizen{a2, c, b}},
		{"same ID twice in a batch: the last wins", []store.Citizen{b2, b3}, []store.Citizen{a2, c, b3}},
		{"unchanged", []store.Citizen{c}, []store.Citizen{a2, c, b3}},
		{"residence gained", []store.Citizen{c2}, []store.Citizen{a2, c2, b3}},
		{"residence changed", []store.Citizen{a3}, []store.Citizen{a3, c2, b3}},
		{"residence lost", []store.Citizen{c3}, []store.Citizen{a3, c3, b3}},
	}
	for _, st := range steps {
		if err := s.PutCitizens(ctx, st.batch); err != nil {
			t.Fatalf("%s: PutCitizens: %v", st.name, err)
		}
		if n, err := s.CountCitizens(ctx); err != nil || n != int64(len(st.want)) {
			t.Errorf("%s: CountCitizens = %d, %v; want %d", st.name, n, err, len(st.want))
		}
		if got := scanAll(t, s); !reflect.DeepEqual(got, st.want) {
			t.Errorf("%s: ScanCitizens =\n%+v\nwant\n%+v", st.name, got, st.want)
		}
	}
}

func testPutCitizensRejectsEmptyID(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	batch := []store.Citizen{SyntheticCitizen(1), {FullName: "no id"}, SyntheticCitizen(2)}
	if err := s.PutCitizens(ctx, batch); err == nil {
		t.Fatalf("PutCitizens with an empty ID succeeded, want an error")
	}
	if n, err := s.CountCitizens(ctx); err != nil || n != 0 {
		t.Errorf("after the failed batch CountCitizens = %d, %v; want 0", n, err)
	}
}

func testScanCitizensOrder(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	// More than one page of any sensible page size, inserted in random
	// order and in several batches.
	const n = 2500
	all := make([]store.Citizen, n)
	for i := range all {
		all[i] = SyntheticCitizen(i * 7919)
	}
	shuffled := slices.Clone(all)
	rand.New(rand.NewPCG(1, 2)).Shuffle(n, func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	for i := 0; i < n; i += 1000 {
		if err := s.PutCitizens(ctx, shuffled[i:min(i+1000, n)]); err != nil {
			t.Fatalf("PutCitizens: %v", err)
		}
	}
	slices.SortFunc(all, func(a, b store.Citizen) int { return strings.Compare(a.ID, b.ID) })
	if cnt, err := s.CountCitizens(ctx); err != nil || cnt != n {
		t.Errorf("CountCitizens = %d, %v; want %d", cnt, err, n)
	}
	got := scanAll(t, s)
	if len(got) != n {
		t.Fatalf("ScanCitizens gave %d citizens, want %d", len(got), n)
	}
	for i := range all {
		if got[i] != all[i] {
			t.Fatalf("ScanCitizens[%d] = %+v, want %+v", i, got[i], all[i])
		}
	}
}

func testScanCitizensStops(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	const n = 2500
	batch := make([]store.Citizen, n)
	for i := range batch {
		batch[i] = SyntheticCitizen(i)
	}
	if err := s.PutCitizens(ctx, batch); err != nil {
		t.Fatalf("PutCitizens: %v", err)
	}
	for _, stopAt := range []int{1, 999, 1000, 1001, 1500, n} {
		stop := errors.New("enough")
		calls := 0
		err := s.ScanCitizens(ctx, func(store.Citizen) error {
			calls++
			if calls == stopAt {
				return fmt.Errorf("caller: %w", stop)
			}
			return nil
		})
		if !errors.Is(err, stop) {
			t.Errorf("stop at %d: ScanCitizens error = %v, want the callback's error", stopAt, err)
		}
		if calls != stopAt {
			t.Errorf("stop at %d: callback called %d times after it failed", stopAt, calls)
		}
	}
	// The store can be used from inside the callback (no lock is held
	// that a nested call would wait for).
	calls := 0
	err := s.ScanCitizens(ctx, func(c store.Citizen) error {
		calls++
		if calls%500 == 0 {
			if _, err := s.CountCitizens(ctx); err != nil {
				return err
			}
			return s.PutPosition(ctx, "scan", []byte(c.ID[:3]))
		}
		return nil
	})
	if err != nil || calls != n {
		t.Errorf("scan with nested calls: %d calls, %v; want %d, nil", calls, err, n)
	}
}

// ---- concurrency ----------------------------------------------------------

const workers = 8

func testConcurrentPositions(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	const rounds = 25
	var wg sync.WaitGroup
	errs := make(chan error, workers*rounds*3)
	for w := range workers {
		wg.Go(func() {
			own := fmt.Sprintf("conn-%d", w)
			for i := range rounds {
				pos := fmt.Appendf(nil, "%d/%d", w, i)
				if err := s.PutPosition(ctx, own, pos); err != nil {
					errs <- err
					return
				}
				if err := s.PutPosition(ctx, "shared", pos); err != nil {
					errs <- err
					return
				}
				got, err := s.GetPosition(ctx, own)
				if err != nil {
					errs <- err
					return
				}
				if !bytes.Equal(got, pos) {
					errs <- fmt.Errorf("%s: read %q right after writing %q", own, got, pos)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for w := range workers {
		got, err := s.GetPosition(ctx, fmt.Sprintf("conn-%d", w))
		if want := fmt.Sprintf("%d/%d", w, rounds-1); err != nil || string(got) != want {
			t.Errorf("conn-%d position = %q, %v; want %q", w, got, err, want)
		}
	}
	got, err := s.GetPosition(ctx, "shared")
	if err != nil || !strings.HasSuffix(string(got), fmt.Sprintf("/%d", rounds-1)) {
		t.Errorf("shared position = %q, %v; want some worker's last write", got, err)
	}
}

func testConcurrentSchemas(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	const texts = 5
	type result struct {
		text, id int
		created  bool
	}
	results := make(chan result, workers*texts)
	versions := make(chan store.SubjectVersion, workers*2)
	errs := make(chan error, workers*(texts+2))
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			// Every worker registers the same texts, starting at a
			// different one so the inserts really race.
			for k := range texts {
				i := (k + w) % texts
				id, created, err := s.PutSchema(ctx, "AVRO", fmt.Sprintf(`{"type":"fixed","name":"F%d","size":16}`, i))
				if err != nil {
					errs <- err
					return
				}
				results <- result{i, id, created}
			}
			// …then adds its own schema and a common one to one subject.
			own, _, err := s.PutSchema(ctx, "JSON", fmt.Sprintf(`{"title":"worker %d"}`, w))
			if err != nil {
				errs <- err
				return
			}
			for _, id := range []int{own, 0} {
				if id == 0 {
					id, _, err = s.PutSchema(ctx, "JSON", `{"title":"common"}`)
					if err != nil {
						errs <- err
						return
					}
				}
				sv, err := s.AddVersion(ctx, "concurrent-value", id)
				if err != nil {
					errs <- err
					return
				}
				versions <- sv
			}
		})
	}
	wg.Wait()
	close(results)
	close(versions)
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	ids := map[int]int{}
	created := map[int]int{}
	for r := range results {
		if id, ok := ids[r.text]; ok && id != r.id {
			t.Errorf("text %d got ids %d and %d", r.text, id, r.id)
		}
		ids[r.text] = r.id
		if r.created {
			created[r.text]++
		}
	}
	for i := range texts {
		if created[i] != 1 {
			t.Errorf("text %d: created reported %d times, want exactly once", i, created[i])
		}
	}
	vs, err := s.Versions(ctx, "concurrent-value", false)
	if err != nil {
		t.Fatalf("Versions: %v", err)
	}
	if len(vs) != workers+1 {
		t.Fatalf("subject has %d versions, want %d (one per worker + the common one): %+v", len(vs), workers+1, vs)
	}
	bySchema := map[int]int{}
	for i, v := range vs {
		if v.Version != i+1 {
			t.Errorf("versions are not 1..%d without gaps: %+v", workers+1, vs)
			break
		}
		bySchema[v.SchemaID] = v.Version
	}
	if len(bySchema) != len(vs) {
		t.Errorf("a schema id appears under two versions: %+v", vs)
	}
	for sv := range versions {
		if bySchema[sv.SchemaID] != sv.Version {
			t.Errorf("AddVersion returned %+v, but the stored version of that schema is %d", sv, bySchema[sv.SchemaID])
		}
	}
}

func testConcurrentAudit(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	// Everyone races for seq 1: exactly one wins.
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for w := range workers {
		wg.Go(func() {
			e := entry(1)
			e.Actor = fmt.Sprintf("worker-%d", w)
			if err := s.AppendAudit(ctx, []store.AuditEntry{e}); err == nil {
				mu.Lock()
				wins++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if wins != 1 {
		t.Fatalf("%d appends of seq 1 succeeded, want exactly 1", wins)
	}
	// Then each worker appends batches after whatever is last, retrying
	// when another won, the way the audit package would without its lock;
	// readers run alongside.
	const perWorker = 4
	errs := make(chan error, workers*2)
	for w := range workers {
		wg.Go(func() {
			for done, tries := 0, 0; done < perWorker; tries++ {
				if tries > 2000 {
					errs <- fmt.Errorf("worker %d: gave up after %d tries", w, tries)
					return
				}
				last, err := s.LastAudit(ctx)
				if err != nil {
					errs <- err
					return
				}
				batch := []store.AuditEntry{entry(last.Seq + 1), entry(last.Seq + 2)}
				batch[0].Actor, batch[1].Actor = fmt.Sprintf("worker-%d", w), fmt.Sprintf("worker-%d", w)
				if s.AppendAudit(ctx, batch) == nil {
					done++
				}
			}
		})
		wg.Go(func() {
			for range 20 {
				if _, err := s.ListAudit(ctx, store.AuditQuery{Actor: fmt.Sprintf("worker-%d", w)}); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	want := int64(1 + workers*perWorker*2)
	if n, err := s.CountAudit(ctx); err != nil || n != want {
		t.Errorf("CountAudit = %d, %v; want %d", n, err, want)
	}
	es, err := s.ListAudit(ctx, store.AuditQuery{Limit: int(want) + 10})
	if err != nil {
		t.Fatalf("ListAudit: %v", err)
	}
	for i, e := range es {
		if e.Seq != int64(i+1) {
			t.Fatalf("log has seq %d at position %d: not 1..%d without gaps", e.Seq, i, want)
		}
	}
	// Each batch of two is from one worker: appends did not interleave.
	for i := 1; i+1 < len(es); i += 2 {
		if es[i].Actor != es[i+1].Actor {
			t.Errorf("seq %d and %d come from different batches (%s, %s)", es[i].Seq, es[i+1].Seq, es[i].Actor, es[i+1].Actor)
		}
	}
}

// testAuditStaged checks a store that stages audit batches: a batch staged
// on top of one not yet committed may only commit after it, and never
// after it was rolled back. Stores that cannot stage skip it.
func testAuditStaged(t *testing.T, s store.Store) {
	sg, ok := s.(store.AuditStager)
	if !ok {
		t.Skip("the store does not stage audit batches")
	}
	ctx := ctxFor(t)
	appendSeqs(t, s, 1, 2, nil)
	batch := func(from, to int64) []store.AuditEntry {
		var es []store.AuditEntry
		for q := from; q <= to; q++ {
			es = append(es, entry(q))
		}
		return es
	}
	a, err := sg.StageAudit(ctx, batch(3, 5))
	if err != nil {
		t.Fatalf("StageAudit(3..5): %v", err)
	}
	b, err := sg.StageAudit(ctx, batch(6, 7)) // on top of a, at the same time
	if err != nil {
		t.Fatalf("StageAudit(6..7) while 3..5 is staged: %v", err)
	}
	if n, err := s.CountAudit(ctx); err != nil || n != 2 {
		t.Errorf("with two batches staged CountAudit = %d, %v; want 2 (nothing committed)", n, err)
	}
	if err := b.Commit(ctx); err == nil {
		t.Fatal("6..7 committed before 3..5: the log would have a gap")
	}
	if err := a.Commit(ctx); err != nil {
		t.Fatalf("Commit(3..5): %v", err)
	}
	c, err := sg.StageAudit(ctx, batch(6, 7))
	if err != nil {
		t.Fatalf("StageAudit(6..7) again: %v", err)
	}
	d, err := sg.StageAudit(ctx, batch(8, 9))
	if err != nil {
		t.Fatalf("StageAudit(8..9): %v", err)
	}
	c.Rollback(ctx)
	if err := d.Commit(ctx); err == nil {
		t.Fatal("8..9 committed after 6..7 was rolled back: the log would have a gap")
	}
	if n, err := s.CountAudit(ctx); err != nil || n != 5 {
		t.Errorf("CountAudit = %d, %v; want 5", n, err)
	}
	if _, err := sg.StageAudit(ctx, batch(5, 6)); err == nil {
		t.Error("StageAudit of a stored seq succeeded")
	}
	appendSeqs(t, s, 6, 7, nil) // the log still continues normally
}
