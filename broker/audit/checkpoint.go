package audit

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"math/bits"
	"strconv"
	"strings"
	"time"

	"github.com/lgsp-bus/lgsp/broker/store"
)

// ActionCheckpoint marks a signed checkpoint entry. A checkpoint covers
// exactly the entries before it: RequestID holds "size=<n> root=<hex>" and
// Reason the base64 Ed25519 signature of Checkpoint.Message, then
// " frontier=<hex>,…": the Merkle frontier (compact range) of those entries,
// the roots of the perfect subtrees the size decomposes into, largest
// first. Keeping checkpoints in the log itself means they are chained and
// proved like any other entry, in both stores, with no extra table.
//
// The frontier lets Open resume the tree from the latest checkpoint instead
// of re-reading the whole log. It is never trusted as stored: its root must
// equal the signed root (a forged frontier would need a SHA-256 collision),
// and VerifyLog checks it against the entries before it. Checkpoints written
// before the frontier was added have none and still verify.
const ActionCheckpoint = "audit.checkpoint"

// Checkpoint is a signed tree head: the log of Size entries has Merkle root Root.
type Checkpoint struct {
	Size      int64     `json:"size"`
	Root      []byte    `json:"root"`
	Time      time.Time `json:"time"`
	Signature []byte    `json:"signature"`
	Seq       int64     `json:"seq"` // the checkpoint's own entry

	// frontier is the stored compact range of the Size entries, as read
	// (unverified); nil for a checkpoint written without one.
	frontier *frontier
}

// checkpointEntry is the log entry that records cp, with f (of cp.Size
// entries) as its frontier.
func checkpointEntry(cp Checkpoint, f frontier) store.AuditEntry {
	return store.AuditEntry{Time: cp.Time, Actor: "lgsp", Action: ActionCheckpoint, Decision: "allow",
		RequestID: fmt.Sprintf("size=%d root=%s", cp.Size, hex.EncodeToString(cp.Root)),
		Reason:    base64.StdEncoding.EncodeToString(cp.Signature) + " frontier=" + encodeNodes(f.nodes)}
}

// encodeNodes is the comma-separated hex of a frontier's nodes.
func encodeNodes(nodes [][]byte) string {
	hs := make([]string, len(nodes))
	for i, h := range nodes {
		hs[i] = hex.EncodeToString(h)
	}
	return strings.Join(hs, ",")
}

// decodeNodes reads encodeNodes' text back.
func decodeNodes(s string) ([][]byte, error) {
	var out [][]byte
	for _, h := range strings.Split(s, ",") {
		if h == "" {
			continue
		}
		b, err := hex.DecodeString(h)
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
}

// frontierOf rebuilds the compact range of a tree of size leaves from its
// nodes, largest subtree first, checking that their number and lengths fit
// that size.
func frontierOf(size int64, nodes [][]byte) (frontier, error) {
	if size < 0 || len(nodes) != bits.OnesCount64(uint64(size)) {
		return frontier{}, fmt.Errorf("%d nodes for a tree of %d leaves, want %d", len(nodes), size, bits.OnesCount64(uint64(max(size, 0))))
	}
	f := frontier{size: size}
	i := 0
	for b := 62; b >= 0; b-- {
		if size&(1<<b) != 0 {
			if len(nodes[i]) != 32 {
				return frontier{}, fmt.Errorf("node %d is %d bytes, want 32", i, len(nodes[i]))
			}
			f.nodes = append(f.nodes, nodes[i])
			f.sizes = append(f.sizes, 1<<b)
			i++
		}
	}
	return f, nil
}

// checkedFrontier returns the frontier stored with the checkpoint, checked against
// its signed root: it must have the shape of a tree of Size leaves and hash
// to Root. (The signature over Root is Verify's job.) ok is false for a
// checkpoint stored without a frontier.
func (c Checkpoint) checkedFrontier() (f frontier, ok bool, err error) {
	if c.frontier == nil {
		return frontier{}, false, nil
	}
	f = c.frontier.clone()
	if r := f.root(); !bytes.Equal(r, c.Root) {
		return frontier{}, true, fmt.Errorf("audit: checkpoint %d: its stored Merkle frontier hashes to %x, not to the signed root %x (the frontier was altered)", c.Seq, r, c.Root)
	}
	return f, true, nil
}

// Message is the exact byte string signed: a versioned, line-based text so
// that any auditor can re-create and check it with a stock Ed25519 tool.
func (c Checkpoint) Message() []byte {
	return []byte(fmt.Sprintf("lgsp-audit-checkpoint/v1\n%d\n%s\n%d\n", c.Size, hex.EncodeToString(c.Root), c.Time.UTC().UnixMicro()))
}

// Verify checks the signature with the published public key.
func (c Checkpoint) Verify(pub ed25519.PublicKey) error {
	if !ed25519.Verify(pub, c.Message(), c.Signature) {
		return fmt.Errorf("audit: checkpoint at size %d has an invalid signature", c.Size)
	}
	return nil
}

// ParseCheckpoint reads a checkpoint entry.
func ParseCheckpoint(e store.AuditEntry) (Checkpoint, error) {
	if e.Action != ActionCheckpoint {
		return Checkpoint{}, errors.New("audit: not a checkpoint entry")
	}
	var c Checkpoint
	for _, f := range strings.Fields(e.RequestID) {
		k, v, _ := strings.Cut(f, "=")
		switch k {
		case "size":
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return c, fmt.Errorf("audit: checkpoint %d: size: %w", e.Seq, err)
			}
			c.Size = n
		case "root":
			r, err := hex.DecodeString(v)
			if err != nil {
				return c, fmt.Errorf("audit: checkpoint %d: root: %w", e.Seq, err)
			}
			c.Root = r
		}
	}
	sigText, rest, _ := strings.Cut(e.Reason, " ")
	sig, err := base64.StdEncoding.DecodeString(sigText)
	if err != nil {
		return c, fmt.Errorf("audit: checkpoint %d: signature: %w", e.Seq, err)
	}
	c.Signature, c.Time, c.Seq = sig, e.Time, e.Seq
	for _, f := range strings.Fields(rest) {
		k, v, _ := strings.Cut(f, "=")
		if k != "frontier" {
			continue
		}
		nodes, err := decodeNodes(v)
		if err != nil {
			return c, fmt.Errorf("audit: checkpoint %d: frontier: %w", e.Seq, err)
		}
		fr, err := frontierOf(c.Size, nodes)
		if err != nil {
			return c, fmt.Errorf("audit: checkpoint %d: frontier: %w", e.Seq, err)
		}
		c.frontier = &fr
	}
	return c, nil
}

