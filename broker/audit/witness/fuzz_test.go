package witness_test

import (
	"crypto/ed25519"
	"encoding/json"
	"testing"

	"github.com/lgsp-bus/lgsp/broker/audit/witness"
)

// fuzzKey is fixed so that the seed corpus can hold validly signed lines.
var fuzzKey = ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))

// A witness reads lines of its file and answers of other witnesses and of
// the topic: no input may panic it, and whatever verifies must carry the
// signature of the bus key over what it says.
func FuzzCosignedJSON(f *testing.F) {
	f.Add([]byte(`{"checkpoint":{"size":3,"root":"00","time":"2025-01-01T00:00:00Z","signature":"AA=="},"witness":"","cosignature":""}`))
	f.Add([]byte(`{"checkpoint":{"size":-1,"root":"","signature":"!!"}}`))
	f.Add([]byte(`{}`))
	pub := fuzzKey.Public().(ed25519.PublicKey)
	f.Fuzz(func(t *testing.T, raw []byte) {
		var c witness.Cosigned
		if json.Unmarshal(raw, &c) != nil {
			return
		}
		cp, err := c.Verify(pub, nil)
		if err != nil {
			return
		}
		if cp.Size < 0 || len(cp.Root) != 32 || !ed25519.Verify(pub, cp.Message(), cp.Signature) {
			t.Fatalf("accepted %+v", cp)
		}
	})
}
