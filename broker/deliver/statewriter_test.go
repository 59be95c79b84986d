package deliver

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/lgsp-bus/lgsp/broker/store"
	"github.com/lgsp-bus/lgsp/broker/store/sqlitestore"
)

// Partitions' state writes arriving at once are all stored (merged into
// fewer transactions), each caller told only once its rows are durable.
func TestStateWriterGroupsConcurrentWrites(t *testing.T) {
	ctx := context.Background()
	st, err := sqlitestore.Open(ctx, filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	w := stateWriter{st: st, slot: make(chan struct{}, 1)}
	const parts, per = 6, 200
	var wg sync.WaitGroup
	errs := make(chan error, parts)
	for p := 0; p < parts; p++ {
		wg.Go(func() {
			var rows []store.StateRow
			for i := 0; i < per; i++ {
				rows = append(rows, store.StateRow{Dataset: "tax.taxpayer", Key: fmt.Sprintf("%d-%d", p, i), CitizenKey: "c", Row: []byte(`{}`),
					Updated: time.Unix(0, 0), Version: int64(i)})
			}
			var dels []store.StateKey
			if p == 0 { // a tombstone newer than the row of the same batch wins
				dels = append(dels, store.StateKey{Dataset: "tax.taxpayer", Key: "0-0", Version: 1000})
			}
			errs <- w.apply(ctx, rows, dels)
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n, err := st.CountState(ctx, "tax.taxpayer"); err != nil || n != parts*per-1 {
		t.Fatalf("%d rows (%v), want %d", n, err, parts*per-1)
	}
}

// A failed write reaches every caller whose rows it carried.
func TestStateWriterFailureReachesEveryCaller(t *testing.T) {
	boom := errors.New("store down")
	w := stateWriter{st: failingState{boom}, slot: make(chan struct{}, 1)}
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Go(func() {
			if err := w.apply(context.Background(), []store.StateRow{{Dataset: "d", Key: fmt.Sprint(i)}}, nil); !errors.Is(err, boom) {
				t.Errorf("caller %d: %v, want the store's error", i, err)
			}
		})
	}
	wg.Wait()
}

// failingState is a StateStore whose writes fail (a store outage, which a
// real one cannot be made to have on cue).
type failingState struct{ err error }

func (f failingState) ApplyState(context.Context, []store.StateRow, []store.StateKey) error {
	return f.err
}
func (f failingState) StateByCitizen(context.Context, string, string, int) ([]store.StateRow, error) {
	return nil, f.err
}
