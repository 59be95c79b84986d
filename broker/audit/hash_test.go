package audit

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/lgsp-bus/lgsp/broker/store"
)

// hashV1 is Hash as first written (streaming into the digest); the buffered
// Hash must give the same bytes, or every stored entry would fail to verify.
func hashV1(e *store.AuditEntry) []byte {
	h := sha256.New()
	var n [8]byte
	put := func(b []byte) {
		binary.BigEndian.PutUint64(n[:], uint64(len(b)))
		h.Write(n[:])
		h.Write(b)
	}
	binary.BigEndian.PutUint64(n[:], uint64(e.Seq))
	h.Write(n[:])
	put(e.PrevHash)
	put([]byte(e.Time.UTC().Format(time.RFC3339Nano)))
	for _, s := range []string{e.Actor, e.Action, e.Dataset, e.Purpose, e.LegalBasis, e.AgreementID, e.Decision, e.Reason, e.RequestID, e.CitizenKey} {
		put([]byte(s))
	}
	binary.BigEndian.PutUint64(n[:], uint64(len(e.Fields)))
	h.Write(n[:])
	for _, f := range e.Fields {
		put([]byte(f))
	}
	return h.Sum(nil)
}

func TestHashUnchanged(t *testing.T) {
	loc := time.FixedZone("ICT", 7*3600)
	for _, e := range []store.AuditEntry{
		{},
		{Seq: 1, Time: time.Date(2026, 1, 2, 3, 4, 5, 123456000, loc), Actor: "vss", Action: "deliver", Fields: []string{}},
		{Seq: 99, PrevHash: bytes.Repeat([]byte{7}, 32), Time: time.Now(), Actor: "a", Action: "b", Dataset: "c", Purpose: "d,e", LegalBasis: "Nghị định 13",
			AgreementID: "f", Decision: "deny", Reason: "g", RequestID: "h", CitizenKey: "i", Fields: []string{"x", "", "yz"}},
	} {
		if !bytes.Equal(Hash(&e), hashV1(&e)) {
			t.Fatalf("Hash changed for %+v", e)
		}
	}
}

// HiddenUntil is covered once set: an investigation's secrecy cannot be
// lifted or extended without breaking the chain.
func TestHashCoversHiddenUntil(t *testing.T) {
	e := store.AuditEntry{Seq: 3, Time: time.Now(), Actor: "mps", Action: "lookup"}
	plain := Hash(&e)
	e.HiddenUntil = time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	h1 := Hash(&e)
	e.HiddenUntil = e.HiddenUntil.Add(time.Microsecond)
	h2 := Hash(&e)
	if bytes.Equal(plain, h1) || bytes.Equal(h1, h2) {
		t.Fatal("HiddenUntil is not covered by the hash")
	}
}

func BenchmarkHash(b *testing.B) {
	e := store.AuditEntry{Seq: 99, PrevHash: bytes.Repeat([]byte{7}, 32), Time: time.Now(), Actor: "vss", Action: "deliver", Dataset: "population.citizen",
		Purpose: "health_insurance_issuance", LegalBasis: "Decree 47/2024/ND-CP", AgreementID: "agr-vss-1", Decision: "allow",
		RequestID: "0000000000000001-deadbeef", CitizenKey: string(bytes.Repeat([]byte{'a'}, 64)), Fields: []string{"full_name", "dob", "permanent_address"}}
	for b.Loop() {
		Hash(&e)
	}
}

// CitizenKey is the hex HMAC-SHA256 of the number under the log's key,
// the same from every pooled state and from many goroutines at once.
func TestCitizenKey(t *testing.T) {
	l := &Log{key: []byte("0123456789abcdef")}
	want := func(n string) string {
		m := hmac.New(sha256.New, l.key)
		m.Write([]byte(n))
		return hex.EncodeToString(m.Sum(nil))
	}
	if l.CitizenKey("") != "" {
		t.Error("an empty number must give an empty key")
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 500 {
				n := fmt.Sprintf("%03d0900%05d", g, i)
				if got := l.CitizenKey(n); got != want(n) {
					t.Errorf("CitizenKey(%s) = %s, want %s", n, got, want(n))
					return
				}
			}
		}()
	}
	wg.Wait()
}
