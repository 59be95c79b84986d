package linkage

import (
	"errors"
	"fmt"
	"io"
)

// ReadSample reads up to max records of a person file with the mapping
// (nil: DefaultMapping), to train a Linker on the file it will link: the
// m-probabilities are estimated from the records themselves. Like
// Reconcile, it fails when a CSV header lacks a column the mapping names.
func ReadSample(in io.Reader, f Format, m *Mapping, max int) ([]Record, error) {
	mp, strict := DefaultMapping(), false
	if m != nil {
		mp, strict = *m, true
	}
	rows, err := newRowReader(in, f)
	if err != nil {
		return nil, err
	}
	if h := rows.header(); h != nil {
		if err := mp.Check(h, strict); err != nil {
			return nil, err
		}
	}
	jr, _ := rows.(*jsonRows)
	if jr != nil && strict {
		jr.seen = map[string]bool{}
	}
	var out []Record
	for len(out) < max {
		get, err := rows.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if !isRowError(err) {
				return out, fmt.Errorf("linkage: reading the sample: %w", err)
			}
			continue // an unreadable row is reported by Reconcile, not here
		}
		out = append(out, mp.Record(get))
	}
	if jr != nil && jr.seen != nil && len(out) > 0 {
		// NDJSON has no header: a column the mapping names must appear
		// in some object of the sample
		for _, c := range mp.columns() {
			if !jr.seen[c] {
				return nil, fmt.Errorf("linkage: the mapping names key %q, which no object of the first %d records has", c, len(out))
			}
		}
	}
	return out, nil
}
