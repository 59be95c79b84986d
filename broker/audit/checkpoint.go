package audit

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/lgsp-bus/lgsp/broker/store"
)

// ActionCheckpoint marks a signed checkpoint entry. A checkpoint covers
// exactly the entries before it: RequestID holds "size=<n> root=<hex>" and
// Reason the base64 Ed25519 signature of Checkpoint.Message. Keeping
// checkpoints in the log itself means they are chained and proved like any
// other entry, in both stores, with no extra table.
const ActionCheckpoint = "audit.checkpoint"

// Checkpoint is a signed tree head: the log of Size entries has Merkle root Root.
type Checkpoint struct {
	Size      int64     `json:"size"`
	Root      []byte    `json:"root"`
	Time      time.Time `json:"time"`
	Signature []byte    `json:"signature"`
	Seq       int64     `json:"seq"` // the checkpoint's own entry
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
	sig, err := base64.StdEncoding.DecodeString(e.Reason)
	if err != nil {
		return c, fmt.Errorf("audit: checkpoint %d: signature: %w", e.Seq, err)
	}
	c.Signature, c.Time, c.Seq = sig, e.Time, e.Seq
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
}

// OK reports whether the log verified.
func (r Report) OK() bool { return r.FirstBad == 0 && r.Problem == "" }

// VerifyLog re-reads the whole log from the store in sequence order and
// checks every link of the hash chain, that sequence numbers have no gaps,
// and every checkpoint's Merkle root and signature. Editing, deleting,
// inserting or reordering a row is caught at that row by the chain; a chain
// recomputed by someone with database access is caught at the next
// checkpoint, whose signature they cannot forge.
//
// A pruned log (its first stored entry is not 1) verifies only from the
// retention entry that records the deletion (see ActionRetention): the chain
// continues from its last hash and the Merkle frontier from its compact
// range, and the first stored entry must be the signed checkpoint covering
// exactly the deleted entries, which proves the anchor. Deleting old entries
// any other way is reported at the first entry no retention entry accounts for.
