package api

import (
	"fmt"
	"net/http"
	"os"
	"testing"

	"github.com/lgsp-bus/lgsp/broker/api/openapitest"
)

// validator checks every answer the package's tests get against
// openapi.json: through http.DefaultTransport for the tests that call a
// server, through CheckedHandler for those that call the handler.
var validator = func() *openapitest.Validator {
	v, err := openapitest.New(openAPI)
	if err != nil {
		panic(err)
	}
	return v
}()

func TestMain(m *testing.M) {
	http.DefaultTransport = validator.Transport(http.DefaultTransport)
	code := m.Run()
	// A mismatch fails the request that met it; this catches one whose
	// test ignored the error.
	if fails, _ := validator.Failures(); len(fails) > 0 && code == 0 {
		fmt.Fprintf(os.Stderr, "%d answers do not match openapi.json:\n", len(fails))
		for _, f := range fails {
			fmt.Fprintln(os.Stderr, f)
		}
		code = 1
	}
	os.Exit(code)
}

// CheckedHandler is h with every answer checked against openapi.json; a
// mismatch fails t. (Exported for the package's external tests.)
func CheckedHandler(t testing.TB, h http.Handler) http.Handler { return validator.Handler(t, h) }
