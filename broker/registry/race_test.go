package registry

import (
	"context"
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/lgsp-bus/lgsp/broker/store"
	"github.com/lgsp-bus/lgsp/broker/store/sqlitestore"
)

// TestRegistrationRaceAcrossInstances runs two registries, each with its
// own store handle on one database (two bus instances), behind two HTTP
// listeners, and has franz-go clients register the same and different
// schemas into shared subjects through both at once, at the default
// BACKWARD level (so each registration is checked against whatever
// version won the race before it). Every schema must get one id, the
// same in every subject, and each subject versions 1..n without gaps or
// duplicates, one per schema.
func TestRegistrationRaceAcrossInstances(t *testing.T) {
	backends := []struct {
		name string
		open func(t *testing.T) (store.SchemaStore, store.SchemaStore)
	}{
		{"postgres", func(t *testing.T) (store.SchemaStore, store.SchemaStore) {
			u := pgSchemaURL(t)
			return openPG(t, u), openPG(t, u)
		}},
		{"sqlite", func(t *testing.T) (store.SchemaStore, store.SchemaStore) {
			path := filepath.Join(t.TempDir(), "store.db")
			var out [2]store.SchemaStore
			for i := range out {
				s, err := sqlitestore.Open(context.Background(), path)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = s.Close() })
				out[i] = s
			}
			return out[0], out[1]
		}},
	}
	const (
		clients  = 6
		subjects = 3
		variants = 5 // distinct schemas per subject
	)
	// Variant i adds its own optional field: any two are BACKWARD
	// compatible whichever is registered first.
	schemaText := func(i int) string {
		return fmt.Sprintf(`{"type":"record","name":"Person","namespace":"vn.gov.lgsp.race","fields":[`+
			`{"name":"cccd","type":"string"},{"name":"f%d","type":["null","string"],"default":null}]}`, i)
	}
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			a, b := be.open(t)
			var urls []string
			for _, s := range []store.SchemaStore{a, b} {
				srv := httptest.NewServer(New(s).Handler())
				t.Cleanup(srv.Close)
				urls = append(urls, srv.URL)
			}
			ctx := context.Background()
			type key struct {
				subject string
				variant int
			}
			var mu sync.Mutex
			got := map[key][]int{}
			var wg sync.WaitGroup
			errs := make(chan error, clients)
			for c := range clients {
				cl, err := sr.NewClient(sr.URLs(urls[c%2]))
				if err != nil {
					t.Fatal(err)
				}
				wg.Go(func() {
					for k := range subjects * variants {
						k = (k + c*7) % (subjects * variants) // each client in its own order
						subj, v := k%subjects, k/subjects
						subject := fmt.Sprintf("race-%d-value", subj)
						id, err := cl.RegisterSchema(ctx, subject, sr.Schema{Schema: schemaText(v)}, -1, -1)
						if err != nil {
							errs <- fmt.Errorf("client %d, %s variant %d: %w", c, subject, v, err)
							return
						}
						mu.Lock()
						got[key{subject, v}] = append(got[key{subject, v}], id)
						mu.Unlock()
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			idOf := map[int]int{} // variant → id
			for k, ids := range got {
				if len(ids) != clients || slices.Min(ids) != slices.Max(ids) {
					t.Errorf("%s variant %d: ids %v, want %d times one id", k.subject, k.variant, ids, clients)
				}
				if id, ok := idOf[k.variant]; ok && id != ids[0] {
					t.Errorf("variant %d has id %d in one subject and %d in another", k.variant, id, ids[0])
				}
				idOf[k.variant] = ids[0]
			}
			if len(idOf) != variants {
				t.Errorf("%d distinct schemas registered, want %d", len(idOf), variants)
			}
			checkIncompatibleRace(t, urls)
			for subj := range subjects {
				subject := fmt.Sprintf("race-%d-value", subj)
				for i, s := range []store.SchemaStore{a, b} {
					vs, err := s.Versions(ctx, subject, true)
					if err != nil {
						t.Fatal(err)
					}
					seen := map[int]bool{}
					for n, v := range vs {
						if v.Version != n+1 || seen[v.SchemaID] {
							t.Fatalf("instance %d, %s: versions %+v, want 1..%d with one schema each", i, subject, vs, variants)
						}
						seen[v.SchemaID] = true
					}
					if len(vs) != variants {
						t.Fatalf("instance %d, %s has %d versions, want %d", i, subject, len(vs), variants)
					}
				}
			}
		})
	}
}

// checkIncompatibleRace registers, through the two instances at once, two
// schemas that are each BACKWARD compatible with the subject's version 1
// but not with each other: whichever comes second must be checked against
// the first and refused (409), never both accepted because each was
// checked against version 1 only.
func checkIncompatibleRace(t *testing.T, urls []string) {
	t.Helper()
	const (
		base = `{"type":"record","name":"R","fields":[{"name":"a","type":"string"}]}`
		x    = `{"type":"record","name":"R","fields":[{"name":"a","type":"string"},{"name":"b","type":"int","default":0}]}`
		y    = `{"type":"record","name":"R","fields":[{"name":"a","type":"string"},{"name":"b","type":"boolean","default":false}]}`
	)
	ctx := context.Background()
	var cls []*sr.Client
	for _, u := range urls {
		cl, err := sr.NewClient(sr.URLs(u))
		if err != nil {
			t.Fatal(err)
		}
		cls = append(cls, cl)
	}
	for round := range 20 {
		subject := fmt.Sprintf("conflict-%d-value", round)
		if _, err := cls[0].RegisterSchema(ctx, subject, sr.Schema{Schema: base}, -1, -1); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i, text := range []string{x, y} {
			wg.Go(func() {
				_, errs[i] = cls[i].RegisterSchema(ctx, subject, sr.Schema{Schema: text}, -1, -1)
			})
		}
		wg.Wait()
		refused := 0
		for _, err := range errs {
			if err != nil {
				if _, code, _ := srErr(t, err); code != sr.ErrIncompatibleSchema.Code {
					t.Fatalf("%s: %v", subject, err)
				}
				refused++
			}
		}
		vs, err := cls[1].SubjectVersions(ctx, subject)
		if refused != 1 || err != nil || !slices.Equal(vs, []int{1, 2}) {
			t.Fatalf("%s: %d of two mutually incompatible schemas refused, versions %v (%v); want exactly one refused", subject, refused, vs, err)
		}
	}
}
