package store

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/bits-and-blooms/bloom/v3"
)

// AuditBucketFilter is the Bloom filter of one sealed bucket of the audit
// log (AuditBucketShift): the citizen keys and the request ids of its
// entries, each as bloom/v3's binary form. A search by citizen or request
// id skips the buckets whose filter says the key is not there, so it seeks
// a few tens of buckets instead of every one (about 670 at 11 million
// entries). A filter is derived data: a bucket without one is searched,
// and a wrong one can only make a search miss entries, never show
// another's, so `lgsp audit verify` checks that every entry is in its
// bucket's filter.
type AuditBucketFilter struct {
	Bucket   int64
	Citizens []byte
	Requests []byte
}

// AuditFilterFalsePositives is the share of buckets a filter lets through
// for a key they do not hold.
const AuditFilterFalsePositives = 0.01

// AuditFilterBackend is what a store gives AuditFilters.
type AuditFilterBackend interface {
	// LoadAuditFilters returns the stored filters of buckets above
	// afterBucket, in bucket order.
	LoadAuditFilters(ctx context.Context, afterBucket int64) ([]AuditBucketFilter, error)
	// AuditFilterBuckets returns the buckets from from on that have a
	// stored filter (numbers only: the filters are large).
	AuditFilterBuckets(ctx context.Context, from int64) ([]int64, error)
	// AuditBucketKeys returns the non-empty citizen keys and request ids
	// of the entries of bucket b.
	AuditBucketKeys(ctx context.Context, b int64) (citizens, requests []string, err error)
	// PutAuditFilter stores f unless its bucket has one already.
	PutAuditFilter(ctx context.Context, f AuditBucketFilter) error
	// CountAudit is AuditStore's.
	CountAudit(ctx context.Context) (int64, error)
}

// AuditFilterStore is implemented by the stores that keep bucket filters.
type AuditFilterStore interface {
	// SealAuditBuckets builds the filters of the sealed buckets that have
	// none and returns how many it built.
	SealAuditBuckets(ctx context.Context) (int, error)
	// SealAuditBucketsInBackground does the same in the background (the
	// bus calls it at start; appends that complete a bucket do it too);
	// onError (nil: nobody) hears about failures of this and later runs.
	SealAuditBucketsInBackground(onError func(error))
	// AuditFilters returns every stored filter, for `lgsp audit verify`.
	AuditFilters(ctx context.Context) ([]AuditBucketFilter, error)
}

// NewAuditBucketFilter builds the filter of a bucket from its keys.
func NewAuditBucketFilter(b int64, citizens, requests []string) (AuditBucketFilter, error) {
	enc := func(keys []string) ([]byte, error) {
		f := bloom.NewWithEstimates(uint(max(len(keys), 1)), AuditFilterFalsePositives)
		for _, k := range keys {
			f.AddString(k)
		}
		return f.MarshalBinary()
	}
	c, err := enc(citizens)
	if err != nil {
		return AuditBucketFilter{}, err
	}
	r, err := enc(requests)
	if err != nil {
		return AuditBucketFilter{}, err
	}
	return AuditBucketFilter{Bucket: b, Citizens: c, Requests: r}, nil
}

// KeyRows is what both backends' query results offer (*sql.Rows, pgx.Rows).
type KeyRows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
}

// CollectBucketKeys reads rows of (citizen_key, request_id), keeping the
// non-empty ones: AuditFilterBackend.AuditBucketKeys for both stores.
func CollectBucketKeys(rows KeyRows) (citizens, requests []string, err error) {
	for rows.Next() {
		var c, r string
		if err := rows.Scan(&c, &r); err != nil {
			return nil, nil, err
		}
		if c != "" {
			citizens = append(citizens, c)
		}
		if r != "" {
			requests = append(requests, r)
		}
	}
	return citizens, requests, rows.Err()
}

// SealedBuckets is the number of buckets whose entries are all stored in
// a log of size entries: buckets 0 … SealedBuckets-1 (bucket 0 starts at
// the seq 0 that no entry has).
func SealedBuckets(size int64) int64 { return (size + 1) >> AuditBucketShift }

// AuditFilters keeps a store's bucket filters in memory for its searches
// and builds the missing ones in the background.
type AuditFilters struct {
	be AuditFilterBackend

	mu      sync.Mutex
	cit     map[int64]*bloom.BloomFilter
	req     map[int64]*bloom.BloomFilter
	loaded  int64 // highest bucket whose stored filter is loaded, -1: none
	sealing bool
	sealed  int64 // every bucket below has a stored filter (Seal's starting point)
	wg      sync.WaitGroup
	ctx     context.Context
	cancel  context.CancelFunc
	onError func(error) // hears about background sealing failures (SetOnError)
}

// SetOnError sets who hears about background sealing failures: the
// searches stay correct without the filters, only slower, so the bus logs
// them rather than failing anything.
func (f *AuditFilters) SetOnError(fn func(error)) {
	f.mu.Lock()
	f.onError = fn
	f.mu.Unlock()
}

// NewAuditFilters returns the filters of be's log; Close stops its
// background work.
func NewAuditFilters(be AuditFilterBackend) *AuditFilters {
	ctx, cancel := context.WithCancel(context.Background())
	return &AuditFilters{be: be, cit: map[int64]*bloom.BloomFilter{}, req: map[int64]*bloom.BloomFilter{}, loaded: -1, ctx: ctx, cancel: cancel}
}

