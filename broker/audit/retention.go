package audit

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/lgsp-bus/lgsp/broker/store"
)

// ActionRetention marks the entry that records a deletion under the
// retention setting. Entries First..Through were deleted; RequestID holds
// "first=<n> through=<n> last=<hex>" (last: the chain hash of entry
// Through, which entry Through+1 chains to) and Reason "frontier=<hex>,…",
// the Merkle frontier (compact range) of entries 1..Through: the roots of
// the perfect subtrees that size decomposes into, largest first. From that
// anchor the remaining log verifies as if nothing had been deleted: the
// chain continues from last, and every later checkpoint's root is computed
// from the frontier plus the remaining leaves.
//
// Prune only ever cuts right before a checkpoint, so a pruned log begins
// with a signed checkpoint of size Through; VerifyLog checks the anchor's
// frontier against that signed root, so the anchor cannot be forged either.
const ActionRetention = "audit.retention"

// Retention is the parsed record of one deletion.
type Retention struct {
	First    int64     `json:"first"`   // first deleted entry
	Through  int64     `json:"through"` // last deleted entry
	LastHash []byte    `json:"last_hash"`
	Frontier [][]byte  `json:"frontier"`
	Seq      int64     `json:"seq"` // the retention entry's own seq
	Time     time.Time `json:"time"`
	hash     []byte
}

func (r Retention) entry() store.AuditEntry {
	return store.AuditEntry{Time: r.Time, Actor: "lgsp", Action: ActionRetention, Decision: "allow",
		RequestID: fmt.Sprintf("first=%d through=%d last=%s", r.First, r.Through, hex.EncodeToString(r.LastHash)),
		Reason:    "frontier=" + encodeNodes(r.Frontier)}
}

// ParseRetention reads a retention entry.
func ParseRetention(e store.AuditEntry) (Retention, error) {
	if e.Action != ActionRetention {
		return Retention{}, errors.New("audit: not a retention entry")
	}
	r := Retention{Seq: e.Seq, Time: e.Time, hash: e.Hash}
	bad := func(what string, err error) (Retention, error) {
		return Retention{}, fmt.Errorf("audit: retention entry %d: %s: %v", e.Seq, what, err)
	}
	var err error
	for _, f := range strings.Fields(e.RequestID) {
		k, v, _ := strings.Cut(f, "=")
		switch k {
		case "first":
			if r.First, err = strconv.ParseInt(v, 10, 64); err != nil {
				return bad("first", err)
			}
		case "through":
			if r.Through, err = strconv.ParseInt(v, 10, 64); err != nil {
				return bad("through", err)
			}
		case "last":
			if r.LastHash, err = hex.DecodeString(v); err != nil {
				return bad("last", err)
			}
		}
	}
	fr, ok := strings.CutPrefix(e.Reason, "frontier=")
	if !ok {
		return bad("frontier", errors.New("missing"))
	}
	if r.Frontier, err = decodeNodes(fr); err != nil {
		return bad("frontier", err)
	}
	if r.First < 1 || r.Through < r.First || r.Through >= e.Seq {
		return bad("range", fmt.Errorf("first=%d through=%d in entry %d", r.First, r.Through, e.Seq))
	}
	if _, err := r.frontier(); err != nil {
		return bad("frontier", err)
	}
	return r, nil
}

// frontier rebuilds the compact range of entries 1..Through.
func (r Retention) frontier() (frontier, error) { return frontierOf(r.Through, r.Frontier) }

func (f *frontier) clone() frontier {
	return frontier{size: f.size, nodes: append([][]byte(nil), f.nodes...), sizes: append([]int64(nil), f.sizes...)}
}

