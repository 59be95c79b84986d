package runtime_test

import (
	"encoding/json"
	"net/http"
	"strconv"
	"testing"
)

// The REST API's audit proofs are tested in broker/api
// (TestAuditProofsOverREST); these helpers serve the tests here.

func getJSON(t *testing.T, url string, v any) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if v != nil {
		_ = json.NewDecoder(resp.Body).Decode(v)
	}
	return resp.StatusCode
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
