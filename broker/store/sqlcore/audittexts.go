package sqlcore

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"
	"sync"

	"github.com/lgsp-bus/lgsp/broker/store"
)

// auditTexts keeps the legal basis and field list of each agreement
// version once (migration 0013): an entry refers to its pair by id, and
// reading the log puts the pair back, so the entry reads (and hashes)
// exactly as it was appended. Rows of audit_texts never change, so both
// directions are cached for the store's life.
type auditTexts struct {
	mu   sync.RWMutex
	ids  map[[sha256.Size]byte]int64
	byID map[int64]auditText
}

type auditText struct {
	legalBasis string
	fields     []string // nil stays nil
}

// textDigest is SHA-256 over the length-prefixed legal basis and the
// JSON of the field list ("null" for nil), so no two pairs collide.
func textDigest(legalBasis string, fieldsJSON []byte) [sha256.Size]byte {
	b := binary.AppendUvarint(nil, uint64(len(legalBasis)))
	b = append(b, legalBasis...)
	b = append(b, fieldsJSON...)
	return sha256.Sum256(b)
}

// refers says whether an entry's pair is stored apart: every entry with a
// legal basis (deliveries, lookups under an agreement).
func refers(e *store.AuditEntry) bool { return e.LegalBasis != "" }

// AuditTextRefs gives the audit_texts id of each entry's pair (0: kept
// inline), storing the pairs not seen before. Each new pair is its own
// small statement before the entries' transaction: a pair whose entries
// then fail is an unreferenced row of a few hundred bytes, never a
// dangling reference. Dialects write refs[i] into text_id and leave
// legal_basis empty and fields NULL where refs[i] != 0.
func (s *Store) AuditTextRefs(ctx context.Context, entries []store.AuditEntry) ([]int64, error) {
	refs := make([]int64, len(entries))
	var lastLB string
	var lastFields []string
	var lastID int64
	for i := range entries {
		e := &entries[i]
		if !refers(e) {
			continue
		}
		// Consecutive entries mostly share their pair (one agreement).
		if lastID != 0 && e.LegalBasis == lastLB && slices.Equal(e.Fields, lastFields) && (e.Fields == nil) == (lastFields == nil) {
			refs[i] = lastID
			continue
		}
		id, err := s.auditTextID(ctx, e.LegalBasis, e.Fields)
		if err != nil {
			return nil, err
		}
		refs[i], lastID, lastLB, lastFields = id, id, e.LegalBasis, e.Fields
	}
	return refs, nil
}

func (s *Store) auditTextID(ctx context.Context, legalBasis string, fields []string) (int64, error) {
	fj, err := json.Marshal(fields) // nil → null
	if err != nil {
		return 0, err
	}
	d := textDigest(legalBasis, fj)
	t := &s.texts
	t.mu.RLock()
	id, ok := t.ids[d]
	t.mu.RUnlock()
	if ok {
		return id, nil
	}
	var fieldsArg any
	if fields != nil {
		fieldsArg = string(fj)
	}
	if _, err := s.d.Write().Exec(ctx, `INSERT INTO audit_texts (digest, legal_basis, fields) VALUES (?, ?, ?) ON CONFLICT (digest) DO NOTHING`,
		d[:], legalBasis, fieldsArg); err != nil {
		return 0, fmt.Errorf("store the legal basis and fields of an agreement: %w", err)
	}
	if err := s.d.Write().QueryRow(ctx, `SELECT id FROM audit_texts WHERE digest = ?`, d[:]).Scan(&id); err != nil {
		return 0, fmt.Errorf("read back the legal basis and fields of an agreement: %w", err)
	}
	t.mu.Lock()
	if t.ids == nil {
		t.ids = map[[sha256.Size]byte]int64{}
	}
	t.ids[d] = id
	t.mu.Unlock()
	return id, nil
}

// ResolveAuditTexts puts the stored pair back into each entry with a
// reference (refs[i] != 0), as QueryAudit read them.
func (s *Store) ResolveAuditTexts(ctx context.Context, entries []store.AuditEntry, refs []int64) error {
	t := &s.texts
	for i, id := range refs {
		if id == 0 {
			continue
		}
		t.mu.RLock()
		txt, ok := t.byID[id]
		t.mu.RUnlock()
		if !ok {
			var lb string
			var fj *string
			if err := s.d.Read().QueryRow(ctx, `SELECT legal_basis, fields FROM audit_texts WHERE id = ?`, id).Scan(&lb, &fj); err != nil {
				return fmt.Errorf("audit entry %d: its legal basis and fields (text %d): %w", entries[i].Seq, id, err)
			}
			txt.legalBasis = lb
			if fj != nil {
				txt.fields = []string{}
				if err := json.Unmarshal([]byte(*fj), &txt.fields); err != nil {
					return fmt.Errorf("audit entry %d: fields of text %d: %w", entries[i].Seq, id, err)
				}
			}
			t.mu.Lock()
			if t.byID == nil {
				t.byID = map[int64]auditText{}
			}
			t.byID[id] = txt
			t.mu.Unlock()
		}
		e := &entries[i]
		e.LegalBasis = txt.legalBasis
		e.Fields = slices.Clone(txt.fields) // each entry its own, as callers may change it
		if txt.fields != nil && e.Fields == nil {
			e.Fields = []string{}
		}
	}
	return nil
}
