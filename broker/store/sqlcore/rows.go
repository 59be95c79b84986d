package sqlcore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/lgsp-bus/lgsp/broker/store"
)

// scanPage is how many rows ScanCitizens and ScanState read per query:
// paging, with no transaction held between pages, keeps a slow callback
// from holding a snapshot open (which would stop VACUUM on PostgreSQL and
// WAL checkpoints on SQLite) for the whole scan.
const scanPage = 1000

// ---- positions ------------------------------------------------------------------

// GetPosition implements store.PositionStore.
func (s *Store) GetPosition(ctx context.Context, connector string) ([]byte, error) {
	var pos []byte
	err := s.d.Read().QueryRow(ctx, `SELECT position FROM connector_positions WHERE connector = ?`,
		connector).Scan(&pos)
	if noRows(err) {
		return nil, s.errorf("position of connector %q: %w", connector, store.ErrNotFound)
	}
	if err != nil {
		return nil, s.errorf("position of connector %q: %w", connector, err)
	}
	if pos == nil {
		pos = []byte{} // an empty position was stored; it is not "none"
	}
	return pos, nil
}

// PutPosition implements store.PositionStore. It returns once the commit is
// durable.
func (s *Store) PutPosition(ctx context.Context, connector string, pos []byte) error {
	if pos == nil {
		pos = []byte{}
	}
	_, err := s.d.Write().Exec(ctx, `INSERT INTO connector_positions (connector, position, {position_updated})
		VALUES (?, ?, ?)
		ON CONFLICT (connector) DO UPDATE SET position = excluded.position, {position_updated} = excluded.{position_updated}`,
		connector, pos, s.d.Time(time.Now()))
	if err != nil {
		return s.errorf("save position of connector %q: %w; the connector must not acknowledge its source", connector, err)
	}
	return nil
}

// ---- dataset state ------------------------------------------------------------

const stateColumns = `dataset, entity_key, citizen_key, row_json, event_id, {updated}`

func scanState(r Rows) (store.StateRow, error) {
	var sr store.StateRow
	err := r.Scan(&sr.Dataset, &sr.Key, &sr.CitizenKey, &sr.Row, &sr.EventID, Time{T: &sr.Updated})
	return sr, err
}

// ApplyState implements store.StateStore: one transaction, one multi-row
// upsert per stateRows keys (a statement per row made the delivery stage
// spend most of its time in the store).
func (s *Store) ApplyState(ctx context.Context, rows []store.StateRow, deletes []store.StateKey) error {
	batch := latestPerKey(rows, deletes)
	if len(batch) == 0 {
		return nil
	}
	stmts := make([]Stmt, 0, (len(batch)+stateRows-1)/stateRows)
	for len(batch) > 0 {
		n := min(len(batch), stateRows)
		args := make([]any, 0, 8*n)
		for _, r := range batch[:n] {
			args = append(args, r.Dataset, r.Key, r.CitizenKey, r.Row, r.EventID, s.d.Time(r.Updated), r.Version, r.deleted)
		}
		stmts = append(stmts, Stmt{upsertStateSQL(n), args})
		batch = batch[n:]
	}
	err := s.d.WithTx(ctx, func(tx Tx) error { return tx.ExecBatch(ctx, stmts) })
	if err != nil {
		return s.errorf("apply state (retry): %w", err)
	}
	return nil
}

// stateRows is how many keys one upsert statement carries: 8 parameters
// each, far below SQLite's limit of 32,766.
const stateRows = 128

// upsertStateSQL is the upsert of n rows. Upserts and deletes share it (a
// delete is a tombstone), so both obey the same rule: only a version at
// least as new as the stored one is written.
func upsertStateSQL(n int) string {
	if n == stateRows {
		return upsertStateFull
	}
	return buildUpsertState(n)
}

var upsertStateFull = buildUpsertState(stateRows)

// BatchSQL is the core's full-size batch statements (in the core's
// spelling), which a dialect may prepare once instead of compiling them
// for every group commit.
func BatchSQL() []string { return []string{upsertStateFull} }

