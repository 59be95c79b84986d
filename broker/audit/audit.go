// Package audit owns the access log: every delivery and access is appended
// here, hash-chained to the entry before it, before it is served. Citizens
// appear only as a keyed HMAC of their personal number, so auditors can
// search by citizen while the log never holds the number in clear.
package audit

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lgsp-bus/lgsp/broker/store"
)

// Log appends to the store's audit table. Appends are serialised: the chain
// needs each entry's predecessor.
type Log struct {
	st     store.AuditStore
	key    []byte
	signer ed25519.PrivateKey
	macs   sync.Pool // HMAC-SHA256 states keyed with key, for CitizenKey (every access computes one)

	mu       sync.Mutex // held by the one writer; guards everything below
	lastSeq  int64
	lastHash []byte
	tree     frontier
	latest   *Checkpoint
	base     frontier // of the entries deleted under retention (1..base.size)

	pruneMu sync.Mutex // one Prune at a time

	qmu   sync.Mutex // guards queue and the chain head below
	queue []*pending
	// headSeq, headHash end the chain as far as it is built: the
	// committed entries and the groups being written on top of them.
	headSeq  int64
	headHash []byte
	tail     *group // the group chained last, until it is written
	// epoch counts the failed groups: a group chained in an earlier epoch
	// than its successor failed or is failing, and the head was rewound
	// to the committed entries before the successor was chained on it
	epoch uint64
	// writer holds one slot per group being written: two for a store that
	// can stage a group while the one before commits (store.AuditStager),
	// else one
	writer chan struct{}

	commits, committed atomic.Int64 // group commits and the entries they stored

	// known are the checkpoints held outside the store (see
	// WithKnownCheckpoints); onCheckpoint, unannounced and announceMu
	// publish new ones (see OnCheckpoint).
	known        []Known
	onCheckpoint func(context.Context, Checkpoint)
	unannounced  []Checkpoint // signed, not yet handed to onCheckpoint; guarded by mu
	announceMu   sync.Mutex   // keeps the hand-over in signing order
	drainMu      sync.Mutex   // one drain (checkpoint, prune) at a time
}

// Stats counts the group commits of Append since Open.
type Stats struct {
	Commits int64 // durable writes
	Entries int64 // entries they stored
}

// Stats reports how many entries the group commits stored and in how many
// writes: Entries/Commits is the mean group size.
func (l *Log) Stats() Stats {
	return Stats{Commits: l.commits.Load(), Entries: l.committed.Load()}
}

// group is one group commit in flight.
type group struct {
	prev  *group
	epoch uint64
	done  chan struct{} // closed once err is set
	err   error
}

// pending is an Append waiting for the group write that includes it.
type pending struct {
	entries []store.AuditEntry
	done    chan error
}

// Option configures a Log.
type Option func(*Log)

// WithSigner signs checkpoints with key; without it Checkpoint fails.
func WithSigner(key ed25519.PrivateKey) Option { return func(l *Log) { l.signer = key } }

// ErrTampered marks a log that Open found inconsistent: a stored frontier
// that does not hash to its signed root, a checkpoint not signed by this
// bus's key, or entries after the latest checkpoint that do not chain. The
// log is never repaired; run `lgsp audit verify` to find the first bad entry.
var ErrTampered = errors.New("audit: the stored log does not verify")