// findRetention looks for the retention entry that records the deletion of
// entries up to through. It returns it (nil when there is none) and the
// highest Through among the other retention entries below through (0 when
// none), which tells where an unrecorded deletion starts.
func findRetention(ctx context.Context, st store.AuditStore, through int64) (*Retention, int64, error) {
	var best int64
	consider := func(e store.AuditEntry) *Retention {
		if e.Action != ActionRetention {
			return nil
		}
		r, err := ParseRetention(e)
		if err != nil {
			return nil
		}
		if r.Through == through {
			return &r
		}
		if r.Through < through && r.Through > best {
			best = r.Through
		}
		return nil
	}
	if s, ok := st.(store.AuditSearcher); ok {
		// Newest first: a log pruned repeatedly is anchored by its latest
		// retention entry.
		before := int64(0)
		for {
			page, err := s.SearchAudit(ctx, store.AuditSearch{Actor: "lgsp", Action: ActionRetention, Newest: true, BeforeSeq: before, Limit: 100})
			if err != nil {
				return nil, 0, fmt.Errorf("audit: look for retention entries: %w", err)
			}
			for _, e := range page {
				if r := consider(e); r != nil {
					return r, best, nil
				}
			}
			if len(page) == 0 {
				return nil, best, nil
			}
			before = page[len(page)-1].Seq
		}
	}
	// Without a searcher: retention entries are the bus's own ("lgsp"), as
	// are checkpoints; the actor index finds them.
	var found *Retention
	after := through
	for {
		page, err := st.ListAudit(ctx, store.AuditQuery{Actor: "lgsp", AfterSeq: after, Limit: 1000})
		if err != nil {
			return nil, 0, fmt.Errorf("audit: look for retention entries: %w", err)
		}
		for _, e := range page {
			if r := consider(e); r != nil {
				found = r
			}
		}
		if len(page) == 0 {
			return found, best, nil
		}
		after = page[len(page)-1].Seq
	}
}

// ErrUnanchored marks a log whose first entries are gone with no retention
// entry that records their deletion.
var ErrUnanchored = errors.New("audit: the log's first entries are missing and no retention entry records their deletion")

// start is where reading the stored log begins: the first stored seq, and
// the chain hash and Merkle frontier of everything before it (from the
// retention anchor when the log was pruned).
type start struct {
	first  int64 // first stored seq (0: empty log)
	prev   []byte
	tree   frontier
	anchor *Retention
	best   int64 // when unanchored: the last entry a valid retention entry accounts for
	entry  store.AuditEntry
}

func logStart(ctx context.Context, st store.AuditStore) (start, error) {
	page, err := st.ListAudit(ctx, store.AuditQuery{Limit: 1})
	if err != nil {
		return start{}, fmt.Errorf("audit: read the first entry: %w", err)
	}
	if len(page) == 0 {
		return start{}, nil
	}
	s := start{first: page[0].Seq, entry: page[0]}
	if s.first <= 1 {
		return s, nil
	}
	a, best, err := findRetention(ctx, st, s.first-1)
	if err != nil {
		return s, err
	}
	if a == nil {
		s.best = best
		return s, fmt.Errorf("%w: entries %d..%d", ErrUnanchored, best+1, s.first-1)
	}
	if s.tree, err = a.frontier(); err != nil {
		return s, fmt.Errorf("audit: retention entry %d: %w", a.Seq, err)
	}
	s.prev, s.anchor = a.LastHash, a
	return s, nil
}

// PruneResult says what Prune deleted.
type PruneResult struct {
	// Deleted is the number of entries deleted (0: nothing was old enough
	// and covered by a checkpoint).
	Deleted int64
	// Retention is the entry that records the deletion.
	Retention *Retention
	// Checkpoint is the checkpoint signed right after it (nil without a signer).
	Checkpoint *Checkpoint
}

// Prune deletes the entries older than before, as a retention setting asks,
// and records the deletion in the log (see ActionRetention). It cuts right
// before the latest checkpoint all of whose covered entries are older than
// before, so some entries older than before may stay until the next
// checkpoint; a log with no such checkpoint is left as it is. It first
// re-verifies the chain of everything it is about to delete and refuses to
// delete a range that does not verify: tampering is reported, never
// destroyed. The store must implement store.AuditPruner.
func (l *Log) Prune(ctx context.Context, before time.Time) (PruneResult, error) {
	defer l.announce(ctx)
	return l.prune(ctx, func(e *store.AuditEntry) bool { return !e.Time.Before(before) })
}

