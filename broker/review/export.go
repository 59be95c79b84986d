package review

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/lgsp-bus/lgsp/broker/store"
)

// Decision is a decided review item as handed back to the ministry whose
// records were queued: which record, accepted or rejected, by whom, when
// and why. PersonalID is the number to write into the record: the
// candidate when accepted, "" when rejected; Candidate is the citizen the
// clerk was shown either way.
type Decision struct {
	ReviewID   string    `json:"review_id"`
	RecordID   string    `json:"record_id"`
	Status     string    `json:"status"`
	PersonalID string    `json:"personal_id"`
	Candidate  string    `json:"candidate"`
	DecidedBy  string    `json:"decided_by"`
	DecidedAt  time.Time `json:"decided_at"`
	Note       string    `json:"note"`
}

// Cursor is where the export of a source's decisions stopped. Clerks
// decide items in any order, so a single position cannot say what was
// exported: every decided item with a seq up to Through was exported, and
// so were the seq ranges in Exported (above Through). Through advances
// over a prefix of the queue that is settled (decided or of another
// source), so Exported holds only the decisions taken ahead of an item
// still pending.
type Cursor struct {
	Source   string     `json:"source"`
	Through  int64      `json:"through"`
	Exported [][2]int64 `json:"exported,omitempty"`
}

// ErrCursorSource is returned by ExportDecisions for a cursor of another
// source.
var ErrCursorSource = errors.New("review: the cursor belongs to another source")

// Settle is how old a queued item must be before Through may pass it.
// Sequence numbers are drawn before commit, so a slow transaction can make
// an item with a lower seq visible after one with a higher seq; an item
// queued Settle ago is committed (a batch takes seconds), so any lower seq
// is visible too.
const Settle = time.Minute

// ReadCursor reads a cursor written by WriteCursor.
func ReadCursor(r io.Reader) (Cursor, error) {
	var c Cursor
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return c, fmt.Errorf("review: the cursor is not readable: %w", err)
	}
	if c.Through < 0 {
		return c, fmt.Errorf("review: the cursor's through is negative (%d)", c.Through)
	}
	for k, r := range c.Exported {
		if r[0] <= c.Through || r[1] < r[0] || (k > 0 && r[0] <= c.Exported[k-1][1]) {
			return c, fmt.Errorf("review: the cursor's exported ranges are not ascending above through %d: %v", c.Through, r)
		}
	}
	return c, nil
}

// WriteCursor writes c as one line of JSON.
func WriteCursor(w io.Writer, c Cursor) error {
	return json.NewEncoder(w).Encode(c)
}

// ExportDecisions calls emit, in seq order, with every decided item of
// cur.Source that cur does not cover, and returns the cursor that also
// covers them. Save it only once what emit wrote is durable: a run that
// fails, or whose cursor is lost, exports those decisions again next time
// (at least once; record_id identifies a decision). now is the current
// time, for Settle. A cursor with an empty Source is a first export of
// source.
func ExportDecisions(ctx context.Context, st store.ReviewStore, source string, cur Cursor, now time.Time, emit func(Decision) error) (Cursor, int, error) {
	if cur.Source == "" {
		cur.Source = source
	}
	if cur.Source != source {
		return cur, 0, fmt.Errorf("%w: it is of %q, not %q; use another cursor file per source", ErrCursorSource, cur.Source, source)
	}
	covered := func(seq int64) bool {
		_, found := slices.BinarySearchFunc(cur.Exported, seq, func(r [2]int64, s int64) int {
			switch {
			case r[1] < s:
				return -1
			case r[0] > s:
				return 1
			}
			return 0
		})
		return found
	}
	var emitted [][2]int64
	// Through advances over items that are settled and old enough, and
	// stops for good at the first one that is not
	through, open := cur.Through, false
	settled := now.Add(-Settle)
	for after := cur.Through; ; {
		page, err := st.ListReviews(ctx, "", after, 1000)
		if err != nil {
			return cur, len(emitted), fmt.Errorf("review: export decisions of %s: %w", source, err)
		}
		for _, it := range page {
			mine := it.Source == source
			decided := it.Status == store.ReviewAccepted || it.Status == store.ReviewRejected
			if mine && decided && !covered(it.Seq) {
				if err := emit(decision(it)); err != nil {
					return cur, len(emitted), err
				}
				emitted = append(emitted, [2]int64{it.Seq, it.Seq})
			}
			if !open && (!mine || decided) && it.Created.Before(settled) {
				through = it.Seq
			} else {
				open = true
			}
		}
		if len(page) == 0 {
			break
		}
		after = page[len(page)-1].Seq
	}
	return Cursor{Source: source, Through: through, Exported: mergeRanges(append(slices.Clone(cur.Exported), emitted...), through)}, len(emitted), nil
}

// mergeRanges sorts seq ranges, joins those that touch or overlap, and
// drops what is at or below through.
func mergeRanges(rs [][2]int64, through int64) [][2]int64 {
	slices.SortFunc(rs, func(a, b [2]int64) int { return cmp.Compare(a[0], b[0]) })
	var out [][2]int64
	for _, r := range rs {
		if r[1] <= through {
			continue
		}
		r[0] = max(r[0], through+1)
		if k := len(out); k > 0 && r[0] <= out[k-1][1]+1 {
			out[k-1][1] = max(out[k-1][1], r[1])
			continue
		}
		out = append(out, r)
	}
	return out
}

func decision(it store.ReviewItem) Decision {
	d := Decision{ReviewID: ID(it.Seq), RecordID: it.RecordID, Status: it.Status, Candidate: it.PersonalID,
		DecidedBy: it.DecidedBy, DecidedAt: it.Decided, Note: it.Note}
	if it.Status == store.ReviewAccepted {
		d.PersonalID = it.PersonalID
	}
	return d
}

// ListSource returns up to limit items of source (every source when "")
// with the status ("" = any) and a seq above after, in seq order, and the
// cursor to pass as after for the next page: the last seq looked at, which
// may be of another source. limit is capped as store.ReviewListLimit.
func ListSource(ctx context.Context, st store.ReviewStore, source, status string, after int64, limit int) ([]store.ReviewItem, int64, error) {
	limit = store.ReviewListLimit(limit)
	var out []store.ReviewItem
	for len(out) < limit {
		page, err := st.ListReviews(ctx, status, after, 1000)
		if err != nil {
			return out, after, fmt.Errorf("review: list: %w", err)
		}
		for _, it := range page {
			if it.Source == source || source == "" {
				out = append(out, it)
			}
			after = it.Seq
			if len(out) == limit {
				break
			}
		}
		if len(page) < 1000 {
			break
		}
	}
	return out, after, nil
}

// ParseID returns the store seq of an item id ("rv" and 12 digits), for
// a cursor given on a command line.
func ParseID(id string) (int64, error) {
	seq, ok := parseID(id)
	if !ok {
		return 0, fmt.Errorf("%w: %q", ErrBadCursor, id)
	}
	return seq, nil
}