// Open resumes the chain from the last stored entry. key is the HMAC key for
// citizen numbers; keep it secret and stable, or searches by citizen break.
//
// With a signer, Open resumes the Merkle tree from the latest checkpoint:
// it takes the frontier stored with it only after checking that it hashes
// to the checkpoint's root and that the root's signature verifies with the
// signer's public key, and then reads and checks just the entries after it
// (their chain and hashes). Anything that does not check fails Open with
// ErrTampered rather than be built upon. Without a signer, or before the
// first checkpoint with a frontier, Open reads the whole log to rebuild the
// frontier. Either way it does not re-verify the entries before the
// checkpoint: that is VerifyLog's job (`lgsp audit verify`).
func Open(ctx context.Context, st store.AuditStore, key []byte, opts ...Option) (*Log, error) {
	if len(key) < 16 {
		return nil, errors.New("audit: HMAC key must be at least 16 bytes")
	}
	depth := 1
	if _, ok := st.(store.AuditStager); ok {
		depth = 2
	}
	l := &Log{st: st, key: key, writer: make(chan struct{}, depth)}
	for _, o := range opts {
		o(l)
	}
	s, err := logStart(ctx, st)
	if err != nil {
		return nil, fmt.Errorf("%w; run lgsp audit verify", err)
	}
	l.tree, l.lastHash = s.tree, s.prev
	l.lastSeq = s.tree.size
	l.base = s.tree.clone()
	checkTail := false
	if l.signer != nil {
		from, err := l.checkKnown(ctx, s)
		if err != nil {
			return nil, err
		}
		ok, err := l.resume(ctx, s, from)
		if err != nil {
			return nil, err
		}
		checkTail = ok
	}
	take := func(e *store.AuditEntry, leaf []byte) error {
		if checkTail {
			switch {
			case e.Seq != l.lastSeq+1:
				return fmt.Errorf("%w: entry %d is missing after the latest checkpoint (next found: %d); run lgsp audit verify", ErrTampered, l.lastSeq+1, e.Seq)
			case !bytes.Equal(e.PrevHash, l.lastHash):
				return fmt.Errorf("%w: entry %d does not chain to entry %d; run lgsp audit verify", ErrTampered, e.Seq, e.Seq-1)
			case !bytes.Equal(Hash(e), e.Hash):
				return fmt.Errorf("%w: entry %d was altered; run lgsp audit verify", ErrTampered, e.Seq)
			}
			if e.Action == ActionCheckpoint {
				if err := l.checkTailCheckpoint(e); err != nil {
					return err
				}
			}
		}
		if e.Action == ActionCheckpoint {
			if cp, err := ParseCheckpoint(*e); err == nil {
				l.latest = &cp
			}
		}
		l.tree.append(leaf)
		l.lastSeq, l.lastHash = e.Seq, e.Hash
		return nil
	}
	end, err := st.CountAudit(ctx)
	if err != nil {
		return nil, fmt.Errorf("audit: read the log size: %w", err)
	}
	var bad error
	if err := scanChunks(ctx, st, l.lastSeq+1, end, leafRun, func(h hashed) bool {
		for i := range h.entries {
			if bad = take(&h.entries[i], h.leaves[i]); bad != nil {
				return false
			}
		}
		return true
	}); err != nil {
		return nil, fmt.Errorf("audit: read the log: %w", err)
	}
	after := l.lastSeq
	for bad == nil {
		page, err := st.ListAudit(ctx, store.AuditQuery{AfterSeq: after, Limit: 5000})
		if err != nil {
			return nil, fmt.Errorf("audit: read the log: %w", err)
		}
		if len(page) == 0 {
			break
		}
		for i := range page {
			if bad = take(&page[i], LeafHash(page[i].Hash)); bad != nil {
				break
			}
		}
		after = page[len(page)-1].Seq
	}
	if bad != nil {
		return nil, bad
	}
	l.headSeq, l.headHash = l.lastSeq, l.lastHash
	return l, nil
}

