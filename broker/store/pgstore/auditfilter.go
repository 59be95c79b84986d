package pgstore

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/lgsp-bus/lgsp/broker/store"
)

var (
	_ store.AuditFilterBackend = (*Store)(nil)
	_ store.AuditFilterStore   = (*Store)(nil)
)

// LoadAuditFilters implements store.AuditFilterBackend.
func (s *Store) LoadAuditFilters(ctx context.Context, afterBucket int64) ([]store.AuditBucketFilter, error) {
	rows, err := s.pool.Query(ctx, `SELECT bucket, citizens, requests FROM audit_bucket_filters WHERE bucket > $1 ORDER BY bucket`, afterBucket)
	if err != nil {
		return nil, fmt.Errorf("pgstore: audit filters: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.AuditBucketFilter, error) {
		var f store.AuditBucketFilter
		err := row.Scan(&f.Bucket, &f.Citizens, &f.Requests)
		return f, err
	})
	if err != nil {
		return nil, fmt.Errorf("pgstore: audit filters: %w", err)
	}
	return out, nil
}

// AuditFilterBuckets implements store.AuditFilterBackend.
func (s *Store) AuditFilterBuckets(ctx context.Context, from int64) ([]int64, error) {
	rows, err := s.pool.Query(ctx, `SELECT bucket FROM audit_bucket_filters WHERE bucket >= $1 ORDER BY bucket`, from)
	if err != nil {
		return nil, fmt.Errorf("pgstore: audit filter buckets: %w", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("pgstore: audit filter buckets: %w", err)
	}
	return out, nil
}

// AuditBucketKeys implements store.AuditFilterBackend.
func (s *Store) AuditBucketKeys(ctx context.Context, b int64) (citizens, requests []string, err error) {
	lo, hi := b<<store.AuditBucketShift, (b+1)<<store.AuditBucketShift-1
	rows, err := s.pool.Query(ctx, `SELECT citizen_key, request_id FROM audit_log WHERE seq BETWEEN $1 AND $2`, lo, hi)
	if err != nil {
		return nil, nil, fmt.Errorf("pgstore: audit bucket keys: %w", err)
	}
	defer rows.Close()
	if citizens, requests, err = store.CollectBucketKeys(rows); err != nil {
		return nil, nil, fmt.Errorf("pgstore: audit bucket keys: %w", err)
	}
	return citizens, requests, nil
}

// PutAuditFilter implements store.AuditFilterBackend.
func (s *Store) PutAuditFilter(ctx context.Context, f store.AuditBucketFilter) error {
	if _, err := s.pool.Exec(ctx, `INSERT INTO audit_bucket_filters (bucket, citizens, requests) VALUES ($1, $2, $3) ON CONFLICT (bucket) DO NOTHING`,
		f.Bucket, f.Citizens, f.Requests); err != nil {
		return fmt.Errorf("pgstore: put audit filter %d: %w", f.Bucket, err)
	}
	return nil
}

// SealAuditBuckets implements store.AuditFilterStore.
func (s *Store) SealAuditBuckets(ctx context.Context) (int, error) {
	n, err := s.filters.Seal(ctx)
	if err != nil {
		return n, fmt.Errorf("pgstore: seal audit buckets: %w", err)
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
