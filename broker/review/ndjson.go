package review

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/lgsp-bus/lgsp/broker/store"
	"github.com/lgsp-bus/lgsp/connectors/atomicfile"
)

// listedItem is one line of `lgsp review list`.
type listedItem struct {
	ID          string          `json:"id"`
	Source      string          `json:"source"`
	RecordID    string          `json:"record_id"`
	Status      string          `json:"status"`
	PersonalID  string          `json:"personal_id"`
	Score       float64         `json:"score"`
	Probability float64         `json:"probability"`
	Reason      string          `json:"reason"`
	Explanation json.RawMessage `json:"explanation,omitempty"`
	CreatedAt   time.Time       `json:"created_at"`
	DecidedBy   string          `json:"decided_by,omitempty"`
	DecidedAt   *time.Time      `json:"decided_at,omitempty"`
	Note        string          `json:"note,omitempty"`
}

// WriteList writes the items of source (all sources when "") with status
// ("" = any) after the item with id after ("" = from the first), at most
// limit, as NDJSON to w, oldest first; when there may be more, it says on
// notes which --after to pass for the next page (lgsp review list).
func WriteList(ctx context.Context, rs store.ReviewStore, source, status, afterID string, limit int, w, notes io.Writer) error {
	switch status {
	case "", store.ReviewPending, store.ReviewAccepted, store.ReviewRejected:
	default:
		return fmt.Errorf("--status must be pending, accepted or rejected, got %q", status)
	}
	var after int64
	if afterID != "" {
		var err error
		if after, err = ParseID(afterID); err != nil {
			return fmt.Errorf("--after: %w", err)
		}
	}
	items, next, err := ListSource(ctx, rs, source, status, after, limit)
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	for _, it := range items {
		li := listedItem{ID: ID(it.Seq), Source: it.Source, RecordID: it.RecordID, Status: it.Status, PersonalID: it.PersonalID,
			Score: it.Score, Probability: it.Probability, Reason: it.Reason, Explanation: it.Explanation, CreatedAt: it.Created,
			DecidedBy: it.DecidedBy, Note: it.Note}
		if !it.Decided.IsZero() {
			li.DecidedAt = &it.Decided
		}
		if err := enc.Encode(li); err != nil {
			return err
		}
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if len(items) == store.ReviewListLimit(limit) {
		fmt.Fprintf(notes, "more items: --after %s\n", ID(next))
	}
	if len(items) == 0 { // say so on the notes, keeping w valid NDJSON
		fmt.Fprintf(notes, "no items%s\n", listFilter(source, status, after))
	}
	return nil
}

// listFilter describes what an empty list was asked for.
func listFilter(source, status string, after int64) string {
	var parts []string
	if source != "" {
		parts = append(parts, "source "+source)
	}
	if status != "" {
		parts = append(parts, "status "+status)
	}
	if after > 0 {
		parts = append(parts, "after "+ID(after))
	}
	if len(parts) == 0 {
		return ": the review queue is empty"
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

// ExportFile writes the decided items of source as NDJSON, appended to
// outPath (w when ""), and with cursorPath only those not exported by an
// earlier run with that cursor file, which is then replaced once the
// output is durable: decisions are exported at least once (lgsp review
// export). The count goes to notes.
func ExportFile(ctx context.Context, rs store.ReviewStore, source, cursorPath, outPath string, w, notes io.Writer) error {
	if source == "" {
		return errors.New("lgsp review export: --source SOURCE is required")
	}
	var cur Cursor
	if cursorPath != "" {
		f, err := os.Open(cursorPath)
		switch {
		case errors.Is(err, os.ErrNotExist): // a first export
		case err != nil:
			return err
		default:
			cur, err = ReadCursor(f)
			f.Close()
			if err != nil {
				return fmt.Errorf("%s: %w", cursorPath, err)
			}
		}
	}
	file := (*os.File)(nil)
	if outPath != "" {
		var err error
		if file, err = os.OpenFile(outPath, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600); err != nil {
			return err
		}
		defer file.Close()
		w = file
	}
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	next, n, err := ExportDecisions(ctx, rs, source, cur, time.Now(), func(d Decision) error { return enc.Encode(d) })
	if err != nil {
		return err
	}
	// the decisions durable first, then the cursor that skips them
	if err := bw.Flush(); err != nil {
		return err
	}
	if file != nil {
		if err := file.Sync(); err != nil {
			return fmt.Errorf("writing %s: %w", outPath, err)
		}
		if err := file.Close(); err != nil {
			return fmt.Errorf("writing %s: %w", outPath, err)
		}
	}
	if cursorPath != "" {
		if err := atomicfile.Write(cursorPath, 0o600, func(w io.Writer) error { return WriteCursor(w, next) }); err != nil {
			return fmt.Errorf("saving the cursor (the decisions were written and will be exported again next time): %w", err)
		}
	}
	fmt.Fprintf(notes, "%d decisions of %s exported\n", n, source)
	return nil
}