// resume starts the tree at the latest checkpoint that has a frontier,
// once that frontier is shown to hash to the checkpoint's signed root; it
// reports false (start from the beginning) when there is no such
// checkpoint or the store cannot search for one.
//
// from, when not nil, is the stored entry of the newest checkpoint known
// outside the store (checkKnown): the tree starts there instead, so every
// entry after what the outside world has seen is re-checked.
func (l *Log) resume(ctx context.Context, s start, from *store.AuditEntry) (bool, error) {
	if s.first == 0 {
		return false, nil
	}
	var e store.AuditEntry
	if from != nil {
		e = *from
	} else {
		sr, ok := l.st.(store.AuditSearcher)
		if !ok {
			return false, nil
		}
		page, err := sr.SearchAudit(ctx, store.AuditSearch{Actor: "lgsp", Action: ActionCheckpoint, Newest: true, Limit: 1})
		if err != nil {
			return false, fmt.Errorf("audit: look for the latest checkpoint: %w", err)
		}
		if len(page) == 0 {
			return false, nil
		}
		e = page[0]
	}
	bad := func(format string, args ...any) (bool, error) {
		return false, fmt.Errorf("%w: checkpoint %d: %s; run lgsp audit verify", ErrTampered, e.Seq, fmt.Sprintf(format, args...))
	}
	cp, err := ParseCheckpoint(e)
	if err != nil {
		return bad("%v", err)
	}
	if cp.frontier == nil {
		return false, nil // written before checkpoints carried one
	}
	if !bytes.Equal(Hash(&e), e.Hash) {
		return bad("the entry was altered (its content does not match its hash)")
	}
	if cp.Size != e.Seq-1 {
		return bad("it covers %d entries but %d precede it", cp.Size, e.Seq-1)
	}
	if err := cp.Verify(l.PublicKey()); err != nil {
		return bad("its signature does not verify with this bus's signing key (the key changed or the log was rewritten)")
	}
	f, _, err := cp.checkedFrontier()
	if err != nil {
		return bad("%v", err)
	}
	// The checkpoint must chain to the entry before it (or, right after a
	// pruned range, to the retention anchor).
	prev := s.prev
	if e.Seq > s.first {
		before, err := l.st.ListAudit(ctx, store.AuditQuery{AfterSeq: e.Seq - 2, Limit: 1})
		if err != nil {
			return false, fmt.Errorf("audit: read entry %d: %w", e.Seq-1, err)
		}
		if len(before) == 0 || before[0].Seq != e.Seq-1 {
			return bad("entry %d before it is missing", e.Seq-1)
		}
		prev = before[0].Hash
	}
	if !bytes.Equal(e.PrevHash, prev) {
		return bad("it does not chain to entry %d", e.Seq-1)
	}
	l.tree, l.lastSeq, l.lastHash = f, cp.Size, prev
	return true, nil
}

// PublicKey is the checkpoint verification key (nil without a signer).
func (l *Log) PublicKey() ed25519.PublicKey {
	if l.signer == nil {
		return nil
	}
	return l.signer.Public().(ed25519.PublicKey)
}

// Size is the number of entries.
func (l *Log) Size() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lastSeq
}

// Latest returns the latest checkpoint, if any.
func (l *Log) Latest() (Checkpoint, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.latest == nil {
		return Checkpoint{}, false
	}
	return *l.latest, true
}

// Checkpoint signs the current Merkle root and appends it as an entry. It is
// a no-op when nothing was appended since the latest checkpoint.
func (l *Log) Checkpoint(ctx context.Context) (Checkpoint, error) {
	if l.signer == nil {
		return Checkpoint{}, errors.New("audit: no signing key configured for checkpoints")
	}
	cp, err := l.checkpoint(ctx)
	l.announce(ctx)
	return cp, err
}

func (l *Log) checkpoint(ctx context.Context) (Checkpoint, error) {
	defer l.drain()()
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.checkpointLocked(ctx)
}

// drain waits until no group is being written and keeps new ones from
// starting until the returned function is called, so the caller can chain
// entries on the committed log (appendLocked).
func (l *Log) drain() (undrain func()) {
	// One drain at a time: two taking slots at once would each hold some
	// and wait for the other's forever.
	l.drainMu.Lock()
	for range cap(l.writer) {
		l.writer <- struct{}{}
	}
	return func() {
		for range cap(l.writer) {
			<-l.writer
		}
		l.drainMu.Unlock()
	}
}