func buildUpsertState(n int) string {
	return `INSERT INTO dataset_state (` + stateColumns + `, version, deleted) VALUES ` +
		strings.TrimSuffix(strings.Repeat(`(?, ?, ?, ?, ?, ?, ?, ?),`, n), ",") + `
			ON CONFLICT (dataset, entity_key) DO UPDATE SET citizen_key = excluded.citizen_key, row_json = excluded.row_json,
			event_id = excluded.event_id, {updated} = excluded.{updated}, version = excluded.version, deleted = excluded.deleted
			WHERE excluded.version >= dataset_state.version`
}

// stateChange is an upsert or a tombstone.
type stateChange struct {
	store.StateRow
	deleted bool
}

// latestPerKey keeps, per (dataset, key), the change a statement per
// change in order (rows, then deletes) would have left: the highest
// version, the later one among equals. One statement cannot upsert a row
// twice (PostgreSQL refuses), so the batch is reduced first.
func latestPerKey(rows []store.StateRow, deletes []store.StateKey) []stateChange {
	out := make([]stateChange, 0, len(rows)+len(deletes))
	at := make(map[[2]string]int, len(rows)+len(deletes))
	put := func(c stateChange) {
		k := [2]string{c.Dataset, c.Key}
		if i, ok := at[k]; ok {
			if c.Version >= out[i].Version {
				out[i] = c
			}
			return
		}
		at[k] = len(out)
		out = append(out, c)
	}
	for _, r := range rows {
		put(stateChange{StateRow: r})
	}
	for _, d := range deletes {
		put(stateChange{StateRow: store.StateRow{Dataset: d.Dataset, Key: d.Key, Row: []byte{}, EventID: d.EventID, Updated: d.Updated, Version: d.Version}, deleted: true})
	}
	return out
}

// StateByCitizen implements store.StateStore.
func (s *Store) StateByCitizen(ctx context.Context, dataset, citizenKey string, limit int) ([]store.StateRow, error) {
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	rows, err := s.readPoint().Query(ctx, `SELECT `+stateColumns+` FROM dataset_state
		WHERE dataset = ? AND citizen_key = ? AND citizen_key <> '' ORDER BY {updated} DESC LIMIT ?`, dataset, citizenKey, limit)
	out, err := collect(rows, err, scanState)
	if err != nil {
		return nil, s.errorf("state by citizen: %w", err)
	}
	return nonNil(out), nil
}

// CountState implements store.StateScanner.
func (s *Store) CountState(ctx context.Context, dataset string) (int64, error) {
	var n int64
	if err := s.d.Read().QueryRow(ctx, `SELECT count(*) FROM dataset_state WHERE dataset = ? AND NOT deleted`, dataset).Scan(&n); err != nil {
		return 0, s.errorf("count state of %s: %w", dataset, err)
	}
	return n, nil
}

// ScanState implements store.StateScanner, scanPage rows per query.
func (s *Store) ScanState(ctx context.Context, dataset string, fn func(store.StateRow) error) error {
	pageErr, fnErr := store.ScanStatePages(scanPage, func(first bool, after string) ([]store.StateRow, error) {
		// two statements rather than "(? OR entity_key > ?)", which a
		// planner cannot turn into a seek on the primary key
		q, args := `SELECT `+stateColumns+` FROM dataset_state
			WHERE dataset = ? AND NOT deleted ORDER BY entity_key LIMIT ?`, []any{dataset, scanPage}
		if !first {
			q, args = `SELECT `+stateColumns+` FROM dataset_state
			WHERE dataset = ? AND entity_key > ? AND NOT deleted ORDER BY entity_key LIMIT ?`, []any{dataset, after, scanPage}
		}
		rows, err := s.d.Read().Query(ctx, q, args...)
		return collect(rows, err, scanState)
	}, fn)
	if pageErr != nil {
		return s.errorf("scan state of %s: %w", dataset, pageErr)
	}
	return fnErr // the caller's own error, unwrapped
}

// ---- API tokens -----------------------------------------------------------------

