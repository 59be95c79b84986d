package audit

import (
	"bytes"
	"errors"
	"testing"
)

// With any prefix pruned down to its frontier, roots and the proofs of kept
// entries are exactly those computed from all the leaves.
func TestRangeTreeMatchesFullTree(t *testing.T) {
	for n := 1; n <= 40; n++ {
		ls := leaves(n)
		for cut := 0; cut <= n; cut++ {
			var f frontier
			for _, l := range ls[:cut] {
				f.append(l)
			}
			tr := &rangeTree{base: f, leaves: ls[cut:]}
			if !bytes.Equal(tr.root(), Root(ls)) || tr.err != nil {
				t.Fatalf("n=%d cut=%d: root differs (%v)", n, cut, tr.err)
			}
			for m := 0; m < n; m++ {
				got, err := tr.inclusion(m)
				if m < cut {
					if !errors.Is(err, ErrPruned) {
						t.Fatalf("n=%d cut=%d m=%d: %v, want ErrPruned", n, cut, m, err)
					}
					continue
				}
				want, _ := InclusionProof(m, ls)
				if err != nil || !equalProofs(got, want) {
					t.Fatalf("n=%d cut=%d m=%d: inclusion proof differs (%v)", n, cut, m, err)
				}
			}
			for m := max(cut, 1); m <= n; m++ {
				tr.err = nil
				got, err := tr.consistency(m)
				want, _ := ConsistencyProof(m, ls)
				if err != nil || !equalProofs(got, want) {
					t.Fatalf("n=%d cut=%d m=%d: consistency proof differs (%v)", n, cut, m, err)
				}
			}
		}
	}
}

func equalProofs(a, b [][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}
