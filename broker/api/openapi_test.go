package api

import (
	"context"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/lgsp-bus/lgsp/broker/api/openapitest"
	"github.com/prometheus/client_golang/prometheus"
)

// loadDoc parses openapi.json and validates it (examples included).
func loadDoc(t *testing.T) *openapi3.T {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(openAPI)
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("openapi.json is not a valid OpenAPI document: %v", err)
	}
	if !doc.IsOpenAPI31OrLater() {
		t.Fatalf("openapi.json is OpenAPI %s, want 3.1", doc.OpenAPI)
	}
	return doc
}

// servedRoutes are the server's routes ("METHOD /path/{param}", with echo's
// own pattern), the console's included.
func servedRoutes() map[string]string {
	e := New(Deps{Metrics: prometheus.NewRegistry(), Console: http.NotFoundHandler()})
	param := regexp.MustCompile(`:([a-z_]+)`)
	out := map[string]string{}
	for _, r := range e.Routes() {
		if strings.HasPrefix(r.Name, "github.com/labstack/echo") || r.Method == "echo_route_any" {
			continue
		}
		p := strings.Replace(param.ReplaceAllString(r.Path, "{$1}"), "*", "{path}", 1)
		out[r.Method+" "+p] = r.Path
	}
	return out
}

// The document lists exactly the routes the server has and the routes of
// auth.go's table, with the same methods; each operation's security is
// what the route's role (auth.go) accepts.
func TestOpenAPIMatchesRoutesAndRoles(t *testing.T) {
	doc := loadDoc(t)
	documented := map[string]*openapi3.Operation{}
	for p, item := range doc.Paths.Map() {
		for m, op := range item.Operations() {
			documented[m+" "+p] = op
		}
	}
	served := servedRoutes()
	param := regexp.MustCompile(`:([a-z_]+)`)
	for k := range routeRoles { // auth.go's table must be served (and so documented)
		m, p, _ := strings.Cut(k, " ")
		key := m + " " + strings.Replace(param.ReplaceAllString(p, "{$1}"), "*", "{path}", 1)
		if _, ok := served[key]; !ok {
			t.Errorf("auth.go's routeRoles has %s, which the server does not serve", k)
		}
	}
	var missing, extra []string
	for k := range served {
		if documented[k] == nil {
			missing = append(missing, k)
		}
	}
	for k := range documented {
		if _, ok := served[k]; !ok {
			extra = append(extra, k)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	if len(missing) > 0 {
		t.Errorf("routes missing from openapi.json: %v", missing)
	}
	if len(extra) > 0 {
		t.Errorf("openapi.json documents routes the server lacks: %v", extra)
	}

	// What each role accepts, as alternatives of security requirements.
	want := map[Role][]string{
		RolePublic:   {},
		RoleCitizen:  {"citizenToken"},
		RoleAny:      {"agencyToken", "mutualTLS", "operatorToken"},
		RoleAuditor:  {"agencyToken", "mutualTLS", "operatorToken"},
		RoleAgency:   {"agencyToken", "mutualTLS"},
		RoleSource:   {"agencyToken", "mutualTLS"},
		RoleOperator: {"operatorToken"},
	}
	for k, echoPath := range served {
		op := documented[k]
		if op == nil {
			continue
		}
		m, _, _ := strings.Cut(k, " ")
		rule, ok := ruleFor(m, echoPath)
		if !ok {
			t.Errorf("%s has no rule in auth.go", k)
			continue
		}
		if op.Security == nil {
			t.Errorf("%s (%s) has no security of its own", k, rule.Role)
			continue
		}
		var got []string
		for _, req := range *op.Security {
			if len(req) != 1 {
				t.Errorf("%s: a security requirement must name one scheme, got %v", k, req)
			}
			for name := range req {
				got = append(got, name)
			}
		}
		sort.Strings(got)
		if !slices.Equal(got, want[rule.Role]) && !(len(got) == 0 && len(want[rule.Role]) == 0) {
			t.Errorf("%s: security %v, but auth.go's role %s accepts %v", k, got, rule.Role, want[rule.Role])
		}
		// A route that needs a credential says what happens without one
		// and with the wrong one.
		if rule.Role != RolePublic && rule.Role != RoleCitizen {
			for _, s := range []string{"401", "403"} {
				if op.Responses.Value(s) == nil {
					t.Errorf("%s (%s) does not declare %s", k, rule.Role, s)
				}
			}
		}
		if rule.Role == RoleCitizen && op.Responses.Value("401") == nil {
			t.Errorf("%s (citizen) does not declare 401", k)
		}
	}
}

// Every operation has an operationId, a summary and a schema for every
// answer with a body, errors included; every JSON field name is
// snake_case.
func TestOpenAPIIsComplete(t *testing.T) {
	doc := loadDoc(t)
	ids := map[string]string{}
	for p, item := range doc.Paths.Map() {
		for m, op := range item.Operations() {
			k := m + " " + p
			if op.OperationID == "" || op.Summary == "" {
				t.Errorf("%s: operationId %q, summary %q", k, op.OperationID, op.Summary)
			}
			if prev, dup := ids[op.OperationID]; dup {
				t.Errorf("%s and %s share operationId %s", k, prev, op.OperationID)
			}
			ids[op.OperationID] = k
			if op.Responses.Value("500") == nil {
				t.Errorf("%s does not declare 500", k)
			}
			for status, r := range op.Responses.Map() {
				bodiless := status == "204" || status == "431" || strings.HasPrefix(status, "3") ||
					strings.HasPrefix(p, "/ui/") // the console's HTML pages
				if bodiless {
					continue
				}
				if len(r.Value.Content) == 0 {
					t.Errorf("%s %s has no content schema", k, status)
				}
				for ct, mt := range r.Value.Content {
					if mt.Schema == nil {
						t.Errorf("%s %s %s has no schema", k, status, ct)
					}
				}
			}
		}
	}
	snake := regexp.MustCompile(`^[a-z][a-z0-9]*(_[a-z0-9]+)*$`)
	seen := map[*openapi3.Schema]bool{}
	var walk func(where string, s *openapi3.SchemaRef)
	walk = func(where string, s *openapi3.SchemaRef) {
		if s == nil || s.Value == nil || seen[s.Value] {
			return
		}
		seen[s.Value] = true
		for name, p := range s.Value.Properties {
			if !snake.MatchString(name) {
				t.Errorf("%s: property %q is not snake_case", where, name)
			}
			walk(where+"."+name, p)
		}
		walk(where+"[]", s.Value.Items)
		for _, l := range [][]*openapi3.SchemaRef{s.Value.OneOf, s.Value.AnyOf, s.Value.AllOf} {
			for _, x := range l {
				walk(where, x)
			}
		}
		if s.Value.AdditionalProperties.Schema != nil {
			walk(where+"{}", s.Value.AdditionalProperties.Schema)
		}
	}
	for name, s := range doc.Components.Schemas {
		walk(name, s)
	}
	if len(seen) < 40 {
		t.Errorf("only %d schemas walked; the document lost its components?", len(seen))
	}
}

// The checker the tests use catches what the issue found: Go field names,
// a year-1 time, an undeclared status, an undocumented route.
func TestOpenAPIValidatorCatchesMismatches(t *testing.T) {
	get := func(path string) *http.Request {
		r, _ := http.NewRequest(http.MethodGet, "http://bus"+path, nil)
		return r
	}
	v, err := openapitest.New(openAPI) // its own, so these mismatches do not fail TestMain
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		req    *http.Request
		status int
		body   string
		ok     bool
		ct     string // default application/json
	}{
		{"audit page in snake_case", get("/v1/audit"), 200, `{"entries":[{"seq":1,"time":"2026-01-01T00:00:00Z","actor":"operator","action":"x","decision":"allow","prev_hash":"","hash":"AA=="}]}`, true, ""},
		{"Go field names", get("/v1/audit"), 200, `{"entries":[{"Seq":1,"Time":"2026-01-01T00:00:00Z","Actor":"operator","Action":"x","Decision":"allow","PrevHash":"","Hash":"AA=="}]}`, false, ""},
		{"zero time left out", get("/v1/operator/review/r1"), 200, `{"id":"r1","source":"s","record_id":"x","personal_id":"1","score":1,"probability":0.5,"status":"pending","created":"2026-01-01T00:00:00Z"}`, true, ""},
		{"zero time sent as year 1", get("/v1/operator/review/r1"), 200, `{"id":"r1","source":"s","record_id":"x","personal_id":"1","score":1,"probability":0.5,"status":"pending","created":"2026-01-01T00:00:00Z","decided":"0001-01-01T00:00:00Z"}`, false, ""},
		{"status only a description", get("/v1/status"), 200, `{}`, false, ""},
		{"undeclared status", get("/healthz"), 418, `{"error":"teapot"}`, false, ""},
		{"error body of another shape", get("/v1/connectors/x"), 404, `{"message":"not found"}`, false, ""},
		{"undocumented route", get("/v1/nothing"), 200, `{}`, false, ""},
		{"unknown route answered 404", get("/v1/nothing"), 404, `{"error":"no such route"}`, true, ""},
		{"the registry's paths are not the API's", get("/subjects"), 200, `["a"]`, true, ""},
		{"NDJSON export", get("/v1/audit/export"), 200, `{"export":{"public_key":"ab","entries":1,"exported_at":"2026-01-01T00:00:00Z"}}` + "\n" +
			`{"entry":{"seq":1,"time":"2026-01-01T00:00:00Z","actor":"operator","action":"x","decision":"allow","prev_hash":null,"hash":"AA=="},"leaf_hash":"ab","inclusion_proof":[]}` + "\n", true, "application/x-ndjson"},
		{"NDJSON export with a Go field name", get("/v1/audit/export"), 200, `{"export":{"public_key":"ab","entries":1,"exported_at":"2026-01-01T00:00:00Z"}}` + "\n" +
			`{"entry":{"Seq":1},"leaf_hash":"ab","inclusion_proof":[]}` + "\n", false, "application/x-ndjson"},
		{"metrics as text", get("/metrics"), 200, "lgsp_records_in_total 1\n", true, "text/plain; version=0.0.4; charset=utf-8"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.ct == "" {
				c.ct = "application/json"
			}
			err := v.Check(c.req, c.status, http.Header{"Content-Type": {c.ct}}, []byte(c.body))
			if (err == nil) != c.ok {
				t.Errorf("ok %v, got %v", c.ok, err)
			}
		})
	}
}
