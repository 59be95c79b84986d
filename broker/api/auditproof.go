package api

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"
	"github.com/lgsp-bus/lgsp/broker/audit"
	"github.com/lgsp-bus/lgsp/broker/store"
)

// AuditLog is what the proof endpoints need from the access log.
type AuditLog interface {
	PublicKey() ed25519.PublicKey
	Latest() (audit.Checkpoint, bool)
	Size() int64
	InclusionProof(ctx context.Context, seq, size int64) (proof [][]byte, leaf []byte, err error)
	ConsistencyProof(ctx context.Context, first, second int64) ([][]byte, error)
	RootAt(ctx context.Context, size int64) ([]byte, error)
	InclusionProofs(ctx context.Context, size int64, seqs []int64) (map[int64][][]byte, error)
	Append(ctx context.Context, entries []store.AuditEntry) error
	Checkpoint(ctx context.Context) (audit.Checkpoint, error)
}

var leafHash = audit.LeafHash

func hexes(bs [][]byte) []string {
	out := make([]string, len(bs))
	for i, b := range bs {
		out[i] = hex.EncodeToString(b)
	}
	return out
}

func (h *handlers) auditPublicKey(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"algorithm": "Ed25519", "public_key": hex.EncodeToString(h.d.AuditLog.PublicKey())})
}

func (h *handlers) auditCheckpoint(c echo.Context) error {
	cp, ok := h.d.AuditLog.Latest()
	if !ok {
		return fail(http.StatusNotFound, "", "no checkpoint yet; one is signed every audit.checkpoint_every")
	}
	return c.JSON(http.StatusOK, map[string]any{
		"size": cp.Size, "root": hex.EncodeToString(cp.Root), "time": cp.Time, "seq": cp.Seq,
		"signature": base64.StdEncoding.EncodeToString(cp.Signature), "signed_message": string(cp.Message()),
	})
}

// positive reads a required positive integer query parameter.
func positive(c echo.Context, name string) (int64, error) {
	s := c.QueryParam(name)
	if s == "" {
		return 0, fail(http.StatusBadRequest, name, "%s is required", name)
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 1 {
		return 0, fail(http.StatusBadRequest, name, "%s must be a positive entry number, got %q", name, s)
	}
	return n, nil
}

func proofError(err error) error {
	if errors.Is(err, audit.ErrBeyondLog) {
		return fail(http.StatusNotFound, "", "%v", err)
	}
	return unavailable(err, "audit log unavailable, retry later")
}

// auditInclusion proves entry seq is in the log of size size (default: now).
func (h *handlers) auditInclusion(c echo.Context) error {
	seq, err := positive(c, "seq")
	if err != nil {
		return err
	}
	size := h.d.AuditLog.Size()
	if c.QueryParam("size") != "" {
		if size, err = positive(c, "size"); err != nil {
			return err
		}
	}
	ctx := c.Request().Context()
	proof, leaf, err := h.d.AuditLog.InclusionProof(ctx, seq, size)
	if err != nil {
		return proofError(err)
	}
	root, err := h.d.AuditLog.RootAt(ctx, size)
	if err != nil {
		return proofError(err)
	}
	return c.JSON(http.StatusOK, map[string]any{"seq": seq, "size": size, "leaf_hash": hex.EncodeToString(leaf), "root": hex.EncodeToString(root), "proof": hexes(proof)})
}

// auditConsistency proves the log of size first is a prefix of the log of size second.
func (h *handlers) auditConsistency(c echo.Context) error {
	first, err := positive(c, "first")
	if err != nil {
		return err
	}
	second, err := positive(c, "second")
	if err != nil {
		return err
	}
	if first > second {
		return fail(http.StatusBadRequest, "first", "first (%d) must not exceed second (%d)", first, second)
	}
	ctx := c.Request().Context()
	proof, err := h.d.AuditLog.ConsistencyProof(ctx, first, second)
	if err != nil {
		return proofError(err)
	}
	r1, err := h.d.AuditLog.RootAt(ctx, first)
	if err != nil {
		return proofError(err)
	}
	r2, err := h.d.AuditLog.RootAt(ctx, second)
	if err != nil {
		return proofError(err)
	}
	return c.JSON(http.StatusOK, map[string]any{"first": first, "second": second, "first_root": hex.EncodeToString(r1), "second_root": hex.EncodeToString(r2), "proof": hexes(proof)})
}
