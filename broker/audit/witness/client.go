package witness

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/lgsp-bus/lgsp/broker/audit"
)

// ErrNoCheckpoint is returned when a bus or witness has none to serve yet.
var ErrNoCheckpoint = errors.New("witness: no checkpoint yet")

// Bus reads a bus's public audit endpoints.
type Bus struct {
	URL  string // the API base URL, e.g. http://bus:8080
	HTTP *http.Client
}

func httpClient(c *http.Client) *http.Client {
	if c != nil {
		return c
	}
	return &http.Client{Timeout: 15 * time.Second}
}

// getJSON GETs url into v; a 404 is ErrNoCheckpoint.
func getJSON(ctx context.Context, c *http.Client, url string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := httpClient(c).Do(req)
	if err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	switch {
	case resp.StatusCode == http.StatusNotFound && strings.HasSuffix(strings.SplitN(url, "?", 2)[0], "checkpoint"):
		return ErrNoCheckpoint
	case resp.StatusCode != http.StatusOK:
		return fmt.Errorf("GET %s: %s: %.200s", url, resp.Status, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("GET %s: the answer is not the expected JSON: %w", url, err)
	}
	return nil
}

func (b Bus) base() string { return strings.TrimRight(b.URL, "/") }

// PublicKey fetches the bus's checkpoint key (/v1/audit/public-key).
func (b Bus) PublicKey(ctx context.Context) (ed25519.PublicKey, error) {
	var v struct {
		PublicKey string `json:"public_key"`
	}
	if err := getJSON(ctx, b.HTTP, b.base()+"/v1/audit/public-key", &v); err != nil {
		return nil, err
	}
	return ParseKey(v.PublicKey)
}

// Checkpoint fetches the latest checkpoint (/v1/audit/checkpoint) and
// checks its signature with pub.
func (b Bus) Checkpoint(ctx context.Context, pub ed25519.PublicKey) (audit.Checkpoint, error) {
	var s Signed
	if err := getJSON(ctx, b.HTTP, b.base()+"/v1/audit/checkpoint", &s); err != nil {
		return audit.Checkpoint{}, err
	}
	cp, err := s.Checkpoint(pub)
	if err != nil {
		return cp, fmt.Errorf("witness: the bus's checkpoint of %d entries: %w", s.Size, err)
	}
	return cp, nil
}

// Consistency fetches the consistency proof between two sizes
// (/v1/audit/proofs/consistency); the caller verifies it.
func (b Bus) Consistency(ctx context.Context, first, second int64) ([][]byte, error) {
	var v struct {
		Proof []string `json:"proof"`
	}
	url := b.base() + "/v1/audit/proofs/consistency?first=" + strconv.FormatInt(first, 10) + "&second=" + strconv.FormatInt(second, 10)
	if err := getJSON(ctx, b.HTTP, url, &v); err != nil {
		return nil, err
	}
	out := make([][]byte, len(v.Proof))
	for i, h := range v.Proof {
		var err error
		if out[i], err = hex.DecodeString(h); err != nil {
			return nil, fmt.Errorf("witness: proof node %d is not hex", i)
		}
	}
	return out, nil
}

// Fetch asks the witness at url for its newest cosigned checkpoint (GET
// url/checkpoint) and checks the bus's signature on it with busKey (the
// bus's own signature is what proves the log once had that size; the
// cosignature is checked too when witnessKey is not nil).
func Fetch(ctx context.Context, c *http.Client, url string, busKey, witnessKey ed25519.PublicKey) (audit.Checkpoint, error) {
	var cs Cosigned
	if err := getJSON(ctx, c, strings.TrimRight(url, "/")+"/checkpoint", &cs); err != nil {
		return audit.Checkpoint{}, err
	}
	cp, err := cs.Verify(busKey, witnessKey)
	if err != nil {
		return cp, fmt.Errorf("witness %s: %w", url, err)
	}
	return cp, nil
}

// PollOnce offers w the bus's latest checkpoint and, when extra is not
// nil, the newest one it finds (the checkpoints topic), smallest first.
// It returns the refusals (ErrRefused) and fetch errors joined.
func (w *Witness) PollOnce(ctx context.Context, bus Bus, extra func(context.Context) (audit.Checkpoint, bool, error)) (cosigned int, err error) {
	var cands []audit.Checkpoint
	var errs []error
	switch cp, err := bus.Checkpoint(ctx, w.busKey); {
	case errors.Is(err, ErrNoCheckpoint):
	case err != nil:
		errs = append(errs, err)
	default:
		cands = append(cands, cp)
	}
	if extra != nil {
		cp, ok, err := extra(ctx)
		held, _ := w.Latest()
		switch {
		case err != nil:
			errs = append(errs, err)
		case ok && (cp.Size > held.Checkpoint.Size || held.Checkpoint.Root == ""):
			// An older one on the topic is history, not a rollback: only
			// the bus's own latest must never shrink.
			cands = append(cands, cp)
		}
	}
	if len(cands) == 2 && cands[1].Size < cands[0].Size {
		cands[0], cands[1] = cands[1], cands[0]
	}
	for _, cp := range cands {
		ok, err := w.Offer(ctx, cp, bus.Consistency)
		if err != nil {
			errs = append(errs, err)
		}
		if ok {
			cosigned++
		}
	}
	return cosigned, errors.Join(errs...)
}
