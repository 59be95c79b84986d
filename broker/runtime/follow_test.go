package runtime_test

import (
	"context"
	"strings"
	"testing"
	"time"
)

// Two instances share the agreements folder: an agreement put through one
// instance's API is in force on the other within policies.follow_every,
// and the other records that it followed.
func TestAgreementChangeReachesTheOtherInstance(t *testing.T) {
	shared := copyAgreements(t, t.TempDir())
	a := devConfig(t, t.TempDir())
	a.Policies.Dir, a.Policies.FollowEvery, a.Instance.ID = shared, 200*time.Millisecond, "a"
	b := devConfig(t, t.TempDir())
	b.Policies.Dir, b.Policies.FollowEvery, b.Instance.ID = shared, 200*time.Millisecond, "b"
	busA, busB := start(t, a), start(t, b)
	defer busA.Close(context.Background())
	defer busB.Close(context.Background())

	url := "http://" + busA.Addrs().API + "/v1/operator/agreements/thads-hcm-taxpayer-stream"
	if code, raw := send(t, "PUT", url, operatorToken(t, busA), "application/json", []byte(thadsStream), ""); code != 201 {
		t.Fatalf("put through instance a: %d %s", code, raw)
	}
	deadline := time.Now().Add(30 * time.Second) // a bound against hanging, not the figure: follow_every is 200ms
	for {
		var got []struct{ ID string }
		operatorGet(t, "http://"+busB.Addrs().API+"/v1/agreements", operatorToken(t, busB), &got)
		found := false
		for _, g := range got {
			found = found || g.ID == "thads-hcm-taxpayer-stream"
		}
		if found {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("instance b never put the agreement in force (it has %d agreements)", len(got))
		}
		time.Sleep(50 * time.Millisecond)
	}
	var page struct {
		Entries []struct{ Action, Actor, Reason string }
	}
	operatorGet(t, "http://"+busB.Addrs().API+"/v1/audit?agency=lgsp&limit=100", operatorToken(t, busB), &page)
	for _, e := range page.Entries {
		if e.Action == "agreements.follow" && strings.Contains(e.Reason, "instance b") {
			return
		}
	}
	t.Fatalf("instance b did not audit that it followed the change: %+v", page.Entries)
}