// PutToken implements store.TokenStore.
func (s *Store) PutToken(ctx context.Context, t store.APIToken) error {
	if _, err := s.d.Write().Exec(ctx, `INSERT INTO api_tokens (id, agency, hash, {created}) VALUES (?, ?, ?, ?)`,
		t.ID, t.Agency, t.Hash, s.d.Time(t.Created)); err != nil {
		return s.errorf("put token: %w", err)
	}
	return nil
}

const tokenColumns = `id, agency, hash, {created}, {revoked}`

func scanToken(r Row) (store.APIToken, error) {
	var t store.APIToken
	err := r.Scan(&t.ID, &t.Agency, &t.Hash, Time{T: &t.Created}, Time{T: &t.RevokedAt, Optional: true})
	return t, err
}

// TokenByHash implements store.TokenStore.
func (s *Store) TokenByHash(ctx context.Context, hash []byte) (store.APIToken, error) {
	t, err := scanToken(s.readPoint().QueryRow(ctx, `SELECT `+tokenColumns+` FROM api_tokens WHERE hash = ?`, hash))
	if noRows(err) {
		return t, store.ErrNotFound
	}
	return t, err
}

// RevokeToken implements store.TokenStore. A token revoked before keeps
// its first revocation time.
func (s *Store) RevokeToken(ctx context.Context, id string, at time.Time) error {
	n, err := s.d.Write().Exec(ctx, `UPDATE api_tokens SET {revoked} = ? WHERE id = ? AND {not_revoked}`, s.d.Time(at), id)
	if err != nil {
		return s.errorf("revoke token: %w", err)
	}
	if n == 0 {
		var one int
		if err := s.d.Read().QueryRow(ctx, `SELECT 1 FROM api_tokens WHERE id = ?`, id).Scan(&one); noRows(err) {
			return store.ErrNotFound
		}
	}
	return nil
}

// ListTokens implements store.TokenStore.
func (s *Store) ListTokens(ctx context.Context, agency string) ([]store.APIToken, error) {
	rows, err := s.d.Read().Query(ctx, `SELECT `+tokenColumns+` FROM api_tokens WHERE agency = ? OR ? = '' ORDER BY {created}`, agency, agency)
	out, err := collect(rows, err, func(r Rows) (store.APIToken, error) { return scanToken(r) })
	if err != nil {
		return nil, s.errorf("list tokens: %w", err)
	}
	return nonNil(out), nil
}

// ---- idempotency keys -------------------------------------------------------------

// GetIdempotent implements store.IdempotencyStore.
func (s *Store) GetIdempotent(ctx context.Context, source, key string) (int, []byte, error) {
	var status int
	var body []byte
	err := s.d.Read().QueryRow(ctx, `SELECT status, body FROM idempotency WHERE source = ? AND key = ?`, source, key).Scan(&status, &body)
	if noRows(err) {
		return 0, nil, store.ErrNotFound
	}
	return status, body, err
}

