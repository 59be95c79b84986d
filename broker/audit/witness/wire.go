// Package witness keeps the bus's signed audit checkpoints outside its
// database, so that deleting the end of the access log together with its
// checkpoints, or rewriting it, is noticed. It follows Certificate
// Transparency's gossip and witness cosigning (sigsum, transparency-dev
// witness):
//
//   - the bus publishes every checkpoint it signs to a Kafka topic
//     (Publisher; LatestOnTopic reads the newest back);
//   - a witness (`lgsp audit witness`, run by an auditor's agency) keeps the
//     last checkpoint it accepted, accepts a newer one only with a valid
//     consistency proof from it, countersigns it with its own Ed25519 key,
//     appends it to a file and serves the newest over HTTP; a checkpoint
//     that is not consistent (fork, rollback, smaller tree) is refused and
//     never cosigned;
//   - the bus at start and `lgsp audit verify` check the store against the
//     newest checkpoint found there.
//
// The wire and file format is JSON (Signed, Cosigned): hashes in hex,
// signatures in base64, as the bus's /v1/audit/checkpoint serves them.
package witness

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/lgsp-bus/lgsp/broker/audit"
)

// Signed is a checkpoint as the bus signed it: the JSON of
// /v1/audit/checkpoint and of the messages on the checkpoints topic.
type Signed struct {
	// Log is the hex Ed25519 public key of the bus that signed it (on the
	// topic and in a witness's file; the bus's endpoint leaves it out).
	Log  string    `json:"log,omitempty"`
	Size int64     `json:"size"`
	Root string    `json:"root"` // hex SHA-256 Merkle root (RFC 6962) of entries 1..size
	Time time.Time `json:"time"`
	// Seq is the checkpoint's own entry, always size+1; informative only
	// (it is not signed).
	Seq       int64  `json:"seq"`
	Signature string `json:"signature"` // base64 Ed25519 over audit.Checkpoint.Message
}

// FromCheckpoint is the wire form of cp signed by the bus key pub.
func FromCheckpoint(pub ed25519.PublicKey, cp audit.Checkpoint) Signed {
	return Signed{Log: hex.EncodeToString(pub), Size: cp.Size, Root: hex.EncodeToString(cp.Root), Time: cp.Time.UTC(),
		Seq: cp.Size + 1, Signature: base64.StdEncoding.EncodeToString(cp.Signature)}
}

// Checkpoint decodes s and checks its signature with the bus key pub.
func (s Signed) Checkpoint(pub ed25519.PublicKey) (audit.Checkpoint, error) {
	root, err := hex.DecodeString(s.Root)
	if err != nil || len(root) != 32 {
		return audit.Checkpoint{}, errors.New("root: want 64 hex characters")
	}
	sig, err := base64.StdEncoding.DecodeString(s.Signature)
	if err != nil {
		return audit.Checkpoint{}, fmt.Errorf("signature: %w", err)
	}
	if s.Size < 0 {
		return audit.Checkpoint{}, fmt.Errorf("size: %d is negative", s.Size)
	}
	if s.Log != "" && s.Log != hex.EncodeToString(pub) {
		return audit.Checkpoint{}, fmt.Errorf("it names the log %s, not the bus key %x", s.Log, pub)
	}
	cp := audit.Checkpoint{Size: s.Size, Root: root, Time: s.Time.UTC(), Signature: sig, Seq: s.Size + 1}
	if err := cp.Verify(pub); err != nil {
		return audit.Checkpoint{}, err
	}
	return cp, nil
}

// Cosigned is a checkpoint a witness accepted and countersigned: one line
// of its file (cosigned.jsonl) and the answer of its GET /checkpoint.
type Cosigned struct {
	Checkpoint Signed    `json:"checkpoint"`
	Witness    string    `json:"witness"` // hex Ed25519 public key of the witness
	CosignedAt time.Time `json:"cosigned_at"`
	// Cosignature is the witness's base64 Ed25519 signature over
	// CosignMessage.
	Cosignature string `json:"cosignature"`
}

// CosignMessage is what a witness signs: the bus's log key, the
// checkpoint's own signed message and when the witness saw it.
func CosignMessage(logKey string, cp audit.Checkpoint, at time.Time) []byte {
	return fmt.Appendf(nil, "lgsp-audit-cosignature/v1\n%s\n%s%d\n", logKey, cp.Message(), at.UTC().UnixMicro())
}

// Verify checks the bus's signature with busKey and, when witnessKey is
// not nil, the witness's cosignature with it; it returns the checkpoint.
func (c Cosigned) Verify(busKey, witnessKey ed25519.PublicKey) (audit.Checkpoint, error) {
	cp, err := c.Checkpoint.Checkpoint(busKey)
	if err != nil {
		return cp, fmt.Errorf("the bus's signature: %w", err)
	}
	if witnessKey == nil {
		return cp, nil
	}
	sig, err := base64.StdEncoding.DecodeString(c.Cosignature)
	if err != nil || c.Witness != hex.EncodeToString(witnessKey) ||
		!ed25519.Verify(witnessKey, CosignMessage(hex.EncodeToString(busKey), cp, c.CosignedAt), sig) {
		return cp, errors.New("the witness's cosignature does not verify with its key")
	}
	return cp, nil
}

// ParseKey reads a hex Ed25519 public key.
func ParseKey(s string) (ed25519.PublicKey, error) {
	k, err := hex.DecodeString(s)
	if err != nil || len(k) != ed25519.PublicKeySize {
		return nil, errors.New("want 64 hex characters (an Ed25519 public key)")
	}
	return k, nil
}