func (l *Log) checkpointLocked(ctx context.Context) (Checkpoint, error) {
	var cp Checkpoint
	for attempt := 0; ; attempt++ {
		if l.latest != nil && l.latest.Seq == l.lastSeq {
			return *l.latest, nil
		}
		cp = Checkpoint{Size: l.tree.size, Root: l.tree.root(), Time: time.Now().UTC().Truncate(time.Microsecond)}
		cp.Signature = ed25519.Sign(l.signer, cp.Message())
		e := checkpointEntry(cp, l.tree)
		err := l.appendLocked(ctx, []store.AuditEntry{e})
		if err == nil {
			break
		}
		if !errors.Is(err, store.ErrChainMoved) || attempt >= maxChainMoves {
			return Checkpoint{}, err
		}
		// Another instance appended first: take its entries in and sign
		// the tree as it now is.
		if cerr := l.catchUpLocked(ctx); cerr != nil {
			return Checkpoint{}, fmt.Errorf("audit: checkpoint: another writer appended first and its entries could not be taken in: %w", cerr)
		}
		l.headToCommittedLocked()
	}
	cp.Seq = l.lastSeq
	l.latest = &cp
	if l.onCheckpoint != nil {
		l.unannounced = append(l.unannounced, cp)
	}
	return cp, nil
}

// ErrBeyondLog marks a proof asked for past the current log size.
var ErrBeyondLog = errors.New("audit: past the end of the log")

// InclusionProof proves entry seq is in the log of the given size.
func (l *Log) InclusionProof(ctx context.Context, seq, size int64) ([][]byte, []byte, error) {
	if size > l.Size() || seq < 1 || seq > size {
		return nil, nil, fmt.Errorf("%w: entry %d in a log of size %d (current size %d)", ErrBeyondLog, seq, size, l.Size())
	}
	t, err := l.treeAt(ctx, size)
	if err != nil {
		return nil, nil, err
	}
	p, err := t.inclusion(int(seq - 1))
	if err != nil {
		return nil, nil, err
	}
	return p, t.leaves[seq-1-t.base.size], nil
}

// InclusionProofs proves each of seqs in the log of the given size, reading
// the log once (for exports).
func (l *Log) InclusionProofs(ctx context.Context, size int64, seqs []int64) (map[int64][][]byte, error) {
	if size > l.Size() || size < 0 {
		return nil, fmt.Errorf("%w: size %d (current size %d)", ErrBeyondLog, size, l.Size())
	}
	t, err := l.treeAt(ctx, size)
	if err != nil {
		return nil, err
	}
	out := make(map[int64][][]byte, len(seqs))
	for _, s := range seqs {
		p, err := t.inclusion(int(s - 1))
		if err != nil {
			return nil, err
		}
		out[s] = p
	}
	return out, nil
}

// ConsistencyProof proves the log of size first is a prefix of the log of size second.
func (l *Log) ConsistencyProof(ctx context.Context, first, second int64) ([][]byte, error) {
	if second > l.Size() || first < 1 || first > second {
		return nil, fmt.Errorf("%w: sizes %d and %d (current size %d)", ErrBeyondLog, first, second, l.Size())
	}
	t, err := l.treeAt(ctx, second)
	if err != nil {
		return nil, err
	}
	if first < t.base.size {
		return nil, fmt.Errorf("%w (the log was pruned through entry %d; asked from size %d)", ErrPruned, t.base.size, first)
	}
	return t.consistency(int(first))
}

// RootAt is the Merkle root of the first size entries.
func (l *Log) RootAt(ctx context.Context, size int64) ([]byte, error) {
	if size > l.Size() || size < 0 {
		return nil, fmt.Errorf("%w: size %d (current size %d)", ErrBeyondLog, size, l.Size())
	}
	t, err := l.treeAt(ctx, size)
	if err != nil {
		return nil, err
	}
	r := t.root()
	return r, t.err
}

