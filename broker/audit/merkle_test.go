package audit

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"testing"
)

func leaves(n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		h := sha256.Sum256([]byte(fmt.Sprint(i)))
		out[i] = LeafHash(h[:])
	}
	return out
}

// The RFC 6962 reference vectors (as used by Certificate Transparency's
// merkle tree tests): leaves are the hashes of these inputs.
func TestRootMatchesRFC6962Vectors(t *testing.T) {
	inputs := []string{"", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"}
	roots := []string{
		"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
		"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
		"aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
		"d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
		"4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
		"76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
		"ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
		"5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
	}
	var ls [][]byte
	for i, in := range inputs {
		b, _ := hex.DecodeString(in)
		h := sha256.New()
		h.Write([]byte{0})
		h.Write(b)
		ls = append(ls, h.Sum(nil))
		if got := hex.EncodeToString(Root(ls)); got != roots[i] {
			t.Fatalf("root of %d leaves = %s, want %s", i+1, got, roots[i])
		}
	}
}

func TestProofsVerifyAndRejectTampering(t *testing.T) {
	for n := 1; n <= 40; n++ {
		ls := leaves(n)
		root := Root(ls)
		for m := 0; m < n; m++ {
			p, err := InclusionProof(m, ls)
			if err != nil {
				t.Fatal(err)
			}
			if err := VerifyInclusion(m, n, ls[m], p, root); err != nil {
				t.Fatalf("inclusion %d/%d: %v", m, n, err)
			}
			if n > 1 {
				if VerifyInclusion((m+1)%n, n, ls[m], p, root) == nil {
					t.Fatalf("inclusion %d/%d verified at the wrong index", m, n)
				}
				other := bytes.Clone(ls[m])
				other[0] ^= 1
				if VerifyInclusion(m, n, other, p, root) == nil {
					t.Fatalf("altered leaf %d/%d verified", m, n)
				}
			}
		}
		for m := 1; m <= n; m++ {
			p, err := ConsistencyProof(m, ls)
			if err != nil {
				t.Fatal(err)
			}
			if err := VerifyConsistency(m, n, Root(ls[:m]), root, p); err != nil {
				t.Fatalf("consistency %d→%d: %v", m, n, err)
			}
			if m < n {
				forked := append(append([][]byte(nil), ls[:m-1]...), leaves(m + 100)[m+99])
				if VerifyConsistency(m, n, Root(forked), root, p) == nil {
					t.Fatalf("consistency %d→%d verified for a different history", m, n)
				}
			}
		}
	}
	if _, err := InclusionProof(5, leaves(5)); err == nil {
		t.Error("proof past the log size must be an error")
	}
}