// frontier is the compact Merkle range of an append-only log: the roots of
// the perfect subtrees its size decomposes into, largest first. Appending is
// O(log n) and the root needs no other state, so the log can be checkpointed
// at any size without keeping every leaf.
type frontier struct {
	size  int64
	nodes [][]byte // roots of perfect subtrees, sizes decreasing powers of two
	sizes []int64
}

func (f *frontier) append(leaf []byte) {
	node, size := leaf, int64(1)
	for len(f.sizes) > 0 && f.sizes[len(f.sizes)-1] == size {
		last := len(f.nodes) - 1
		node = nodeHash(f.nodes[last], node)
		size *= 2
		f.nodes, f.sizes = f.nodes[:last], f.sizes[:last]
	}
	f.nodes, f.sizes = append(f.nodes, node), append(f.sizes, size)
	f.size++
}

func (f *frontier) root() []byte {
	if len(f.nodes) == 0 {
		return emptyRoot
	}
	r := f.nodes[len(f.nodes)-1]
	for i := len(f.nodes) - 2; i >= 0; i-- {
		r = nodeHash(f.nodes[i], r)
	}
	return r
}

// Report is the outcome of verifying a whole log.
type Report struct {
	Entries     int64
	Checkpoints int64
	// Latest is the last valid checkpoint; entries after it are protected
	// by the hash chain only until the next checkpoint.
	Latest *Checkpoint
	// FirstBad is the sequence number of the first entry that fails (0: none).
	FirstBad int64
	Problem  string
	// Pruned is how many of the oldest entries were deleted under the
	// retention setting (entries 1..Pruned), as Retention records.
	Pruned    int64
	Retention *Retention
	// SearchFilterProblem names the first entry that the stored search
	// filter of its bucket (store.AuditBucketFilter) does not hold: a
	// search by that citizen or request would miss it. The log itself is
	// not affected; delete the bucket's filter row and the bus rebuilds it at its next start.
	SearchFilterProblem string
	// WitnessProblem says how the store contradicts a checkpoint held
	// outside it (VerifyLogWith): it ends before it (cut) or has another
	// root at its size (forked, rewritten).
	WitnessProblem string
	// Witnessed is the newest checkpoint held outside the store that the
	// store was found consistent with (nil: none given or checked).
	Witnessed *Known
}

// OK reports whether the log verified.
func (r Report) OK() bool {
	return r.FirstBad == 0 && r.Problem == "" && r.SearchFilterProblem == "" && r.WitnessProblem == ""
}