// CitizenKey is the searchable, non-reversible key of a personal number.
func (l *Log) CitizenKey(personalNumber string) string {
	if personalNumber == "" {
		return ""
	}
	m, _ := l.macs.Get().(hash.Hash)
	if m == nil {
		m = hmac.New(sha256.New, l.key)
	}
	m.Reset()
	m.Write([]byte(personalNumber))
	var sum [sha256.Size]byte
	var out [2 * sha256.Size]byte
	hex.Encode(out[:], m.Sum(sum[:0]))
	l.macs.Put(m)
	return string(out[:])
}

// Append assigns sequence numbers, chains and durably stores entries. If it
// fails nothing of them is stored and the caller must not serve the access
// (fail closed).
//
// Group commit: concurrent Appends queue up; whichever caller gets a writer
// slot chains everything queued and writes it in one transaction, answering
// the others, so many concurrent appends share one durable write. On a
// store.AuditStager a second group is chained and staged while the first
// one commits; commits stay in order, and a group chained on one that
// failed fails too.
//
// Several bus instances append to one log: when another one appended
// first, the log catches up with its entries (checked like the log's own)
// and chains the batch after them again, so a clash never reaches the
// caller unless it keeps happening.
func (l *Log) Append(ctx context.Context, entries []store.AuditEntry) error {
	if len(entries) == 0 {
		return nil
	}
	var err error
	for attempt := 0; attempt < maxChainMoves; attempt++ {
		if err = l.appendOnce(ctx, entries); err == nil || !errors.Is(err, store.ErrChainMoved) || ctx.Err() != nil {
			return err
		}
	}
	return err
}

// maxChainMoves bounds how often one append is chained again after other
// writers came first.
const maxChainMoves = 100

func (l *Log) appendOnce(ctx context.Context, entries []store.AuditEntry) error {
	me := &pending{entries: entries, done: make(chan error, 1)}
	l.qmu.Lock()
	l.queue = append(l.queue, me)
	l.qmu.Unlock()
	for {
		select {
		case err := <-me.done: // a writer included these entries
			return err
		case l.writer <- struct{}{}: // this caller writes for everyone queued
			l.flush(ctx)
			<-l.writer
		}
	}
}

// flush chains every queued append on the head of the chain and writes
// them as one group; callers hold a writer slot.
func (l *Log) flush(ctx context.Context) {
	l.qmu.Lock()
	pend := l.queue
	l.queue = nil
	if len(pend) == 0 {
		l.qmu.Unlock()
		return
	}
	var all []store.AuditEntry
	for _, p := range pend {
		all = append(all, p.entries...)
	}
	chain(all, l.headSeq, l.headHash)
	last := &all[len(all)-1]
	l.headSeq, l.headHash = last.Seq, last.Hash
	g := &group{prev: l.tail, epoch: l.epoch, done: make(chan struct{})}
	l.tail = g
	l.qmu.Unlock()

	err := l.write(ctx, g, all)
	if err == nil {
		l.commits.Add(1)
		l.committed.Add(int64(len(all)))
		l.mu.Lock()
		l.committedLocked(all)
		l.mu.Unlock()
	} else {
		err = fmt.Errorf("audit: append %d entries (access must not be served): %w", len(all), err)
		l.mu.Lock()
		if errors.Is(err, store.ErrChainMoved) {
			if cerr := l.catchUpLocked(ctx); cerr != nil {
				err = fmt.Errorf("audit: another writer appended first, and its entries could not be taken in (access must not be served): %v", cerr)
			}
		}
		seq, hash := l.lastSeq, l.lastHash
		l.mu.Unlock()
		l.qmu.Lock()
		if g.epoch == l.epoch { // rewind the head: later groups chain on the committed log
			l.epoch++
			l.headSeq, l.headHash = seq, hash
		}
		l.qmu.Unlock()
	}
	l.qmu.Lock()
	if l.tail == g {
		l.tail = nil
	}
	l.qmu.Unlock()
	g.err = err
	close(g.done)

	off := 0
	for _, p := range pend {
		if err == nil {
			off += copy(p.entries, all[off:off+len(p.entries)])
		}
		p.done <- err
	}
}