// Close stops the background sealing and waits for it.
func (f *AuditFilters) Close() {
	f.cancel()
	f.wg.Wait()
}

// refresh loads the stored filters not loaded yet.
func (f *AuditFilters) refresh(ctx context.Context) error {
	f.mu.Lock()
	after := f.loaded
	f.mu.Unlock()
	rows, err := f.be.LoadAuditFilters(ctx, after)
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, r := range rows {
		c, q := &bloom.BloomFilter{}, &bloom.BloomFilter{}
		if err := c.UnmarshalBinary(r.Citizens); err != nil {
			continue // unreadable: the bucket is searched
		}
		if err := q.UnmarshalBinary(r.Requests); err != nil {
			continue
		}
		f.cit[r.Bucket], f.req[r.Bucket] = c, q
		f.loaded = max(f.loaded, r.Bucket)
	}
	return nil
}

// Candidates returns the buckets from lo to hi (inclusive; newest first if
// desc) that a search for a citizen key (or, with citizen false, a request
// id) must visit: those without a filter and those whose filter may hold
// the key.
func (f *AuditFilters) Candidates(ctx context.Context, citizen bool, key string, lo, hi int64, desc bool) ([]int64, error) {
	// only a bucket sealed since the last load can have a new filter: once
	// the one before hi is loaded, a search asks the store nothing more
	f.mu.Lock()
	stale := f.loaded < hi-1
	f.mu.Unlock()
	if stale {
		if err := f.refresh(ctx); err != nil {
			return nil, fmt.Errorf("audit bucket filters: %w", err)
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	filters := f.req
	if citizen {
		filters = f.cit
	}
	var out []int64
	visit := func(b int64) {
		if bf, ok := filters[b]; !ok || bf.TestString(key) {
			out = append(out, b)
		}
	}
	if desc {
		for b := hi; b >= lo; b-- {
			visit(b)
		}
	} else {
		for b := lo; b <= hi; b++ {
			visit(b)
		}
	}
	return out, nil
}

// SearchBuckets is Candidates for a search by key (a citizen key when
// citizen is set, else a request id): the buckets of q's cursor range,
// newest first for q.Newest, that the search must visit.
func (f *AuditFilters) SearchBuckets(ctx context.Context, q AuditSearch, citizen bool, key string) ([]int64, error) {
	var hi int64
	if q.Newest && q.BeforeSeq > 0 {
		hi = max(q.BeforeSeq-1, 0) >> AuditBucketShift
	} else {
		n, err := f.be.CountAudit(ctx)
		if err != nil {
			return nil, err
		}
		hi = n >> AuditBucketShift
	}
	var lo int64
	if !q.Newest && q.AfterSeq > 0 {
		lo = (q.AfterSeq + 1) >> AuditBucketShift
	}
	return f.Candidates(ctx, citizen, key, lo, hi, q.Newest)
}

// Seal builds and stores the filters of the sealed buckets that have none.
// It remembers how far every bucket has one, so the seal after each
// completed bucket looks at the newest buckets only.
func (f *AuditFilters) Seal(ctx context.Context) (int, error) {
	size, err := f.be.CountAudit(ctx)
	if err != nil {
		return 0, err
	}
	f.mu.Lock()
	from := f.sealed
	f.mu.Unlock()
	stored, err := f.be.AuditFilterBuckets(ctx, from)
	if err != nil {
		return 0, err
	}
	have := make(map[int64]bool, len(stored))
	for _, b := range stored {
		have[b] = true
	}
	built := 0
	for b := from; b < SealedBuckets(size); b++ {
		if !have[b] {
			if err := ctx.Err(); err != nil {
				return built, err
			}
			cs, rs, err := f.be.AuditBucketKeys(ctx, b)
			if err != nil {
				return built, fmt.Errorf("bucket %d: %w", b, err)
			}
			bf, err := NewAuditBucketFilter(b, cs, rs)
			if err != nil {
				return built, fmt.Errorf("bucket %d: %w", b, err)
			}
			if err := f.be.PutAuditFilter(ctx, bf); err != nil {
				return built, fmt.Errorf("bucket %d: %w", b, err)
			}
			built++
		}
		f.mu.Lock()
		f.sealed = max(f.sealed, b+1) // every bucket up to b has its filter
		f.mu.Unlock()
	}
	return built, nil
}

// SealAsync runs Seal in the background unless it is already running;
// stores call it after an append completes a bucket, and at Open.
func (f *AuditFilters) SealAsync() {
	f.mu.Lock()
	if f.sealing || f.ctx.Err() != nil {
		f.mu.Unlock()
		return
	}
	f.sealing = true
	f.wg.Add(1)
	f.mu.Unlock()
	go func() {
		defer f.wg.Done()
		_, err := f.Seal(f.ctx)
		f.mu.Lock()
		f.sealing = false
		onError := f.onError
		f.mu.Unlock()
		if err != nil && !errors.Is(err, context.Canceled) && onError != nil {
			onError(err)
		}
	}()
}

// Crossed reports whether appending entries first..last completed a
// bucket, so its filter can be built.
func Crossed(first, last int64) bool {
	return SealedBuckets(last) > SealedBuckets(first-1)
}
