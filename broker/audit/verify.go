package audit

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"github.com/bits-and-blooms/bloom/v3"
	"runtime"
	"sort"

	"github.com/lgsp-bus/lgsp/broker/store"
)

// verifyChunk is how many entries one verify worker reads and hashes at a
// time.
const verifyChunk = 20_000

// hashed is a run of consecutive stored entries with the work that does not
// depend on the entries before them done: whether each matches its own
// hash, and its Merkle leaf.
type hashed struct {
	entries []store.AuditEntry
	ok      []bool
	leaves  [][]byte
	err     error
	// unfiltered is the first entry whose bucket's search filter does not
	// hold its citizen key or request id (0: none), and which key
	unfiltered int64
	key        string
}

// searchFilters are a store's bucket filters, read once for verification.
type searchFilters struct{ cit, req map[int64]*bloom.BloomFilter }

func loadSearchFilters(ctx context.Context, st store.AuditStore) (*searchFilters, error) {
	fs, ok := st.(store.AuditFilterStore)
	if !ok {
		return nil, nil
	}
	rows, err := fs.AuditFilters(ctx)
	if err != nil {
		return nil, fmt.Errorf("audit: read the search filters: %w", err)
	}
	sf := &searchFilters{cit: map[int64]*bloom.BloomFilter{}, req: map[int64]*bloom.BloomFilter{}}
	for _, r := range rows {
		c, q := &bloom.BloomFilter{}, &bloom.BloomFilter{}
		if c.UnmarshalBinary(r.Citizens) != nil || q.UnmarshalBinary(r.Requests) != nil {
			// unreadable: searches treat it as absent and visit the bucket
			continue
		}
		sf.cit[r.Bucket], sf.req[r.Bucket] = c, q
	}
	return sf, nil
}

// check finds the first entry of h the filters would hide from a search.
func (sf *searchFilters) check(h *hashed) {
	if sf == nil {
		return
	}
	for i := range h.entries {
		e := &h.entries[i]
		b := e.Seq >> store.AuditBucketShift
		if f := sf.cit[b]; f != nil && e.CitizenKey != "" && !f.TestString(e.CitizenKey) {
			h.unfiltered, h.key = e.Seq, "citizen key"
			return
		}
		if f := sf.req[b]; f != nil && e.RequestID != "" && !f.TestString(e.RequestID) {
			h.unfiltered, h.key = e.Seq, "request id"
			return
		}
	}
}

func hashRun(entries []store.AuditEntry) hashed {
	h := hashed{entries: entries, ok: make([]bool, len(entries)), leaves: make([][]byte, len(entries))}
	for i := range entries {
		e := &entries[i]
		h.ok[i] = bytes.Equal(Hash(e), e.Hash)
		h.leaves[i] = LeafHash(e.Hash)
	}
	return h
}

// readRange reads the stored entries with seq in [from, to].
func readRange(ctx context.Context, st store.AuditStore, from, to int64) ([]store.AuditEntry, error) {
	out := make([]store.AuditEntry, 0, to-from+1)
	after := from - 1
	for after < to {
		page, err := st.ListAudit(ctx, store.AuditQuery{AfterSeq: after, Limit: int(min(5000, to-after))})
		if err != nil {
			return nil, fmt.Errorf("audit: read log after entry %d: %w", after, err)
		}
		for _, e := range page {
			if e.Seq <= to {
				out = append(out, e)
			}
		}
		if len(page) == 0 {
			break
		}
		after = page[len(page)-1].Seq
	}
	return out, nil
}

// scanChunks reads the stored entries with seq in [from, end] in chunks on
// every core, runs work on each chunk there, and hands the results to
// consume in seq order; consume returning false stops the scan.
func scanChunks(ctx context.Context, st store.AuditStore, from, end int64, work func([]store.AuditEntry) hashed, consume func(hashed) bool) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type job struct {
		from, to int64
		out      chan hashed
	}
	workers := runtime.GOMAXPROCS(0)
	order := make(chan chan hashed, workers+1) // bounds the chunks in memory
	jobs := make(chan job)
	go func() {
		defer close(order)
		defer close(jobs)
		for ; from <= end; from += verifyChunk {
			j := job{from, min(from+verifyChunk-1, end), make(chan hashed, 1)}
			select {
			case order <- j.out:
			case <-ctx.Done():
				return
			}
			select {
			case jobs <- j:
			case <-ctx.Done():
				return
			}
		}
	}()
	for range workers {
		go func() {
			for j := range jobs {
				es, err := readRange(ctx, st, j.from, j.to)
				if err != nil {
					j.out <- hashed{err: err}
					continue
				}
				j.out <- work(es)
			}
		}()
	}
	for out := range order {
		var h hashed
		select {
		case h = <-out:
		case <-ctx.Done():
			return ctx.Err()
		}
		if h.err != nil {
			return h.err
		}
		if !consume(h) {
			return nil
		}
	}
	return nil
}

