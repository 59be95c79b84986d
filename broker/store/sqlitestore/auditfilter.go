package sqlitestore

import (
	"context"
	"fmt"

	"github.com/lgsp-bus/lgsp/broker/store"
)

var (
	_ store.AuditFilterBackend = (*Store)(nil)
	_ store.AuditFilterStore   = (*Store)(nil)
)

// LoadAuditFilters implements store.AuditFilterBackend.
func (s *Store) LoadAuditFilters(ctx context.Context, afterBucket int64) ([]store.AuditBucketFilter, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT bucket, citizens, requests FROM audit_bucket_filters WHERE bucket > ? ORDER BY bucket`, afterBucket)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: audit filters: %w", err)
	}
	defer rows.Close()
	var out []store.AuditBucketFilter
	for rows.Next() {
		var f store.AuditBucketFilter
		if err := rows.Scan(&f.Bucket, &f.Citizens, &f.Requests); err != nil {
			return nil, fmt.Errorf("sqlitestore: audit filters: %w", err)
		}
		out = append(out, f)
	}
	return out, rows.Err()
}

// AuditFilterBuckets implements store.AuditFilterBackend.
func (s *Store) AuditFilterBuckets(ctx context.Context, from int64) ([]int64, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT bucket FROM audit_bucket_filters WHERE bucket >= ? ORDER BY bucket`, from)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: audit filter buckets: %w", err)
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var b int64
		if err := rows.Scan(&b); err != nil {
			return nil, fmt.Errorf("sqlitestore: audit filter buckets: %w", err)
		}
		out = append(out, b)
	}
	return out, rows.Err()
}

// AuditBucketKeys implements store.AuditFilterBackend.
func (s *Store) AuditBucketKeys(ctx context.Context, b int64) (citizens, requests []string, err error) {
	lo, hi := b<<store.AuditBucketShift, (b+1)<<store.AuditBucketShift-1
	rows, err := s.r.QueryContext(ctx, `SELECT citizen_key, request_id FROM audit_log WHERE seq BETWEEN ? AND ?`, lo, hi)
	if err != nil {
		return nil, nil, fmt.Errorf("sqlitestore: audit bucket keys: %w", err)
	}
	defer rows.Close()
	if citizens, requests, err = store.CollectBucketKeys(rows); err != nil {
		return nil, nil, fmt.Errorf("sqlitestore: audit bucket keys: %w", err)
	}
	return citizens, requests, nil
}

// PutAuditFilter implements store.AuditFilterBackend.
func (s *Store) PutAuditFilter(ctx context.Context, f store.AuditBucketFilter) error {
	if _, err := s.w.ExecContext(ctx, `INSERT INTO audit_bucket_filters (bucket, citizens, requests) VALUES (?, ?, ?) ON CONFLICT (bucket) DO NOTHING`,
		f.Bucket, f.Citizens, f.Requests); err != nil {
		return fmt.Errorf("sqlitestore: put audit filter %d: %w", f.Bucket, err)
	}
	return nil
}

// SealAuditBuckets implements store.AuditFilterStore.
func (s *Store) SealAuditBuckets(ctx context.Context) (int, error) {
	n, err := s.filters.Seal(ctx)
	if err != nil {
		return n, fmt.Errorf("sqlitestore: seal audit buckets: %w", err)
	}
	return n, nil
}

// SealAuditBucketsInBackground implements store.AuditFilterStore.
func (s *Store) SealAuditBucketsInBackground(onError func(error)) {
	s.filters.SetOnError(onError)
	s.filters.SealAsync()
}

// AuditFilters implements store.AuditFilterStore.
func (s *Store) AuditFilters(ctx context.Context) ([]store.AuditBucketFilter, error) {
	return s.LoadAuditFilters(ctx, -1)
}
