package review_test

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/lgsp-bus/lgsp/broker/review"
	"github.com/lgsp-bus/lgsp/broker/store"
	"github.com/lgsp-bus/lgsp/broker/store/sqlitestore"
)

func openStore(t *testing.T) *sqlitestore.Store {
	t.Helper()
	st, err := sqlitestore.Open(context.Background(), filepath.Join(t.TempDir(), "store.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// export runs ExportDecisions and returns the record ids emitted.
func export(t *testing.T, st store.ReviewStore, source string, cur review.Cursor, now time.Time) (review.Cursor, []string) {
	t.Helper()
	var got []string
	next, n, err := review.ExportDecisions(context.Background(), st, source, cur, now, func(d review.Decision) error {
		got = append(got, d.RecordID)
		return nil
	})
	if err != nil || n != len(got) {
		t.Fatalf("ExportDecisions = %d, %v (emitted %v)", n, err, got)
	}
	return next, got
}

// Clerks decide in any order; each export hands over exactly the decisions
// of its source not handed over before, and the cursor stays small once the
// queue ahead of it is settled.
func TestExportDecisions(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	var items []store.ReviewItem
	for _, r := range []struct{ src, rec string }{
		{"moj-file", "a"}, {"tax.taxpayer", "ev1"}, {"moj-file", "b"}, {"moj-file", "c"}, {"other-file", "a"}, {"moj-file", "d"},
	} {
		items = append(items, store.ReviewItem{Source: r.src, RecordID: r.rec, PersonalID: "001090012345", Score: 3, Probability: 0.5, Reason: "close"})
	}
	seqs, err := st.AddReviews(ctx, items, t0)
	if err != nil {
		t.Fatal(err)
	}
	decide := func(k int, status string) {
		t.Helper()
		if _, err := st.DecideReview(ctx, seqs[k], status, "clerk-7", "checked the birth certificate", t0.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	soon := t0.Add(time.Second) // before the items settle
	later := t0.Add(2 * review.Settle)

	cur, got := export(t, st, "moj-file", review.Cursor{}, soon)
	if len(got) != 0 || cur.Source != "moj-file" || cur.Through != 0 || cur.Exported != nil {
		t.Fatalf("nothing decided: %v, cursor %+v", got, cur)
	}
	decide(3, store.ReviewAccepted) // c, ahead of a and b
	decide(1, store.ReviewRejected) // another source
	decide(4, store.ReviewAccepted) // another file
	var ds []review.Decision
	cur, n, err := review.ExportDecisions(ctx, st, "moj-file", cur, soon, func(d review.Decision) error { ds = append(ds, d); return nil })
	want := review.Decision{ReviewID: review.ID(seqs[3]), RecordID: "c", Status: "accepted", PersonalID: "001090012345", Candidate: "001090012345",
		DecidedBy: "clerk-7", DecidedAt: t0.Add(time.Hour), Note: "checked the birth certificate"}
	if err != nil || n != 1 || !reflect.DeepEqual(ds, []review.Decision{want}) {
		t.Fatalf("first decision: %+v, %d, %v", ds, n, err)
	}
	if want := (review.Cursor{Source: "moj-file", Exported: [][2]int64{{seqs[3], seqs[3]}}}); !reflect.DeepEqual(cur, want) {
		t.Fatalf("cursor %+v, want %+v (items not settled yet)", cur, want)
	}
	if _, got := export(t, st, "moj-file", cur, soon); len(got) != 0 {
		t.Fatalf("exported again: %v", got)
	}

	decide(0, store.ReviewRejected) // a, behind c
	decide(5, store.ReviewAccepted) // d
	cur, got = export(t, st, "moj-file", cur, later)
	if !reflect.DeepEqual(got, []string{"a", "d"}) {
		t.Fatalf("second export %v, want a and d", got)
	}
	// b is pending: through stops before it, c and d stay listed
	if want := (review.Cursor{Source: "moj-file", Through: seqs[1], Exported: [][2]int64{{seqs[3], seqs[3]}, {seqs[5], seqs[5]}}}); !reflect.DeepEqual(cur, want) {
		t.Fatalf("cursor %+v, want %+v", cur, want)
	}
	decide(2, store.ReviewRejected) // b
	var rejected []review.Decision
	cur, _, err = review.ExportDecisions(ctx, st, "moj-file", cur, later, func(d review.Decision) error { rejected = append(rejected, d); return nil })
	if err != nil || len(rejected) != 1 || rejected[0].RecordID != "b" || rejected[0].PersonalID != "" || rejected[0].Candidate != "001090012345" {
		t.Fatalf("rejected decision: %+v %v (personal_id must be empty: nothing to apply)", rejected, err)
	}
	if want := (review.Cursor{Source: "moj-file", Through: seqs[5]}); !reflect.DeepEqual(cur, want) {
		t.Fatalf("settled queue: cursor %+v, want %+v", cur, want)
	}

	// the cursor survives a file round trip; another source's is refused
	var buf bytes.Buffer
	if err := review.WriteCursor(&buf, cur); err != nil {
		t.Fatal(err)
	}
	back, err := review.ReadCursor(&buf)
	if err != nil || !reflect.DeepEqual(back, cur) {
		t.Fatalf("round trip: %+v %v", back, err)
	}
	if _, _, err := review.ExportDecisions(ctx, st, "other-file", cur, later, func(review.Decision) error { return nil }); !errors.Is(err, review.ErrCursorSource) {
		t.Errorf("another source's cursor: %v", err)
	}
	// other-file's own export starts from nothing and finds its decision
	if _, got := export(t, st, "other-file", review.Cursor{}, later); !reflect.DeepEqual(got, []string{"a"}) {
		t.Errorf("other-file: %v", got)
	}
	// a failing writer stops the export and gives back the old cursor
	boom := errors.New("disk full")
	old := review.Cursor{Source: "moj-file"}
	kept, n, err := review.ExportDecisions(ctx, st, "moj-file", old, later, func(review.Decision) error { return boom })
	if !errors.Is(err, boom) || n != 0 || !reflect.DeepEqual(kept, old) {
		t.Errorf("failing emit: %+v %d %v", kept, n, err)
	}
}

func TestReadCursorRejects(t *testing.T) {
	for _, tc := range []struct{ name, text, want string }{
		{"not json", "through=3", "not readable"},
		{"unknown field", `{"source":"s","through":1,"after":2}`, "unknown field"},
		{"negative", `{"source":"s","through":-1}`, "negative"},
		{"range below through", `{"source":"s","through":5,"exported":[[5,6]]}`, "not ascending"},
		{"range reversed", `{"source":"s","through":5,"exported":[[9,7]]}`, "not ascending"},
		{"ranges overlap", `{"source":"s","through":5,"exported":[[7,9],[9,10]]}`, "not ascending"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := review.ReadCursor(strings.NewReader(tc.text)); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("ReadCursor(%s) = %v, want an error with %q", tc.text, err, tc.want)
			}
		})
	}
}

// ListSource pages through one source's items with a cursor that may
// point at another source's item.
func TestListSource(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	var items []store.ReviewItem
	for k := range 2500 { // more than one store page
		src := "tax.taxpayer"
		if k%100 == 7 {
			src = "moj-file"
		}
		items = append(items, store.ReviewItem{Source: src, RecordID: review.ID(int64(k)), PersonalID: "001090012345"})
	}
	if _, err := st.AddReviews(ctx, items, time.Now()); err != nil {
		t.Fatal(err)
	}
	var got []string
	after := int64(0)
	for page := 0; ; page++ {
		its, next, err := review.ListSource(ctx, st, "moj-file", "", after, 10)
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range its {
			got = append(got, it.RecordID)
		}
		if len(its) < 10 {
			break
		}
		if page > 5 || next <= after {
			t.Fatalf("cursor does not advance: %d after %d", next, after)
		}
		after = next
	}
	if len(got) != 25 || got[0] != review.ID(7) || got[24] != review.ID(2407) {
		t.Fatalf("listed %d: %v", len(got), got)
	}
	if all, _, err := review.ListSource(ctx, st, "", store.ReviewPending, 0, 0); err != nil || len(all) != 1000 {
		t.Errorf("every source, default limit: %d %v", len(all), err)
	}
	if none, _, err := review.ListSource(ctx, st, "moj-file", store.ReviewAccepted, 0, 10); err != nil || len(none) != 0 {
		t.Errorf("status filter: %d %v", len(none), err)
	}
	if _, err := review.ParseID("rv12"); !errors.Is(err, review.ErrBadCursor) {
		t.Errorf("ParseID(rv12) = %v", err)
	}
	if seq, err := review.ParseID(review.ID(42)); err != nil || seq != 42 {
		t.Errorf("ParseID = %d %v", seq, err)
	}
}

// An empty list says so on the notes (stderr), keeping stdout valid NDJSON.
func TestWriteListEmptySaysSo(t *testing.T) {
	st := openStore(t)
	for _, tc := range []struct {
		source, status string
		want           string
	}{
		{"", "", "no items: the review queue is empty\n"},
		{"gdt-2025-q1", "pending", "no items (source gdt-2025-q1, status pending)\n"},
	} {
		var out, notes bytes.Buffer
		if err := review.WriteList(context.Background(), st, tc.source, tc.status, "", 50, &out, &notes); err != nil {
			t.Fatal(err)
		}
		if out.Len() != 0 || notes.String() != tc.want {
			t.Errorf("%q %q: stdout %q, notes %q, want %q", tc.source, tc.status, out.String(), notes.String(), tc.want)
		}
	}
}

// The command-line inputs WriteList and ExportFile check themselves: a
// cursor that is not an item id, an export without a source.
func TestListAndExportRefuseBadInput(t *testing.T) {
	st := openStore(t)
	var out, notes bytes.Buffer
	if err := review.WriteList(context.Background(), st, "", "", "17", 50, &out, &notes); !errors.Is(err, review.ErrBadCursor) || !strings.HasPrefix(err.Error(), "--after: ") {
		t.Errorf("WriteList(after 17) = %v, want --after: %v", err, review.ErrBadCursor)
	}
	if err := review.ExportFile(context.Background(), st, "", "", "", &out, &notes); err == nil || !strings.Contains(err.Error(), "--source SOURCE is required") {
		t.Errorf("ExportFile without a source = %v", err)
	}
	if out.Len() != 0 {
		t.Errorf("wrote %q", out.String())
	}
}
