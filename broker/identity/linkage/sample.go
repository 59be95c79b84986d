package linkage

import (
	"errors"
	"io"
)

// ReadSample reads up to max records of a person file with the mapping
// (nil: DefaultMapping), to train a Linker on the file it will link: the
// m-probabilities are estimated from the records themselves.
func ReadSample(in io.Reader, f Format, m *Mapping, max int) ([]Record, error) {
	mp := DefaultMapping()
	if m != nil {
		mp = *m
	}
	rows, err := newRowReader(in, f)
	if err != nil {
		return nil, err
	}
	var out []Record
	for len(out) < max {
		get, err := rows.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			continue // an unreadable row is reported by Reconcile, not here
		}
		out = append(out, mp.Record(get))
	}
	return out, nil
}
