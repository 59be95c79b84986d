package audit

import (
	"context"
	"errors"
	"fmt"

	"github.com/lgsp-bus/lgsp/broker/store"
)

// ErrPruned marks a proof that needs entries deleted under retention.
var ErrPruned = errors.New("audit: the entries this proof needs were deleted under the retention setting")

// rangeTree is the RFC 6962 tree of a log whose first base.size leaves
// were pruned: what is left of them is their frontier. Every perfect
// subtree of the frontier is a node of the tree of any larger size (a
// left-full tree contains every aligned block of a power-of-two size that
// fits), so roots, inclusion proofs of kept entries and consistency proofs
// from a size at or past the cut come out exactly as from all the leaves.
type rangeTree struct {
	base   frontier
	leaves [][]byte // leaves base.size, base.size+1, …
	err    error
}

func (t *rangeTree) size() int { return int(t.base.size) + len(t.leaves) }

// node is the hash of leaves [lo, hi), an aligned subtree of the tree.
func (t *rangeTree) node(lo, hi int) []byte {
	b := int(t.base.size)
	switch {
	case lo >= b:
		return Root(t.leaves[lo-b : hi-b])
	case hi <= b:
		start := 0
		for i, sz := range t.base.sizes {
			if lo == start && hi == start+int(sz) {
				return t.base.nodes[i]
			}
			if lo == start && hi == b { // the right edge of a tree of exactly b leaves
				r := t.base.nodes[len(t.base.nodes)-1]
				for j := len(t.base.nodes) - 2; j >= i; j-- {
					r = nodeHash(t.base.nodes[j], r)
				}
				return r
			}
			start += int(sz)
		}
		if t.err == nil {
			t.err = fmt.Errorf("%w (leaves %d..%d)", ErrPruned, lo+1, hi)
		}
		return emptyRoot
	}
	k := split(hi - lo)
	return nodeHash(t.node(lo, lo+k), t.node(lo+k, hi))
}

func (t *rangeTree) root() []byte {
	if t.size() == 0 {
		return emptyRoot
	}
	return t.node(0, t.size())
}

func (t *rangeTree) path(m, lo, hi int) [][]byte {
	if hi-lo <= 1 {
		return nil
	}
	k := split(hi - lo)
	if m < lo+k {
		return append(t.path(m, lo, lo+k), t.node(lo+k, hi))
	}
	return append(t.path(m, lo+k, hi), t.node(lo, lo+k))
}

func (t *rangeTree) inclusion(m int) ([][]byte, error) {
	if m < 0 || m >= t.size() {
		return nil, fmt.Errorf("audit: entry %d is not in a log of size %d", m+1, t.size())
	}
	if m < int(t.base.size) {
		return nil, fmt.Errorf("%w (entry %d)", ErrPruned, m+1)
	}
	p := t.path(m, 0, t.size())
	return p, t.err
}

func (t *rangeTree) subproof(m, lo, hi int, complete bool) [][]byte {
	if m == hi-lo {
		if complete {
			return nil
		}
		return [][]byte{t.node(lo, hi)}
	}
	k := split(hi - lo)
	if m <= k {
		return append(t.subproof(m, lo, lo+k, complete), t.node(lo+k, hi))
	}
	return append(t.subproof(m-k, lo+k, hi, false), t.node(lo, lo+k))
}

func (t *rangeTree) consistency(m int) ([][]byte, error) {
	if m < 1 || m > t.size() {
		return nil, fmt.Errorf("audit: no consistency proof from size %d to size %d", m, t.size())
	}
	p := t.subproof(m, 0, t.size(), true)
	return p, t.err
}

// tree reads the tree of the first n entries: the frontier of the pruned
// ones and the leaves of the kept ones.
func (l *Log) treeAt(ctx context.Context, n int64) (*rangeTree, error) {
	l.mu.Lock()
	base := l.base.clone()
	l.mu.Unlock()
	if n < base.size {
		return nil, fmt.Errorf("%w (the log was pruned through entry %d; asked for size %d)", ErrPruned, base.size, n)
	}
	t := &rangeTree{base: base, leaves: make([][]byte, 0, n-base.size)}
	after := base.size
	for int64(t.size()) < n {
		page, err := l.st.ListAudit(ctx, store.AuditQuery{AfterSeq: after, Limit: 5000})
		if err != nil {
			return nil, err
		}
		if len(page) == 0 {
			break
		}
		for i := range page {
			if int64(t.size()) < n {
				if page[i].Seq != int64(t.size())+1 {
					return nil, fmt.Errorf("audit: entry %d is missing from the store (found %d); run lgsp audit verify", t.size()+1, page[i].Seq)
				}
				t.leaves = append(t.leaves, LeafHash(page[i].Hash))
			}
		}
		after = page[len(page)-1].Seq
	}
	if int64(t.size()) != n {
		return nil, fmt.Errorf("audit: the store holds %d entries up to size %d", t.size(), n)
	}
	return t, nil
}