// leafRun is hashRun without the check of each entry's own hash.
func leafRun(entries []store.AuditEntry) hashed {
	h := hashed{entries: entries, leaves: make([][]byte, len(entries))}
	for i := range entries {
		h.leaves[i] = LeafHash(entries[i].Hash)
	}
	return h
}

// VerifyLog re-reads the whole log from the store in sequence order and
// checks every link of the hash chain, that sequence numbers have no gaps,
// and every checkpoint's Merkle root, signature and stored frontier (which
// Open resumes from). Editing, deleting, inserting or reordering a row is
// caught at that row by the chain; a chain recomputed by someone with
// database access is caught at the next checkpoint, whose signature they
// cannot forge.
//
// A pruned log (its first stored entry is not 1) verifies only from the
// retention entry that records the deletion (see ActionRetention): the chain
// continues from its last hash and the Merkle frontier from its compact
// range, and the first stored entry must be the signed checkpoint covering
// exactly the deleted entries, which proves the anchor. Deleting old entries
// any other way is reported at the first entry no retention entry accounts for.
//
// Reading and hashing run on every core, in chunks of consecutive entries;
// the checks that need the entries before (the chain, the tree, the
// checkpoints) run in order on the results.
func VerifyLog(ctx context.Context, st store.AuditStore, pub ed25519.PublicKey) (Report, error) {
	return VerifyLogWith(ctx, st, pub, nil)
}