// PruneThrough is Prune by position: it deletes at most the entries up to
// seq (cutting, as Prune does, right before a checkpoint).
func (l *Log) PruneThrough(ctx context.Context, seq int64) (PruneResult, error) {
	defer l.announce(ctx)
	return l.prune(ctx, func(e *store.AuditEntry) bool { return e.Seq > seq })
}

func (l *Log) prune(ctx context.Context, keep func(*store.AuditEntry) bool) (PruneResult, error) {
	var res PruneResult
	pr, ok := l.st.(store.AuditPruner)
	if !ok {
		return res, fmt.Errorf("audit: the store %T cannot prune the audit log", l.st)
	}
	l.pruneMu.Lock()
	defer l.pruneMu.Unlock()
	var pub ed25519.PublicKey
	if l.signer != nil {
		pub = l.PublicKey()
	}
	s, err := logStart(ctx, l.st)
	if err != nil || s.first == 0 {
		return res, err
	}
	// Scan from the first stored entry, verifying, and remember the last
	// checkpoint reached before the first entry to keep. The scanned
	// entries are old and immutable: no lock is held, appends go on.
	type cut struct {
		through  int64
		tree     frontier
		lastHash []byte
	}
	var best *cut
	f, prev := s.tree, s.prev
	end := l.Size()
	after := s.first - 1
scan:
	for after < end {
		page, err := l.st.ListAudit(ctx, store.AuditQuery{AfterSeq: after, Limit: 5000})
		if err != nil {
			return res, fmt.Errorf("audit: prune: read the log: %w", err)
		}
		if len(page) == 0 {
			break
		}
		for i := range page {
			e := &page[i]
			if e.Seq != f.size+1 || !bytes.Equal(e.PrevHash, prev) || !bytes.Equal(Hash(e), e.Hash) {
				return res, fmt.Errorf("audit: prune refused: entry %d does not verify; run lgsp audit verify (nothing was deleted)", f.size+1)
			}
			if e.Action == ActionCheckpoint {
				cp, err := ParseCheckpoint(*e)
				if err == nil && cp.Size == f.size && bytes.Equal(cp.Root, f.root()) && (pub == nil || cp.Verify(pub) == nil) {
					best = &cut{through: f.size, tree: f.clone(), lastHash: prev}
				}
			}
			if keep(e) || e.Seq >= end {
				break scan
			}
			f.append(LeafHash(e.Hash))
			prev = e.Hash
		}
		after = page[len(page)-1].Seq
	}
	if best == nil || best.through < s.first {
		return res, nil
	}
	r := Retention{First: s.first, Through: best.through, LastHash: best.lastHash, Frontier: best.tree.nodes,
		Time: time.Now().UTC().Truncate(time.Microsecond)}

	defer l.drain()()
	l.mu.Lock()
	defer l.mu.Unlock()
	rec := []store.AuditEntry{r.entry()}
	l.chainLocked(rec)
	if err := pr.PruneAudit(ctx, r.Through, rec); err != nil {
		return res, fmt.Errorf("audit: prune: %w", err)
	}
	l.committedLocked(rec)
	l.headToCommittedLocked()
	r.Seq, r.hash = rec[0].Seq, rec[0].Hash
	l.base = best.tree
	res.Deleted, res.Retention = r.Through-s.first+1, &r
	if l.signer != nil {
		cp, err := l.checkpointLocked(ctx)
		if err != nil {
			return res, fmt.Errorf("audit: prune: entries %d..%d were deleted and recorded, but the checkpoint after it failed: %w", r.First, r.Through, err)
		}
		res.Checkpoint = &cp
	}
	return res, nil
}
