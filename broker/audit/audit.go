// Package audit owns the access log: every delivery and access is appended
// here, hash-chained to the entry before it, before it is served. Citizens
// appear only as a keyed HMAC of their personal number, so auditors can
// search by citizen while the log never holds the number in clear.
package audit

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/lgsp-bus/lgsp/broker/store"
)

// Log appends to the store's audit table. Appends are serialised: the chain
// needs each entry's predecessor.
type Log struct {
	st  store.AuditStore
	key []byte

	mu       sync.Mutex
	lastSeq  int64
	lastHash []byte
}

// Open resumes the chain from the last stored entry. key is the HMAC key for
// citizen numbers; keep it secret and stable, or searches by citizen break.
func Open(ctx context.Context, st store.AuditStore, key []byte) (*Log, error) {
	if len(key) < 16 {
		return nil, errors.New("audit: HMAC key must be at least 16 bytes")
	}
	l := &Log{st: st, key: key}
	last, err := st.LastAudit(ctx)
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return nil, fmt.Errorf("audit: read last entry: %w", err)
	default:
		l.lastSeq, l.lastHash = last.Seq, last.Hash
	}
	return l, nil
}

// CitizenKey is the searchable, non-reversible key of a personal number.
func (l *Log) CitizenKey(personalNumber string) string {
	if personalNumber == "" {
		return ""
	}
	m := hmac.New(sha256.New, l.key)
	m.Write([]byte(personalNumber))
	return hex.EncodeToString(m.Sum(nil))
}

// Append assigns sequence numbers, chains and durably stores entries in one
// write. If it fails nothing is stored and the caller must not serve the
// access (fail closed).
func (l *Log) Append(ctx context.Context, entries []store.AuditEntry) error {
	if len(entries) == 0 {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	seq, prev := l.lastSeq, l.lastHash
	for i := range entries {
		e := &entries[i]
		seq++
		e.Seq = seq
		if e.Time.IsZero() {
			e.Time = time.Now()
		}
		e.Time = e.Time.UTC().Truncate(time.Microsecond)
		e.PrevHash = prev
		e.Hash = Hash(e)
		prev = e.Hash
	}
	if err := l.st.AppendAudit(ctx, entries); err != nil {
		return fmt.Errorf("audit: append %d entries (access must not be served): %w", len(entries), err)
	}
	l.lastSeq, l.lastHash = seq, prev
	return nil
}

// Hash is SHA-256 over the previous hash and every field of e, each
// length-prefixed so no two different entries encode alike.
func Hash(e *store.AuditEntry) []byte {
	h := sha256.New()
	var n [8]byte
	put := func(b []byte) {
		binary.BigEndian.PutUint64(n[:], uint64(len(b)))
		h.Write(n[:])
		h.Write(b)
	}
	binary.BigEndian.PutUint64(n[:], uint64(e.Seq))
	h.Write(n[:])
	put(e.PrevHash)
	put([]byte(e.Time.UTC().Format(time.RFC3339Nano)))
	for _, s := range []string{e.Actor, e.Action, e.Dataset, e.Purpose, e.LegalBasis, e.AgreementID, e.Decision, e.Reason, e.RequestID, e.CitizenKey} {
		put([]byte(s))
	}
	binary.BigEndian.PutUint64(n[:], uint64(len(e.Fields)))
	h.Write(n[:])
	for _, f := range e.Fields {
		put([]byte(f))
	}
	return h.Sum(nil)
}

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