// VerifyLogWith is VerifyLog that also checks the store against
// checkpoints held outside it (a Kafka topic, witnesses): the store must
// reach each one's size, and the Merkle root of its first Size entries
// must be the witnessed root. A store that falls short (cut, or a copy
// restored from before it) or diverges (forked, rewritten) is reported in
// Report.WitnessProblem. Each must carry the signature of pub; ones whose
// entries were since deleted under retention cannot be checked and are
// skipped.
func VerifyLogWith(ctx context.Context, st store.AuditStore, pub ed25519.PublicKey, witnessed []Known) (Report, error) {
	var rep Report
	ws, err := sortedWitnessed(witnessed, pub)
	if err != nil {
		return rep, err
	}
	s, err := logStart(ctx, st)
	if errors.Is(err, ErrUnanchored) {
		rep.FirstBad = s.best + 1
		rep.Problem = fmt.Sprintf("entries %d..%d are missing and no retention entry records their deletion", s.best+1, s.first-1)
		return rep, nil
	}
	if err != nil {
		return rep, err
	}
	prev, f := s.prev, s.tree
	if a := s.anchor; a != nil {
		rep.Pruned, rep.Retention = a.Through, a
		if s.entry.Action != ActionCheckpoint {
			rep.FirstBad = s.first
			rep.Problem = fmt.Sprintf("the log was pruned through entry %d, but entry %d is not the checkpoint that covers the pruned entries", a.Through, s.first)
			return rep, nil
		}
	}

	// The witnessed checkpoints, smallest first, are compared as the tree
	// reaches their size: one integer comparison per entry.
	for len(ws) > 0 && ws[0].Size < f.size {
		ws = ws[1:]
	}
	witness := func() bool {
		for len(ws) > 0 && ws[0].Size == f.size {
			if r := f.root(); !bytes.Equal(r, ws[0].Root) {
				rep.WitnessProblem = fmt.Sprintf("the store's root at size %d (%x) differs from the root witnessed by %s (%x): the log was forked or rewritten",
					f.size, r, ws[0].From, ws[0].Root)
				return false
			}
			rep.Witnessed = &ws[0]
			ws = ws[1:]
		}
		return true
	}
	// cut reports a store that ends before the newest witnessed checkpoint's
	// own entry (Size+1).
	var newestW *Known
	if len(ws) > 0 {
		newestW = &ws[len(ws)-1]
	}
	cut := func() {
		if w := newestW; rep.WitnessProblem == "" && w != nil && f.size < w.Size+1 {
			rep.WitnessProblem = fmt.Sprintf("the store ends at entry %d but the checkpoint at entry %d (covering entries 1..%d) was witnessed by %s: %d > %d, the log was cut",
				f.size, w.Size+1, w.Size, w.From, w.Size+1, f.size)
		}
	}
	if !witness() {
		return rep, nil
	}

	// check runs the in-order checks on one entry; false stops the scan.
	check := func(e *store.AuditEntry, hashOK bool, leaf []byte) bool {
		bad := func(format string, args ...any) bool {
			rep.FirstBad, rep.Problem = e.Seq, fmt.Sprintf(format, args...)
			return false
		}
		if next := f.size + 1; e.Seq != next {
			rep.FirstBad, rep.Problem = next, fmt.Sprintf("entry %d is missing (next entry found is %d)", next, e.Seq)
			return false
		}
		if len(ws) > 0 && ws[0].Size == f.size && !witness() {
			return false
		}
		if !bytes.Equal(e.PrevHash, prev) {
			return bad("entry %d does not chain to entry %d (deleted, inserted or reordered)", e.Seq, e.Seq-1)
		}
		if !hashOK {
			return bad("entry %d was altered (its content does not match its hash)", e.Seq)
		}
		if e.Action == ActionCheckpoint {
			cp, err := ParseCheckpoint(*e)
			if err != nil {
				return bad("%v", err)
			}
			if cp.Size != f.size {
				return bad("checkpoint %d covers %d entries, but %d precede it", e.Seq, cp.Size, f.size)
			}
			if !bytes.Equal(cp.Root, f.root()) {
				return bad("checkpoint %d: the Merkle root of entries 1..%d differs from the signed root (the log was rewritten)", e.Seq, cp.Size)
			}
			if err := cp.Verify(pub); err != nil {
				return bad("%v", err)
			}
			if cp.frontier != nil && !sameNodes(cp.frontier.nodes, f.nodes) {
				return bad("checkpoint %d: its stored Merkle frontier differs from the one of entries 1..%d (the frontier was altered)", e.Seq, cp.Size)
			}
			rep.Checkpoints++
			rep.Latest = &cp
		}
		if s.anchor != nil && e.Seq == s.anchor.Seq && !bytes.Equal(e.Hash, s.anchor.hash) {
			return bad("retention entry %d changed while it was being verified", e.Seq)
		}
		if e.Action == ActionRetention {
			if _, err := ParseRetention(*e); err != nil {
				return bad("%v", err)
			}
		}
		f.append(leaf)
		prev = e.Hash
		rep.Entries++
		if len(ws) > 0 && ws[0].Size == f.size {
			return witness()
		}
		return true
	}

	// The entries stored when verification starts, in parallel chunks;
	// the workers also check that each entry's bucket filter holds it.
	sf, err := loadSearchFilters(ctx, st)
	if err != nil {
		return rep, err
	}
	end, err := st.CountAudit(ctx)
	if err != nil {
		return rep, fmt.Errorf("audit: read the log size: %w", err)
	}
	stopped := false
	work := func(es []store.AuditEntry) hashed {
		h := hashRun(es)
		sf.check(&h)
		return h
	}
	err = scanChunks(ctx, st, f.size+1, end, work, func(h hashed) bool {
		if h.unfiltered != 0 && rep.SearchFilterProblem == "" {
			rep.SearchFilterProblem = fmt.Sprintf("the search filter of bucket %d does not hold the %s of entry %d: searches by it would miss the entry",
				h.unfiltered>>store.AuditBucketShift, h.key, h.unfiltered)
		}
		for i := range h.entries {
			if !check(&h.entries[i], h.ok[i], h.leaves[i]) {
				stopped = true
				return false
			}
		}
		return true
	})
	if err != nil || stopped {
		return rep, err
	}

	// Whatever was appended meanwhile, and whatever the chunks could not
	// account for (an entry past the size read at the start).
	after := f.size
	for {
		page, err := st.ListAudit(ctx, store.AuditQuery{AfterSeq: after, Limit: 5000})
		if err != nil {
			return rep, fmt.Errorf("audit: read log after entry %d: %w", after, err)
		}
		if len(page) == 0 {
			cut()
			return rep, nil
		}
		h := hashRun(page)
		for i := range page {
			if !check(&page[i], h.ok[i], h.leaves[i]) {
				return rep, nil
			}
		}
		after = page[len(page)-1].Seq
	}
}

func sameNodes(a, b [][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}

// sortedWitnessed checks the signatures of the witnessed checkpoints and
// sorts them by size.
func sortedWitnessed(witnessed []Known, pub ed25519.PublicKey) ([]Known, error) {
	ws := append([]Known(nil), witnessed...)
	for _, w := range ws {
		if err := w.Verify(pub); err != nil {
			return nil, fmt.Errorf("audit: the checkpoint of %d entries from %s is not signed by the bus's key: %w", w.Size, w.From, err)
		}
	}
	sort.Slice(ws, func(i, j int) bool { return ws[i].Size < ws[j].Size })
	return ws, nil
}
