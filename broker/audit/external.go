package audit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/lgsp-bus/lgsp/broker/store"
)

// Checkpoints kept only in the store can be deleted with the entries they
// cover, leaving a shorter log that still verifies. So the bus also hands
// every checkpoint it signs to the outside world (OnCheckpoint: a Kafka
// topic, witnesses that cosign it), and at start Open checks the store
// against the newest checkpoint known there (WithKnownCheckpoints), and
// VerifyLogWith does the same over the whole log.

// ErrCut marks a store that ends before a checkpoint known outside it: its
// last entries were deleted. It is reported together with ErrTampered.
var ErrCut = errors.New("the log was cut")

// ErrForked marks a store whose entries differ from a checkpoint known
// outside it: its tail was rewritten (a fork). Reported with ErrTampered.
var ErrForked = errors.New("the log was forked or rewritten")

// Known is a checkpoint held outside the store, and where it was found (for
// messages, e.g. "kafka topic audit.checkpoints" or a witness URL).
type Known struct {
	Checkpoint
	From string
}

// WithKnownCheckpoints gives Open the checkpoints held outside the store.
// Each must carry this bus's signature. Open then refuses a store that
// ends before one of them (ErrCut) or whose entry at its place is not that
// same checkpoint (ErrForked), and resumes the tree from the newest of them
// (re-checking the chain, the hashes and the checkpoints of every entry
// after it) rather than from the newest checkpoint the store holds.
func WithKnownCheckpoints(cps ...Known) Option {
	return func(l *Log) { l.known = append(l.known, cps...) }
}

// OnCheckpoint has fn called with each checkpoint once it is stored (by
// Checkpoint, Prune or PruneThrough), in signing order and outside the
// log's locks, so a slow fn never holds up appends. fn reports its own
// failures: the checkpoint is stored either way.
func OnCheckpoint(fn func(context.Context, Checkpoint)) Option {
	return func(l *Log) { l.onCheckpoint = fn }
}

// announce hands the checkpoints signed since the last call to onCheckpoint.
func (l *Log) announce(ctx context.Context) {
	if l.onCheckpoint == nil {
		return
	}
	l.announceMu.Lock()
	defer l.announceMu.Unlock()
	l.mu.Lock()
	cps := l.unannounced
	l.unannounced = nil
	l.mu.Unlock()
	for _, cp := range cps {
		l.onCheckpoint(ctx, cp)
	}
}

// refuse is how Open reports a store that contradicts the outside world.
func refuse(kind error, format string, args ...any) error {
	return fmt.Errorf("%w: %w: %s; the bus must not build on it: restore the database from a backup taken after that checkpoint, and run lgsp audit verify for details",
		ErrTampered, kind, fmt.Sprintf(format, args...))
}

// checkKnown compares the known checkpoints with the store and returns the
// stored entry of the newest one (nil when there is none still stored).
// A checkpoint of Size entries is always entry Size+1 (it covers exactly
// the entries before it), so its place in the store needs no trust in
// anything but its signed size.
func (l *Log) checkKnown(ctx context.Context, s start) (*store.AuditEntry, error) {
	if len(l.known) == 0 {
		return nil, nil
	}
	known := append([]Known(nil), l.known...)
	sort.Slice(known, func(i, j int) bool { return known[i].Size > known[j].Size })
	var end int64
	switch last, err := l.st.LastAudit(ctx); {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return nil, fmt.Errorf("audit: read the last entry: %w", err)
	default:
		end = last.Seq
	}
	var newest *store.AuditEntry
	for _, k := range known {
		if err := k.Verify(l.PublicKey()); err != nil {
			return nil, fmt.Errorf("audit: the checkpoint of %d entries from %s is not signed by this bus's key (a different audit.signing_key?): %w", k.Size, k.From, err)
		}
		seq := k.Size + 1
		if seq > end {
			return nil, refuse(ErrCut, "the store ends at entry %d but the checkpoint at entry %d (covering entries 1..%d, signed %s) was witnessed by %s: %d > %d",
				end, seq, k.Size, k.Time.Format("2006-01-02T15:04:05Z07:00"), k.From, seq, end)
		}
		if s.first == 0 || seq < s.first {
			continue // deleted under retention since: the retention anchor stands for it
		}
		page, err := l.st.ListAudit(ctx, store.AuditQuery{AfterSeq: seq - 1, Limit: 1})
		if err != nil {
			return nil, fmt.Errorf("audit: read entry %d: %w", seq, err)
		}
		if len(page) == 0 || page[0].Seq != seq {
			return nil, refuse(ErrCut, "entry %d, the checkpoint witnessed by %s, is missing from the store", seq, k.From)
		}
		e := page[0]
		cp, err := ParseCheckpoint(e)
		if err != nil || cp.Size != k.Size || !bytes.Equal(cp.Root, k.Root) {
			return nil, refuse(ErrForked, "the store's entry %d is not the checkpoint witnessed by %s (the store's root at size %d differs from the witnessed root %x)",
				seq, k.From, k.Size, k.Root)
		}
		if newest == nil {
			newest = &e
		}
	}
	return newest, nil
}

// checkTailCheckpoint checks a checkpoint met while Open re-reads the
// entries after the one it resumed from: it must cover exactly the entries
// before it, with their root, under this bus's signature.
func (l *Log) checkTailCheckpoint(e *store.AuditEntry) error {
	cp, err := ParseCheckpoint(*e)
	if err != nil {
		return fmt.Errorf("%w: %v; run lgsp audit verify", ErrTampered, err)
	}
	if cp.Size != l.tree.size || !bytes.Equal(cp.Root, l.tree.root()) {
		return fmt.Errorf("%w: checkpoint %d does not match the entries before it (the log was rewritten); run lgsp audit verify", ErrTampered, e.Seq)
	}
	if err := cp.Verify(l.PublicKey()); err != nil {
		return fmt.Errorf("%w: checkpoint %d: %v; run lgsp audit verify", ErrTampered, e.Seq, err)
	}
	return nil
}
