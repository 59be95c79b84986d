package kafkaauth

import (
	"context"
	"path/filepath"
	"sync"
	"testing"

	"github.com/lgsp-bus/lgsp/broker/store/sqlitestore"
)

// Two bus instances sharing one store see one set of credentials: a
// credential issued, rotated or revoked through either holds on both, and
// two instances issuing to the same new user at once issue one password.
func TestSharedCredentialsAcrossInstances(t *testing.T) {
	st, err := sqlitestore.Open(context.Background(), filepath.Join(t.TempDir(), "store.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	// Instance a had run alone before: its file is imported.
	dirA := t.TempDir()
	file, err := OpenStore(dirA)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := file.Issue("vss"); err != nil {
		t.Fatal(err)
	}
	a, err := OpenShared(dirA, st)
	if err != nil {
		t.Fatal(err)
	}
	b, err := OpenShared(t.TempDir(), st)
	if err != nil {
		t.Fatal(err)
	}
	fileVSS, _ := file.Secret("vss")
	if got, ok := b.Secret("vss"); !ok || string(got.SaltedPassword) != string(fileVSS.SaltedPassword) {
		t.Fatalf("instance b does not hold the credential imported from a's file")
	}
	if a.Bus() != b.Bus() || a.Bus() != file.Bus() {
		t.Errorf("bus credential differs between instances")
	}

	// Issued through a after b started: b sees it and does not issue again.
	issued, err := a.Issue("gdt")
	if err != nil || issued["gdt"] == "" {
		t.Fatalf("issue through a: %v %v", issued, err)
	}
	again, err := b.Issue("gdt")
	if err != nil || len(again) != 0 {
		t.Fatalf("b issued %v for a user a had issued to (%v): the two would fight over its password", again, err)
	}
	sa, _ := a.Secret("gdt")
	sb, _ := b.Secret("gdt")
	if string(sa.SaltedPassword) != string(sb.SaltedPassword) {
		t.Fatal("instances hold different credentials for gdt")
	}

	// Rotated through b, revoked through a: both see each change.
	if _, err := b.Rotate("gdt"); err != nil {
		t.Fatal(err)
	}
	if ra, _ := a.Secret("gdt"); string(ra.SaltedPassword) == string(sa.SaltedPassword) {
		t.Error("a still holds gdt's password from before b rotated it")
	}
	if err := a.Revoke("gdt"); err != nil {
		t.Fatal(err)
	}
	if rb, _ := b.Secret("gdt"); !rb.Revoked() {
		t.Error("b does not see the revocation made through a")
	}

	// Both issue to a new user at once: one password, held by both.
	var wg sync.WaitGroup
	results := make([]map[string]string, 2)
	for i, s := range []*Store{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := s.Issue("moha")
			if err != nil {
				t.Error(err)
			}
			results[i] = r
		}()
	}
	wg.Wait()
	if n := len(results[0]) + len(results[1]); n != 1 {
		t.Fatalf("%d passwords issued to moha by two instances at once, want 1: %v", n, results)
	}
	ma, _ := a.Secret("moha")
	mb, _ := b.Secret("moha")
	if string(ma.SaltedPassword) != string(mb.SaltedPassword) || len(ma.SaltedPassword) == 0 {
		t.Fatal("instances hold different credentials for moha")
	}
}