// write stores a chained group once the group before it is committed:
// staged meanwhile where the store can, else written after it.
func (l *Log) write(ctx context.Context, g *group, entries []store.AuditEntry) error {
	var staged store.StagedAudit
	var err error
	if sg, ok := l.st.(store.AuditStager); ok {
		staged, err = sg.StageAudit(ctx, entries)
	}
	if g.prev != nil {
		<-g.prev.done
		if err == nil && g.prev.err != nil && g.prev.epoch == g.epoch {
			err = fmt.Errorf("the group it was chained on failed: %w", g.prev.err)
		}
	}
	switch {
	case err != nil && staged != nil:
		staged.Rollback(ctx)
	case err != nil:
	case staged != nil:
		err = staged.Commit(ctx)
	default:
		err = l.st.AppendAudit(ctx, entries)
	}
	return err
}

// appendLocked writes entries on the committed log, after the caller
// drained the group commits (drain) and while it holds l.mu.
func (l *Log) appendLocked(ctx context.Context, entries []store.AuditEntry) error {
	l.chainLocked(entries)
	if err := l.st.AppendAudit(ctx, entries); err != nil {
		return fmt.Errorf("audit: append %d entries (access must not be served): %w", len(entries), err)
	}
	l.committedLocked(entries)
	l.headToCommittedLocked()
	return nil
}

// catchUpLocked takes in the entries other writers stored after the last
// one this log knows, checking each as Open checks the tail: numbered
// without a gap, chained to the one before and matching its own hash. A
// checkpoint among them (signed by another instance with the same key)
// becomes the latest. The caller holds l.mu.
func (l *Log) catchUpLocked(ctx context.Context) error {
	for {
		page, err := l.st.ListAudit(ctx, store.AuditQuery{AfterSeq: l.lastSeq, Limit: 1000})
		if err != nil {
			return fmt.Errorf("read the entries after %d: %w", l.lastSeq, err)
		}
		if len(page) == 0 {
			return nil
		}
		for i := range page {
			e := &page[i]
			switch {
			case e.Seq != l.lastSeq+1:
				return fmt.Errorf("%w: entry %d is missing after entry %d (next found: %d); run lgsp audit verify", ErrTampered, l.lastSeq+1, l.lastSeq, e.Seq)
			case !bytes.Equal(e.PrevHash, l.lastHash):
				return fmt.Errorf("%w: entry %d does not chain to entry %d; run lgsp audit verify", ErrTampered, e.Seq, e.Seq-1)
			case !bytes.Equal(Hash(e), e.Hash):
				return fmt.Errorf("%w: entry %d was altered; run lgsp audit verify", ErrTampered, e.Seq)
			}
			if e.Action == ActionCheckpoint {
				if cp, err := ParseCheckpoint(*e); err == nil && l.signer != nil && ed25519.Verify(l.signer.Public().(ed25519.PublicKey), cp.Message(), cp.Signature) {
					l.latest = &cp
				}
			}
			l.tree.append(LeafHash(e.Hash))
			l.lastSeq, l.lastHash = e.Seq, e.Hash
		}
	}
}

// chainLocked numbers, timestamps and chains entries after the last
// committed one; the group commits must be drained.
func (l *Log) chainLocked(entries []store.AuditEntry) {
	chain(entries, l.lastSeq, l.lastHash)
}

// headToCommittedLocked puts the head of the chain on the last committed
// entry, after entries were written with the group commits drained.
func (l *Log) headToCommittedLocked() {
	l.qmu.Lock()
	l.headSeq, l.headHash = l.lastSeq, l.lastHash
	l.qmu.Unlock()
}

