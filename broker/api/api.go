// Package api owns the bus's REST API on the API port: liveness and
// readiness, Prometheus metrics, the OpenAPI document, HTTP push ingest for
// ministries, and read-only views of datasets, connectors, agreements and the
// audit log. Every route is authenticated and authorized in one place
// (auth.go: the caller from access.go, the role of each route); every error
// is JSON naming the problem.
package api

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
	"github.com/lgsp-bus/lgsp/broker/metrics"
	"github.com/lgsp-bus/lgsp/broker/pipeline"
	"github.com/lgsp-bus/lgsp/broker/store"
	"github.com/lgsp-bus/lgsp/connectors"
	"github.com/lgsp-bus/lgsp/connectors/runtime"
	"github.com/lgsp-bus/lgsp/connectors/strictjson"
	"github.com/lgsp-bus/lgsp/policies"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/segmentio/kafka-go"
)

//go:embed openapi.json
var openAPI []byte

// OpenAPIDocument is the OpenAPI 3.1 document served at /openapi.json (a
// copy), for tools and for the tests that check every answer against it.
func OpenAPIDocument() []byte { return slices.Clone(openAPI) }

// New builds the echo server with every route.
func New(d Deps) *echo.Echo {
	if d.MaxBody == 0 {
		d.MaxBody = 8 << 20
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = errorHandler(d.Logger)
	h := &handlers{d: d, denied: deniedCounter(d.Metrics)}
	e.Use(h.authorizeRoute) // every route: caller and role (auth.go)
	if d.Console != nil {
		e.GET("/", func(c echo.Context) error { return c.Redirect(http.StatusFound, "/ui/") })
		e.GET("/ui/*", echo.WrapHandler(d.Console))
		e.POST("/ui/*", echo.WrapHandler(d.Console))
	}
	e.GET("/healthz", h.healthz)
	e.GET("/readyz", h.readyz)
	e.GET("/metrics", echo.WrapHandler(promhttp.HandlerFor(d.Metrics, promhttp.HandlerOpts{})))
	e.GET("/openapi.json", func(c echo.Context) error { return c.Blob(http.StatusOK, "application/json", openAPI) })
	e.GET("/v1/status", h.status)
	e.GET("/v1/datasets", h.datasets)
	e.GET("/v1/connectors", h.connectors)
	e.GET("/v1/connectors/:name", h.connector)
	e.POST("/v1/connectors/:name/reset", h.resetConnector)
	e.GET("/v1/agreements", h.agreements)
	e.GET("/v1/audit", h.audit)
	e.GET("/v1/audit/export", h.auditExport)
	e.GET("/v1/citizen/accesses", h.citizenAccesses)
	e.GET("/v1/audit/public-key", h.auditPublicKey)
	e.GET("/v1/audit/checkpoint", h.auditCheckpoint)
	e.GET("/v1/audit/proofs/inclusion", h.auditInclusion)
	e.GET("/v1/audit/proofs/consistency", h.auditConsistency)
	e.POST("/v1/sources/:source/records", h.ingest)
	op := e.Group("/v1/operator", h.operator)
	op.POST("/agencies/:agency/tokens", h.issueToken)
	op.DELETE("/tokens/:id", h.revokeToken)
	op.GET("/tokens", h.listTokens)
	op.POST("/agencies/:agency/certificates", h.issueCertificate)
	op.GET("/certificates", h.listCertificates)
	op.POST("/certificates/:serial/revoke", h.revokeCertificate)
	op.POST("/agreements/reload", h.reloadAgreements)
	op.GET("/review", h.reviewList)
	op.GET("/review/:id", h.reviewGet)
	op.POST("/review/:id/accept", h.reviewAccept)
	op.POST("/review/:id/reject", h.reviewReject)
	op.GET("/agreements", h.listAgreements)
	op.GET("/agreements/:id", h.getAgreement)
	op.PUT("/agreements/:id", h.putAgreement)
	op.POST("/agreements/:id/preview", h.previewAgreement)
	op.DELETE("/agreements/:id", h.deleteAgreement)
	op.POST("/kafka/users/:user/password", h.rotateKafkaPassword)
	e.POST("/v1/lookup", h.lookup)
	e.POST("/v1/verify", h.verify)
	h.qualityRoutes(e)
	return e
}

// Problem is every error body.
type Problem struct {
	Error string `json:"error"`
	// Field names the offending parameter, header or JSON path, when there is one.
	Field string `json:"field,omitempty"`
}

func fail(status int, field, format string, args ...any) error {
	return &echo.HTTPError{Code: status, Message: Problem{Error: fmt.Sprintf(format, args...), Field: field}}
}

// unavailable is the answer when something the bus depends on (the store,
// Kafka, the audit log) failed: the client learns what to do, the operator's
// log gets the cause (errorHandler), never the client.
func unavailable(cause error, advice string) error {
	return &echo.HTTPError{Code: http.StatusServiceUnavailable, Message: Problem{Error: advice}, Internal: cause}
}

// errorHandler answers every error as a JSON Problem. The cause of a 5xx
// is logged under a reference that the answer names, so a client can
// report it without ever seeing driver or broker text.
func errorHandler(log *slog.Logger) echo.HTTPErrorHandler {
	return func(err error, c echo.Context) {
		if c.Response().Committed {
			return
		}
		var he *echo.HTTPError
		if !errors.As(err, &he) {
			he = &echo.HTTPError{Code: http.StatusInternalServerError, Message: Problem{Error: "internal error"}, Internal: err}
		}
		if he.Code >= 500 && he.Internal != nil {
			ref := uuid.NewString()
			log.Error("api: request failed", "ref", ref, "method", c.Request().Method, "route", c.Path(), "status", he.Code, "error", he.Internal)
			if p, ok := he.Message.(Problem); ok {
				p.Error += " (reference " + ref + " in the operator's log)"
				he = &echo.HTTPError{Code: he.Code, Message: p}
			}
		}
		answer(he, c)
	}
}

func answer(he *echo.HTTPError, c echo.Context) {
	body, ok := he.Message.(Problem)
	if !ok {
		body = Problem{Error: fmt.Sprint(he.Message)}
		if he.Code == http.StatusNotFound {
			body.Error = "no such route: " + c.Request().Method + " " + c.Request().URL.Path
		}
		if he.Code == http.StatusMethodNotAllowed {
			body.Error = "method " + c.Request().Method + " not allowed on " + c.Request().URL.Path
		}
	}
	if he.Code == http.StatusUnauthorized {
		c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Bearer realm="lgsp"`)
	}
	if he.Code == http.StatusServiceUnavailable || he.Code == http.StatusTooManyRequests {
		c.Response().Header().Set("Retry-After", "1")
	}
	_ = c.JSON(he.Code, body)
}

type handlers struct {
	d      Deps
	denied *prometheus.CounterVec // refused calls by status (auth.go)
}

func (h *handlers) healthz(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"status": "alive"})
}

func (h *handlers) readyz(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), 5*time.Second)
	defer cancel()
	checks := map[string]string{}
	ready := true
	for name, check := range h.d.Ready {
		if err := check(ctx); err != nil {
			// Public endpoint: the cause goes to the operator's log only.
			h.d.Logger.Warn("readiness check failed", "check", name, "error", err)
			checks[name], ready = "unavailable", false
		} else {
			checks[name] = "ok"
		}
	}
	status := http.StatusOK
	if !ready {
		status = http.StatusServiceUnavailable
	}
	out := map[string]any{"ready": ready, "checks": checks}
	if h.d.Instance != nil {
		if role := h.d.Instance.Role(); role != nil {
			out["role"] = role
		}
	}
	return c.JSON(status, out)
}

func (h *handlers) status(c echo.Context) error {
	if h.d.Instance == nil {
		return c.JSON(http.StatusOK, map[string]any{})
	}
	st := h.d.Instance.Status()
	// An agency sees its own deliveries only; the operator sees them all.
	if caller := callerOf(c); !caller.Operator {
		if m, ok := st.(map[string]any); ok {
			if f, ok := m["flow"].(metrics.Flow); ok {
				m["flow"] = f.ForAgency(caller.Agency)
			}
		}
	}
	return c.JSON(http.StatusOK, st)
}

func (h *handlers) datasets(c echo.Context) error {
	type ds struct {
		Name     string `json:"name"`
		Topic    string `json:"topic"`
		Subject  string `json:"subject"`
		Format   string `json:"format"`
		SchemaID int    `json:"schema_id"`
		Owner    string `json:"owner"`
	}
	out := []ds{} // [] rather than null when empty, as documented
	for _, d := range h.d.Catalog.Datasets() {
		out = append(out, ds{d.Name, d.Topic(), d.Subject(), string(d.Format), h.d.SchemaIDs[d.Name], d.Owner})
	}
	return c.JSON(http.StatusOK, out)
}

func (h *handlers) connectors(c echo.Context) error {
	var out []runtime.State
	if h.d.Connectors != nil {
		out = h.d.Connectors.States()
	}
	if out == nil {
		out = []runtime.State{} // [] rather than null, as documented
	}
	return c.JSON(http.StatusOK, out)
}

func (h *handlers) agreements(c echo.Context) error {
	out := h.d.Engine.Agreements()
	if out == nil {
		out = []policies.Agreement{}
	}
	return c.JSON(http.StatusOK, out)
}

// auditQuery reads the auditor's search parameters; each malformed one is a
// 400 naming it. A citizen is given by personal number and hashed here, so
// the number never reaches the store or the logs.
func (h *handlers) auditQuery(c echo.Context) (store.AuditSearch, error) {
	q := store.AuditSearch{RequestID: c.QueryParam("request_id"), Actor: c.QueryParam("agency"), Dataset: c.QueryParam("dataset"),
		Purpose: c.QueryParam("purpose"), Decision: c.QueryParam("decision"), Action: c.QueryParam("action")}
	if n := c.QueryParam("citizen"); n != "" {
		if !digits(n) || (len(n) != 12 && len(n) != 9) {
			return q, fail(http.StatusBadRequest, "citizen", "citizen must be a 12-digit personal number or a 9-digit CMND")
		}
		q.CitizenKey = h.d.CitizenKeys.CitizenKey(n)
	}
	if q.Decision != "" && q.Decision != "allow" && q.Decision != "deny" {
		return q, fail(http.StatusBadRequest, "decision", "decision must be allow or deny")
	}
	for _, p := range []struct {
		name string
		dst  *time.Time
	}{{"since", &q.Since}, {"until", &q.Until}} {
		if v := c.QueryParam(p.name); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				return q, fail(http.StatusBadRequest, p.name, "%s must be an RFC 3339 time such as 2026-01-31T00:00:00+07:00", p.name)
			}
			*p.dst = t
		}
	}
	switch c.QueryParam("order") {
	case "", "oldest":
	case "newest":
		q.Newest = true
	default:
		return q, fail(http.StatusBadRequest, "order", "order must be oldest or newest")
	}
	var err error
	if s := c.QueryParam("after"); s != "" {
		if q.AfterSeq, err = strconv.ParseInt(s, 10, 64); err != nil || q.AfterSeq < 0 {
			return q, fail(http.StatusBadRequest, "after", "after must be a non-negative entry number")
		}
	}
	if s := c.QueryParam("before"); s != "" {
		if q.BeforeSeq, err = strconv.ParseInt(s, 10, 64); err != nil || q.BeforeSeq < 1 {
			return q, fail(http.StatusBadRequest, "before", "before must be a positive entry number")
		}
	}
	q.Limit = 100
	if s := c.QueryParam("limit"); s != "" {
		if q.Limit, err = strconv.Atoi(s); err != nil || q.Limit < 1 || q.Limit > 1000 {
			return q, fail(http.StatusBadRequest, "limit", "limit must be between 1 and 1000")
		}
	}
	return q, nil
}

// audit searches the access log, a page at a time with a stable cursor
// (next_after for oldest-first, next_before for newest-first).
func (h *handlers) audit(c echo.Context) error {
	q, err := h.auditQuery(c)
	if err != nil {
		return err
	}
	if err := h.auditTheAuditor(c, "audit.search", q); err != nil {
		return err
	}
	entries, err := h.d.Audit.SearchAudit(c.Request().Context(), q)
	if err != nil {
		return unavailable(err, "audit log unavailable, retry later")
	}
	resp := map[string]any{"entries": entries}
	if entries == nil {
		resp["entries"] = []store.AuditEntry{}
	}
	if len(entries) == q.SearchLimit() {
		last := strconv.FormatInt(entries[len(entries)-1].Seq, 10)
		if q.Newest {
			resp["next_before"] = last
		} else {
			resp["next_after"] = last
		}
	}
	return c.JSON(http.StatusOK, resp)
}

// auditTheAuditor records a search or export of the access log before it
// is served (fail closed), like any other access: who searched, and for
// what. A search by citizen carries the citizen's key, so it is found by
// the same search and shows in the citizen's own view; the filters are
// written without the number.
func (h *handlers) auditTheAuditor(c echo.Context, action string, q store.AuditSearch) error {
	var filters []string
	for _, f := range []struct{ name, v string }{{"agency", q.Actor}, {"dataset", q.Dataset}, {"purpose", q.Purpose},
		{"decision", q.Decision}, {"action", q.Action}, {"request_id", q.RequestID}} {
		if f.v != "" {
			filters = append(filters, f.name+"="+f.v)
		}
	}
	if q.CitizenKey != "" {
		filters = append(filters, "citizen")
	}
	if !q.Since.IsZero() {
		filters = append(filters, "since="+q.Since.UTC().Format(time.RFC3339))
	}
	if !q.Until.IsZero() {
		filters = append(filters, "until="+q.Until.UTC().Format(time.RFC3339))
	}
	e := store.AuditEntry{Time: time.Now(), Actor: callerOf(c).Name(), Action: action, Dataset: "audit_log", Decision: "allow",
		Purpose: "audit", Reason: strings.Join(filters, " "), RequestID: uuid.NewString(), CitizenKey: q.CitizenKey}
	if q.CitizenKey != "" && h.d.InspectionHiddenFor > 0 {
		e.HiddenUntil = e.Time.Add(h.d.InspectionHiddenFor)
	}
	if err := h.d.AuditLog.Append(c.Request().Context(), []store.AuditEntry{e}); err != nil {
		return unavailable(err, "the search could not be audited, so it is not served; retry")
	}
	return nil
}

func digits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}

// pushRecord is one record in an HTTP push.
type pushRecord struct {
	Dataset string         `json:"dataset"`
	Op      string         `json:"op"`
	Before  map[string]any `json:"before"`
	After   map[string]any `json:"after"`
}

// ingest accepts `{"records":[…]}` or a single record object from a source
// ministry and answers only once every record is durable in Kafka (published
// or dead-lettered). An Idempotency-Key header makes the event ids of a
// retried request equal to the first one's, so consumers drop the duplicates.
func (h *handlers) ingest(c echo.Context) error {
	source := c.Param("source")
	if !h.d.Sources[source] {
		return fail(http.StatusNotFound, "source", "unknown source %q; known sources push to /v1/sources/{land|tax|insurance|civil_status|civil_servant}/records", source)
	}
	ct := c.Request().Header.Get(echo.HeaderContentType)
	mt, _, err := mime.ParseMediaType(ct)
	if ct == "" || err != nil || mt != "application/json" {
		return fail(http.StatusUnsupportedMediaType, "Content-Type", "Content-Type must be application/json, got %q", ct)
	}
	body, err := io.ReadAll(io.LimitReader(c.Request().Body, h.d.MaxBody+1))
	if err != nil {
		return fail(http.StatusBadRequest, "", "reading the body failed: %v", err)
	}
	if int64(len(body)) > h.d.MaxBody {
		return fail(http.StatusRequestEntityTooLarge, "", "body is over the %d-byte limit; split it into smaller batches", h.d.MaxBody)
	}
	if len(strings.TrimSpace(string(body))) == 0 {
		return fail(http.StatusBadRequest, "", "empty body: send {\"records\":[{\"dataset\":…,\"op\":\"c\",\"after\":{…}}]}")
	}
	recs, err := decodePush(body)
	if err != nil {
		return err
	}
	key := c.Request().Header.Get("Idempotency-Key")
	given := key != ""
	if !given {
		key = uuid.NewString()
	} else if len(key) > 200 {
		return fail(http.StatusBadRequest, "Idempotency-Key", "Idempotency-Key is over 200 characters")
	}
	if given && h.d.Idempotency != nil {
		// A retried request gets the first answer and ingests nothing again.
		status, body, err := h.d.Idempotency.GetIdempotent(c.Request().Context(), source, key)
		if err == nil {
			c.Response().Header().Set("Idempotent-Replayed", "true")
			return c.JSONBlob(status, body)
		}
		if !errors.Is(err, store.ErrNotFound) {
			return unavailable(err, "idempotency store unavailable, retry")
		}
	}
	batch := make([]connectors.Record, len(recs))
	now := time.Now()
	for i, r := range recs {
		op := connectors.Op(r.Op)
		if op == "" {
			op = connectors.OpCreate
		}
		batch[i] = connectors.Record{Dataset: r.Dataset, Op: op, Before: r.Before, After: r.After, Time: now,
			Position: connectors.Position(fmt.Sprintf("http:%s:%d", key, i))}
	}
	results, err := h.d.Ingest.Ingest(c.Request().Context(), source, batch)
	if errors.Is(err, kafka.MessageSizeTooLarge) {
		// A retry cannot succeed: Kafka's limit is below the bus's record
		// limit (pipeline.max_record_bytes); the operator must align them.
		return fail(http.StatusRequestEntityTooLarge, "records", "a record is larger than the Kafka cluster accepts; send smaller records (the operator can lower pipeline.max_record_bytes below Kafka's message.max.bytes)")
	}
	if err != nil {
		return unavailable(err, "records not durable, retry with the same Idempotency-Key")
	}
	rejected := 0
	for _, r := range results {
		if r.Status != pipeline.StatusPublished {
			rejected++
		}
	}
	resp := map[string]any{"idempotency_key": key, "results": results}
	status := http.StatusOK
	if rejected > 0 {
		resp["error"] = fmt.Sprintf("%d of %d records were rejected and dead-lettered to dlq.%s (see each result's error and path); the others were published", rejected, len(results), source)
		status = http.StatusUnprocessableEntity
	}
	out, err := json.Marshal(resp)
	if err != nil {
		return err
	}
	if given && h.d.Idempotency != nil {
		// The records are durable already; if remembering the answer fails,
		// a retry re-sends them with the same event ids (consumers dedupe).
		_ = h.d.Idempotency.PutIdempotent(c.Request().Context(), source, key, status, out)
	}
	return c.JSONBlob(status, out)
}

// decodePush reads a push body strictly (connectors/strictjson): no
// duplicate or case-folded member names, no invalid Unicode, and only the
// members a push has; every refusal is a 400 naming the JSON path.
func decodePush(body []byte) ([]pushRecord, error) {
	v, err := strictjson.Decode(body)
	if err != nil {
		return nil, jsonProblem(err)
	}
	top, ok := v.(map[string]any)
	if !ok {
		return nil, fail(http.StatusBadRequest, "$", "body must be a JSON object: {\"records\":[…]} or one record, got %s", strictjson.Kind(v))
	}
	var items []any
	batch := false
	if rs, ok := top["records"]; ok {
		if err := onlyMembers(top, "$", "the body", []string{"records"}, nil); err != nil {
			return nil, err
		}
		if items, ok = rs.([]any); !ok {
			return nil, fail(http.StatusBadRequest, "$.records", "records must be an array of record objects, got %s", strictjson.Kind(rs))
		}
		if len(items) == 0 {
			return nil, fail(http.StatusBadRequest, "$.records", "records is empty")
		}
		if len(items) > 10000 {
			return nil, fail(http.StatusRequestEntityTooLarge, "$.records", "at most 10000 records per request, got %d", len(items))
		}
		batch = true
	} else {
		items = []any{top}
	}
	out := make([]pushRecord, len(items))
	for i, it := range items {
		path := "$"
		if batch {
			path = fmt.Sprintf("$.records[%d]", i)
		}
		m, ok := it.(map[string]any)
		if !ok {
			return nil, fail(http.StatusBadRequest, path, "record %d is not a record object, got %s", i, strictjson.Kind(it))
		}
		var hints []string
		if !batch {
			hints = []string{"records"} // {"Records":[…]} is meant as a batch
		}
		if err := onlyMembers(m, path, fmt.Sprintf("record %d", i), pushMembers, hints); err != nil {
			return nil, err
		}
		r := &out[i]
		for _, f := range []struct {
			name string
			dst  *string
		}{{"dataset", &r.Dataset}, {"op", &r.Op}} {
			switch x := m[f.name].(type) {
			case string:
				*f.dst = x
			case nil:
			default:
				return nil, fail(http.StatusBadRequest, path+"."+f.name, "record %d: %s must be a string, got %s", i, f.name, strictjson.Kind(x))
			}
		}
		for _, f := range []struct {
			name string
			dst  *map[string]any
		}{{"before", &r.Before}, {"after", &r.After}} {
			switch x := m[f.name].(type) {
			case map[string]any:
				*f.dst = x
			case nil:
			default:
				return nil, fail(http.StatusBadRequest, path+"."+f.name, "record %d: %s must be an object or null, got %s", i, f.name, strictjson.Kind(x))
			}
		}
		if r.Dataset == "" {
			return nil, fail(http.StatusBadRequest, path+".dataset", "record %d has no dataset", i)
		}
		if r.After == nil && r.Before == nil {
			return nil, fail(http.StatusBadRequest, path+".after", "record %d has neither after nor before", i)
		}
	}
	return out, nil
}

// pushMembers are the members of a pushed record, matched exactly.
var pushMembers = []string{"dataset", "op", "before", "after"}

// onlyMembers refuses a member of m not in names, naming it and, when it
// differs only in case from one of names or hints, the name meant
// (encoding/json would have bound "AFTER" to after without a word).
func onlyMembers(m map[string]any, path, what string, names, hints []string) error {
	var unknown []string
	for k := range m {
		if !slices.Contains(names, k) {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	sort.Strings(unknown)
	k := unknown[0]
	for _, n := range slices.Concat(names, hints) {
		if strings.EqualFold(k, n) {
			return fail(http.StatusBadRequest, path+strictjson.Member(k), "%s has the unknown member %q; member names are case-sensitive: did you mean %q?", what, k, n)
		}
	}
	return fail(http.StatusBadRequest, path+strictjson.Member(k), "%s has the unknown member %q; it may have only %s", what, k, strings.Join(names, ", "))
}

// jsonProblem turns a strictjson refusal into a 400 naming the path.
func jsonProblem(err error) error {
	var se *strictjson.Error
	if errors.As(err, &se) {
		return fail(http.StatusBadRequest, se.Path, "%s, at %s (byte %d)", se.Reason, se.Path, se.Offset)
	}
	return fail(http.StatusBadRequest, "", "malformed JSON")
}
