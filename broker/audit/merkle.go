package audit

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"math/bits"
)

// The Merkle tree over the log follows RFC 6962 (Certificate Transparency):
// a leaf is SHA-256(0x00 || entry hash), an interior node SHA-256(0x01 ||
// left || right), and the tree of n leaves splits at the largest power of
// two below n. Any RFC 6962 verifier can check the proofs the bus gives.

// LeafHash is the Merkle leaf of an entry's chain hash.
func LeafHash(entryHash []byte) []byte {
	h := sha256.New()
	h.Write([]byte{0})
	h.Write(entryHash)
	return h.Sum(nil)
}

func nodeHash(l, r []byte) []byte {
	h := sha256.New()
	h.Write([]byte{1})
	h.Write(l)
	h.Write(r)
	return h.Sum(nil)
}

// emptyRoot is the root of the empty tree, SHA-256 of nothing.
var emptyRoot = func() []byte { s := sha256.Sum256(nil); return s[:] }()

// split is the largest power of two smaller than n (n ≥ 2).
func split(n int) int { return 1 << (bits.Len(uint(n-1)) - 1) }

// Root is the Merkle tree hash of the leaves.
func Root(leaves [][]byte) []byte {
	switch len(leaves) {
	case 0:
		return emptyRoot
	case 1:
		return leaves[0]
	}
	k := split(len(leaves))
	return nodeHash(Root(leaves[:k]), Root(leaves[k:]))
}

// InclusionProof is the audit path of leaf m (0-based) in the tree of leaves.
func InclusionProof(m int, leaves [][]byte) ([][]byte, error) {
	if m < 0 || m >= len(leaves) {
		return nil, fmt.Errorf("audit: entry %d is not in a log of size %d", m+1, len(leaves))
	}
	return path(m, leaves), nil
}

func path(m int, d [][]byte) [][]byte {
	if len(d) <= 1 {
		return nil
	}
	k := split(len(d))
	if m < k {
		return append(path(m, d[:k]), Root(d[k:]))
	}
	return append(path(m-k, d[k:]), Root(d[:k]))
}

// ConsistencyProof proves the tree of the first m leaves is a prefix of the
// tree of all leaves.
func ConsistencyProof(m int, leaves [][]byte) ([][]byte, error) {
	if m < 1 || m > len(leaves) {
		return nil, fmt.Errorf("audit: no consistency proof from size %d to size %d", m, len(leaves))
	}
	return subproof(m, leaves, true), nil
}

func subproof(m int, d [][]byte, complete bool) [][]byte {
	n := len(d)
	if m == n {
		if complete {
			return nil
		}
		return [][]byte{Root(d)}
	}
	k := split(n)
	if m <= k {
		return append(subproof(m, d[:k], complete), Root(d[k:]))
	}
	return append(subproof(m-k, d[k:], false), Root(d[:k]))
}

// ErrProof marks a proof that does not verify.
var ErrProof = errors.New("audit: proof does not verify")

// VerifyInclusion checks that leaf is entry m (0-based) of the tree of size n with the given root
// (RFC 9162, 2.1.3.2).
func VerifyInclusion(m, n int, leaf []byte, proof [][]byte, root []byte) error {
	if m < 0 || m >= n {
		return fmt.Errorf("%w: index %d outside size %d", ErrProof, m, n)
	}
	fn, sn := m, n-1
	r := leaf
	for _, p := range proof {
		if sn == 0 {
			return fmt.Errorf("%w: proof too long", ErrProof)
		}
		if fn&1 == 1 || fn == sn {
			r = nodeHash(p, r)
			for fn&1 == 0 && fn != 0 {
				fn >>= 1
				sn >>= 1
			}
		} else {
			r = nodeHash(r, p)
		}
		fn >>= 1
		sn >>= 1
	}
	if sn != 0 || !bytes.Equal(r, root) {
		return ErrProof
	}
	return nil
}

// VerifyConsistency checks that the tree of size m with root1 is a prefix of
// the tree of size n with root2 (RFC 9162, 2.1.4.2).
func VerifyConsistency(m, n int, root1, root2 []byte, proof [][]byte) error {
	switch {
	case m < 1 || m > n:
		return fmt.Errorf("%w: sizes %d, %d", ErrProof, m, n)
	case m == n:
		if len(proof) != 0 || !bytes.Equal(root1, root2) {
			return ErrProof
		}
		return nil
	case len(proof) == 0:
		return ErrProof
	}
	if m&(m-1) == 0 { // a power of two: the old root is the first node
		proof = append([][]byte{root1}, proof...)
	}
	fn, sn := m-1, n-1
	for fn&1 == 1 {
		fn >>= 1
		sn >>= 1
	}
	fr, sr := proof[0], proof[0]
	for _, c := range proof[1:] {
		if sn == 0 {
			return fmt.Errorf("%w: proof too long", ErrProof)
		}
		if fn&1 == 1 || fn == sn {
			fr = nodeHash(c, fr)
			sr = nodeHash(c, sr)
			for fn&1 == 0 && fn != 0 {
				fn >>= 1
				sn >>= 1
			}
		} else {
			sr = nodeHash(sr, c)
		}
		fn >>= 1
		sn >>= 1
	}
	if sn != 0 || !bytes.Equal(fr, root1) || !bytes.Equal(sr, root2) {
		return ErrProof
	}
	return nil
}