// chain numbers, timestamps and chains entries after entry seq, whose hash
// is prev.
func chain(entries []store.AuditEntry, seq int64, prev []byte) {
	for i := range entries {
		e := &entries[i]
		seq++
		e.Seq = seq
		if e.Time.IsZero() {
			e.Time = time.Now()
		}
		e.Time = e.Time.UTC().Truncate(time.Microsecond)
		if !e.HiddenUntil.IsZero() {
			e.HiddenUntil = e.HiddenUntil.UTC().Truncate(time.Microsecond)
		}
		e.PrevHash = prev
		e.Hash = Hash(e)
		prev = e.Hash
	}
}

// committedLocked advances the log past entries, once they are stored.
func (l *Log) committedLocked(entries []store.AuditEntry) {
	for i := range entries {
		l.tree.append(LeafHash(entries[i].Hash))
	}
	last := &entries[len(entries)-1]
	l.lastSeq, l.lastHash = last.Seq, last.Hash
}

// Hash is SHA-256 over the previous hash and every field of e, each
// length-prefixed so no two different entries encode alike.
func Hash(e *store.AuditEntry) []byte {
	bp := hashBufs.Get().(*[]byte)
	b := hashInput((*bp)[:0], e)
	sum := sha256.Sum256(b)
	*bp = b
	hashBufs.Put(bp)
	return sum[:]
}

var hashBufs = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// hashInput appends the byte string Hash digests: the sequence number, then
// each field with its length before it, big-endian 64-bit.
func hashInput(b []byte, e *store.AuditEntry) []byte {
	b = binary.BigEndian.AppendUint64(b, uint64(e.Seq))
	b = binary.BigEndian.AppendUint64(b, uint64(len(e.PrevHash)))
	b = append(b, e.PrevHash...)
	// The time as RFC 3339 with nanoseconds, length-prefixed: format in
	// place after a placeholder length.
	at := len(b)
	b = binary.BigEndian.AppendUint64(b, 0)
	b = e.Time.UTC().AppendFormat(b, time.RFC3339Nano)
	binary.BigEndian.PutUint64(b[at:], uint64(len(b)-at-8))
	for _, s := range [...]string{e.Actor, e.Action, e.Dataset, e.Purpose, e.LegalBasis, e.AgreementID, e.Decision, e.Reason, e.RequestID, e.CitizenKey} {
		b = binary.BigEndian.AppendUint64(b, uint64(len(s)))
		b = append(b, s...)
	}
	b = binary.BigEndian.AppendUint64(b, uint64(len(e.Fields)))
	for _, f := range e.Fields {
		b = binary.BigEndian.AppendUint64(b, uint64(len(f)))
		b = append(b, f...)
	}
	// Added later: only a non-zero HiddenUntil is digested, after a tag,
	// so every entry written before it existed keeps its hash.
	if !e.HiddenUntil.IsZero() {
		b = binary.BigEndian.AppendUint64(b, uint64(len(hiddenTag)))
		b = append(b, hiddenTag...)
		at := len(b)
		b = binary.BigEndian.AppendUint64(b, 0)
		b = e.HiddenUntil.UTC().AppendFormat(b, time.RFC3339Nano)
		binary.BigEndian.PutUint64(b[at:], uint64(len(b)-at-8))
	}
	return b
}

const hiddenTag = "hidden_until"

// Verify re-checks the chain of entries as read back from the store and
// returns the sequence number of the first bad entry (0 when all are good).
func Verify(entries []store.AuditEntry, prev []byte) (int64, error) {
	for i := range entries {
		e := &entries[i]
		if !hmac.Equal(e.PrevHash, prev) {
			return e.Seq, fmt.Errorf("audit: entry %d does not chain to its predecessor", e.Seq)
		}
		if !hmac.Equal(Hash(e), e.Hash) {
			return e.Seq, fmt.Errorf("audit: entry %d was altered", e.Seq)
		}
		prev = e.Hash
	}
	return 0, nil
}
