package runtime_test

import (
	"fmt"
	"net/http"
	"os"
	"testing"

	"github.com/lgsp-bus/lgsp/broker/api"
	"github.com/lgsp-bus/lgsp/broker/api/openapitest"
)

// apiCheck checks every answer of a bus's REST API that these end-to-end
// tests receive against the OpenAPI document the bus serves: the tests
// call through http.DefaultTransport (http.Get, http.DefaultClient) or a
// client built on apiCheck.Transport, and a mismatch fails the request.
var apiCheck = func() *openapitest.Validator {
	v, err := openapitest.New(api.OpenAPIDocument())
	if err != nil {
		panic(err)
	}
	return v
}()

func TestMain(m *testing.M) {
	http.DefaultTransport = apiCheck.Transport(http.DefaultTransport)
	code := m.Run()
	if fails, _ := apiCheck.Failures(); len(fails) > 0 && code == 0 {
		fmt.Fprintf(os.Stderr, "%d answers of the REST API do not match openapi.json:\n", len(fails))
		for _, f := range fails {
			fmt.Fprintln(os.Stderr, f)
		}
		code = 1
	}
	os.Exit(code)
}