// PutIdempotent implements store.IdempotencyStore.
func (s *Store) PutIdempotent(ctx context.Context, source, key string, status int, body []byte) error {
	if _, err := s.d.Write().Exec(ctx, `INSERT INTO idempotency (source, key, status, body, {created}) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		source, key, status, body, s.d.Time(time.Now())); err != nil {
		return s.errorf("put idempotency key: %w", err)
	}
	return nil
}

// ---- population -------------------------------------------------------------------

// PutCitizens implements store.PopulationStore: all of cs in one
// transaction, later entries winning over earlier ones with the same ID.
// Errors never name a citizen, so they are safe to log.
func (s *Store) PutCitizens(ctx context.Context, cs []store.Citizen) error {
	if len(cs) == 0 {
		return nil
	}
	if err := store.CheckCitizens(cs); err != nil {
		return s.errorf("put citizens: %w", err)
	}
	err := s.d.WithTx(ctx, func(tx Tx) error { return tx.UpsertCitizens(ctx, cs) })
	if err != nil {
		return s.errorf("put %d citizens (none were stored): %w", len(cs), err)
	}
	return nil
}

// CountCitizens implements store.PopulationStore.
func (s *Store) CountCitizens(ctx context.Context) (int64, error) {
	var n int64
	if err := s.d.Read().QueryRow(ctx, `SELECT COUNT(*) FROM citizens`).Scan(&n); err != nil {
		return 0, s.errorf("count citizens: %w", err)
	}
	return n, nil
}

// ScanCitizens implements store.PopulationStore. It reads page by page in ID
// order (keyset pagination), so it sees every citizen that exists for the
// whole scan exactly once, but it is not one snapshot: rows written during
// the scan may or may not be seen.
func (s *Store) ScanCitizens(ctx context.Context, fn func(store.Citizen) error) error {
	after := "" // PutCitizens rejects empty IDs, so "" sorts before every row
	for {
		rows, err := s.d.Read().Query(ctx, `SELECT id, old_id, full_name, dob, sex, birth_province, deceased, residence
			FROM citizens WHERE id > ? ORDER BY id LIMIT ?`, after, scanPage)
		page, err := collect(rows, err, func(r Rows) (store.Citizen, error) {
			var c store.Citizen
			err := r.Scan(&c.ID, &c.OldID, &c.FullName, &c.DOB, &c.Sex, &c.BirthProvince, &c.Deceased, &c.Residence)
			return c, err
		})
		if err != nil {
			return s.errorf("scan citizens: %w", err)
		}
		for _, c := range page {
			if err := fn(c); err != nil {
				return err // the caller's own error, unwrapped
			}
		}
		if len(page) < scanPage {
			return nil
		}
		after = page[len(page)-1].ID
	}
}

// ---- review queue -------------------------------------------------------------------

const reviewColumns = `seq, source, record_id, personal_id, score, probability, explanation, reason, status, {created}, {decided}, decided_by, note`

func scanReview(r Row) (store.ReviewItem, error) {
	var it store.ReviewItem
	err := r.Scan(&it.Seq, &it.Source, &it.RecordID, &it.PersonalID, &it.Score, &it.Probability, &it.Explanation,
		&it.Reason, &it.Status, Time{T: &it.Created}, Time{T: &it.Decided, Optional: true}, &it.DecidedBy, &it.Note)
	return it, err
}

// AddReviews implements store.ReviewStore.
func (s *Store) AddReviews(ctx context.Context, items []store.ReviewItem, created time.Time) ([]int64, error) {
	seqs := make([]int64, len(items))
	err := s.d.WithTx(ctx, func(tx Tx) error {
		for i, it := range items {
			err := tx.QueryRow(ctx, `INSERT INTO review_queue (source, record_id, personal_id, score, probability, explanation, reason, status, {created})
				VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', ?)
				ON CONFLICT (source, record_id) WHERE record_id <> '' DO NOTHING RETURNING seq`,
				it.Source, it.RecordID, it.PersonalID, it.Score, it.Probability, it.Explanation, it.Reason, s.d.Time(created)).Scan(&seqs[i])
			if noRows(err) { // queued before
				err = tx.QueryRow(ctx, `SELECT seq FROM review_queue WHERE source = ? AND record_id = ? AND record_id <> ''`, it.Source, it.RecordID).Scan(&seqs[i])
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, s.errorf("add %d review items (nothing was queued; retry): %w", len(items), err)
	}
	return seqs, nil
}

// GetReview implements store.ReviewStore.
func (s *Store) GetReview(ctx context.Context, seq int64) (store.ReviewItem, error) {
	it, err := scanReview(s.d.Read().QueryRow(ctx, `SELECT `+reviewColumns+` FROM review_queue WHERE seq = ?`, seq))
	if noRows(err) {
		return it, store.ErrNotFound
	}
	if err != nil {
		return it, s.errorf("get review item %d: %w", seq, err)
	}
	return it, nil
}

// ListReviews implements store.ReviewStore.
func (s *Store) ListReviews(ctx context.Context, status string, afterSeq int64, limit int) ([]store.ReviewItem, error) {
	rows, err := s.d.Read().Query(ctx, `SELECT `+reviewColumns+` FROM review_queue
		WHERE seq > ? AND (? = '' OR status = ?) ORDER BY seq LIMIT ?`, afterSeq, status, status, store.ReviewListLimit(limit))
	out, err := collect(rows, err, func(r Rows) (store.ReviewItem, error) { return scanReview(r) })
	if err != nil {
		return nil, s.errorf("list review items: %w", err)
	}
	return nonNil(out), nil
}

// DecideReview implements store.ReviewStore.
func (s *Store) DecideReview(ctx context.Context, seq int64, status, by, note string, at time.Time) (store.ReviewItem, error) {
	if status != store.ReviewAccepted && status != store.ReviewRejected {
		return store.ReviewItem{}, s.errorf("decide review item %d: status %q is not %s or %s", seq, status, store.ReviewAccepted, store.ReviewRejected)
	}
	it, err := scanReview(s.d.Write().QueryRow(ctx, `UPDATE review_queue SET status = ?, {decided} = ?, decided_by = ?, note = ?
		WHERE seq = ? AND status = 'pending' RETURNING `+reviewColumns, status, s.d.Time(at), by, note, seq))
	if err == nil {
		return it, nil
	}
	if !noRows(err) {
		return it, s.errorf("decide review item %d (not decided; retry): %w", seq, err)
	}
	// Nothing pending under seq: unknown, or decided before.
	it, err = s.GetReview(ctx, seq)
	if err != nil {
		return it, err
	}
	return it, s.errorf("review item %d was already %s: %w", seq, it.Status, store.ErrConflict)
}

// ---- cluster keys -------------------------------------------------------------

// ClaimClusterKey implements store.ClusterKeyStore.
func (s *Store) ClaimClusterKey(ctx context.Context, name, fingerprint, instance string) (string, string, error) {
	if _, err := s.d.Write().Exec(ctx, `INSERT INTO cluster_keys (name, fingerprint, instance) VALUES (?, ?, ?)
		ON CONFLICT (name) DO NOTHING`, name, fingerprint, instance); err != nil {
		return "", "", s.errorf("record the fingerprint of %s: %w", name, err)
	}
	var fp, by string
	if err := s.d.Write().QueryRow(ctx, `SELECT fingerprint, instance FROM cluster_keys WHERE name = ?`, name).Scan(&fp, &by); err != nil {
		return "", "", s.errorf("read the fingerprint of %s: %w", name, err)
	}
	return fp, by, nil
}

// ---- shared documents ---------------------------------------------------------

// SharedDoc implements store.SharedDocStore.
func (s *Store) SharedDoc(ctx context.Context, name string) ([]byte, int64, error) {
	var doc string
	var v int64
	err := s.d.Write().QueryRow(ctx, `SELECT doc, version FROM shared_docs WHERE name = ?`, name).Scan(&doc, &v)
	if noRows(err) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, s.errorf("read shared document %s (retry): %w", name, err)
	}
	return []byte(doc), v, nil
}

// PutSharedDoc implements store.SharedDocStore.
func (s *Store) PutSharedDoc(ctx context.Context, name string, doc []byte, version int64) error {
	var n int64
	var err error
	if version == 0 {
		n, err = s.d.Write().Exec(ctx, `INSERT INTO shared_docs (name, doc, version) VALUES (?, ?, 1) ON CONFLICT (name) DO NOTHING`, name, string(doc))
	} else {
		n, err = s.d.Write().Exec(ctx, `UPDATE shared_docs SET doc = ?, version = version + 1 WHERE name = ? AND version = ?`, string(doc), name, version)
	}
	if err != nil {
		return s.errorf("write shared document %s (retry): %w", name, err)
	}
	if n != 1 {
		return fmt.Errorf("shared document %s changed since version %d: %w", name, version, store.ErrStale)
	}
	return nil
}

// ---- connector leases ---------------------------------------------------------

// AcquireLease implements store.LeaseStore.
func (s *Store) AcquireLease(ctx context.Context, name, owner string, now time.Time, ttl time.Duration) (store.Lease, error) {
	if _, err := s.d.Write().Exec(ctx, `INSERT INTO connector_leases (name, owner, epoch, expires_ms) VALUES (?, ?, 1, ?)
		ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, epoch = connector_leases.epoch + 1, expires_ms = excluded.expires_ms
		WHERE connector_leases.expires_ms < ? OR connector_leases.owner = excluded.owner`,
		name, owner, now.Add(ttl).UnixMilli(), now.UnixMilli()); err != nil {
		return store.Lease{}, s.errorf("acquire lease of %s (retry): %w", name, err)
	}
	l := store.Lease{Name: name}
	var ms int64
	if err := s.d.Write().QueryRow(ctx, `SELECT owner, epoch, expires_ms FROM connector_leases WHERE name = ?`, name).Scan(&l.Owner, &l.Epoch, &ms); err != nil {
		return store.Lease{}, s.errorf("read lease of %s (retry): %w", name, err)
	}
	l.Expires = time.UnixMilli(ms)
	return l, nil
}

// RenewLease implements store.LeaseStore.
func (s *Store) RenewLease(ctx context.Context, name, owner string, epoch int64, now time.Time, ttl time.Duration) (bool, error) {
	n, err := s.d.Write().Exec(ctx, `UPDATE connector_leases SET expires_ms = ? WHERE name = ? AND owner = ? AND epoch = ?`,
		now.Add(ttl).UnixMilli(), name, owner, epoch)
	if err != nil {
		return false, s.errorf("renew lease of %s (retry): %w", name, err)
	}
	return n == 1, nil
}

// ReleaseLease implements store.LeaseStore.
func (s *Store) ReleaseLease(ctx context.Context, name, owner string, epoch int64) error {
	if _, err := s.d.Write().Exec(ctx, `UPDATE connector_leases SET expires_ms = 0 WHERE name = ? AND owner = ? AND epoch = ?`, name, owner, epoch); err != nil {
		return s.errorf("release lease of %s: %w", name, err)
	}
	return nil
}

// Leases implements store.LeaseStore.
func (s *Store) Leases(ctx context.Context) ([]store.Lease, error) {
	rows, err := s.d.Read().Query(ctx, `SELECT name, owner, epoch, expires_ms FROM connector_leases ORDER BY name`)
	out, err := collect(rows, err, func(r Rows) (store.Lease, error) {
		var l store.Lease
		var ms int64
		err := r.Scan(&l.Name, &l.Owner, &l.Epoch, &ms)
		l.Expires = time.UnixMilli(ms)
		return l, err
	})
	if err != nil {
		return nil, s.errorf("list leases: %w", err)
	}
	return nonNil(out), nil
}

// PutPositionUnder implements store.LeaseStore. The lease row is updated
// (to itself) first, which both checks the lease and, on PostgreSQL, locks
// its row until the position is written, so a takeover cannot slip in
// between.
func (s *Store) PutPositionUnder(ctx context.Context, connector string, pos []byte, lease, owner string, epoch int64) error {
	if pos == nil {
		pos = []byte{}
	}
	err := s.d.WithTx(ctx, func(tx Tx) error {
		n, err := tx.Exec(ctx, `UPDATE connector_leases SET epoch = epoch WHERE name = ? AND owner = ? AND epoch = ?`, lease, owner, epoch)
		if err != nil {
			return err
		}
		if n != 1 {
			return store.ErrFenced
		}
		_, err = tx.Exec(ctx, `INSERT INTO connector_positions (connector, position, {position_updated})
			VALUES (?, ?, ?)
			ON CONFLICT (connector) DO UPDATE SET position = excluded.position, {position_updated} = excluded.{position_updated}`,
			connector, pos, s.d.Time(time.Now()))
		return err
	})
	if errors.Is(err, store.ErrFenced) {
		return fmt.Errorf("save position of connector %q: %w (epoch %d)", connector, store.ErrFenced, epoch)
	}
	if err != nil {
		return s.errorf("save position of connector %q: %w; the connector must not acknowledge its source", connector, err)
	}
	return nil
}
