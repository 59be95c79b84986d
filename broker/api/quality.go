package api

import (
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/lgsp-bus/lgsp/broker/quality"
	"github.com/lgsp-bus/lgsp/connectors"
)

// Data quality and redrive (broker/quality) under /v1/quality: the
// scorecards of a ministry's sources and its rejected or unreconciled
// records, which it resubmits corrected or discards. An agency sees and
// acts on the sources it owns (policies.Agency.Sources), the operator on
// all of them, without their personal numbers.

func (h *handlers) qualityRoutes(e *echo.Echo) {
	e.GET("/v1/quality", h.qualityScorecard)
	e.GET("/v1/quality/items", h.qualityItems)
	e.GET("/v1/quality/items/:id", h.qualityItem)
	e.POST("/v1/quality/items/:id/resubmit", h.qualityResubmit)
	e.POST("/v1/quality/items/:id/discard", h.qualityDiscard)
	e.POST("/v1/quality/resubmissions", h.qualityBulk)
	e.GET("/v1/quality/resubmissions", h.qualityJobs)
	e.GET("/v1/quality/resubmissions/:id", h.qualityJob)
}

func (h *handlers) quality() (*quality.Quality, error) {
	if h.d.Quality == nil {
		return nil, fail(http.StatusServiceUnavailable, "", "this bus keeps no data-quality figures")
	}
	return h.d.Quality, nil
}

// qualityViewer is the caller as quality sees it.
func qualityViewer(c echo.Context) quality.Viewer {
	cl := callerOf(c)
	if cl.Operator {
		return quality.Viewer{Name: "operator", Operator: true}
	}
	src := cl.Entry.Sources
	if src == nil {
		src = []string{}
	}
	return quality.Viewer{Name: cl.Agency, Sources: src}
}

// qualityError answers an error of broker/quality.
func (h *handlers) qualityError(err error) error {
	var bad *quality.BadInput
	var un *quality.Unavailable
	switch {
	case errors.As(err, &bad):
		return fail(http.StatusBadRequest, bad.Field, "%s", bad.Problem)
	case errors.Is(err, quality.ErrNotFound):
		return fail(http.StatusNotFound, "id", "no such quality item; GET /v1/quality/items lists yours")
	case errors.Is(err, quality.ErrForbidden):
		h.denied.WithLabelValues("403").Inc()
		return fail(http.StatusForbidden, "id", "denied: %s: the item belongs to a source your agency does not own", ReasonNotSourceOwner)
	case errors.Is(err, quality.ErrConflict):
		return fail(http.StatusConflict, "id", "%s; only an open item can be resubmitted or discarded", strings.TrimPrefix(err.Error(), "quality: "))
	case errors.As(err, &un):
		return unavailable(un.Err, un.Advice)
	}
	return unavailable(err, "data quality unavailable, retry later")
}

// qualityScorecard answers the scorecard of a period: ?from=&to= (dates,
// YYYY-MM-DD, Vietnam time; default the last 30 days), ?source=, ?dataset=.
func (h *handlers) qualityScorecard(c echo.Context) error {
	q, err := h.quality()
	if err != nil {
		return err
	}
	today := q.Day(time.Now())
	qq := quality.Query{Source: c.QueryParam("source"), Dataset: c.QueryParam("dataset"), FromDay: today - 29, ToDay: today}
	for _, p := range []struct {
		name string
		dst  *int64
	}{{"from", &qq.FromDay}, {"to", &qq.ToDay}} {
		if v := c.QueryParam(p.name); v != "" {
			d, err := q.DayOfDate(v)
			if err != nil {
				return fail(http.StatusBadRequest, p.name, "%s must be a date such as 2026-03-01", p.name)
			}
			*p.dst = d
		}
	}
	if c.QueryParam("from") == "" && c.QueryParam("to") != "" {
		qq.FromDay = qq.ToDay - 29
	}
	sc, err := q.Scorecard(c.Request().Context(), qualityViewer(c), qq)
	if err != nil {
		return h.qualityError(err)
	}
	return c.JSON(http.StatusOK, sc)
}

// qualityItems pages through the items: ?status=open|resubmitted|accepted|discarded,
// ?source=, ?dataset=, ?kind=, ?path=, ?after=<id>, ?limit=1…1000.
func (h *handlers) qualityItems(c echo.Context) error {
	q, err := h.quality()
	if err != nil {
		return err
	}
	iq := quality.ItemQuery{Source: c.QueryParam("source"), Dataset: c.QueryParam("dataset"), Status: c.QueryParam("status"),
		Kind: c.QueryParam("kind"), Path: c.QueryParam("path"), Limit: 100}
	switch iq.Status {
	case "", "open", "resubmitted", "accepted", "discarded":
	default:
		return fail(http.StatusBadRequest, "status", "status must be open, resubmitted, accepted or discarded")
	}
	if s := c.QueryParam("after"); s != "" {
		if iq.AfterID, err = strconv.ParseInt(s, 10, 64); err != nil || iq.AfterID < 0 {
			return fail(http.StatusBadRequest, "after", "after must be an item id, as given in next_after")
		}
	}
	if s := c.QueryParam("limit"); s != "" {
		if iq.Limit, err = strconv.Atoi(s); err != nil || iq.Limit < 1 || iq.Limit > 1000 {
			return fail(http.StatusBadRequest, "limit", "limit must be between 1 and 1000")
		}
	}
	items, err := q.List(c.Request().Context(), qualityViewer(c), iq)
	if err != nil {
		return h.qualityError(err)
	}
	resp := map[string]any{"items": items}
	if len(items) == iq.Limit {
		resp["next_after"] = strconv.FormatInt(items[len(items)-1].ID, 10)
	}
	return c.JSON(http.StatusOK, resp)
}

func (h *handlers) qualityItem(c echo.Context) error {
	q, err := h.quality()
	if err != nil {
		return err
	}
	id, err := quality.ParseID(c.Param("id"))
	if err != nil {
		return h.qualityError(err)
	}
	it, err := q.Get(c.Request().Context(), qualityViewer(c), id)
	if err != nil {
		return h.qualityError(err)
	}
	return c.JSON(http.StatusOK, it)
}

// readJSONBody reads a JSON request body of at most max bytes.
func readJSONBody(c echo.Context, max int64) ([]byte, error) {
	ct := c.Request().Header.Get(echo.HeaderContentType)
	if mt, _, err := mime.ParseMediaType(ct); ct == "" || err != nil || mt != "application/json" {
		return nil, fail(http.StatusUnsupportedMediaType, "Content-Type", "Content-Type must be application/json, got %q", ct)
	}
	body, err := io.ReadAll(io.LimitReader(c.Request().Body, max+1))
	if err != nil {
		return nil, fail(http.StatusBadRequest, "", "reading the body failed: %v", err)
	}
	if int64(len(body)) > max {
		return nil, fail(http.StatusRequestEntityTooLarge, "", "body is over the %d-byte limit", max)
	}
	return body, nil
}

// qualityResubmit takes the corrected record, as pushed to
// /v1/sources/{source}/records: {"dataset":…, "op":"c", "after":{…}}. It
// answers once the record is published or refused: 200 with the item
// (accepted, or open with the new reason) and the record's result.
func (h *handlers) qualityResubmit(c echo.Context) error {
	q, err := h.quality()
	if err != nil {
		return err
	}
	id, err := quality.ParseID(c.Param("id"))
	if err != nil {
		return h.qualityError(err)
	}
	body, err := readJSONBody(c, h.d.MaxBody)
	if err != nil {
		return err
	}
	recs, err := decodePush(body)
	if err != nil {
		return err
	}
	if len(recs) != 1 {
		return fail(http.StatusBadRequest, "$.records", "resubmit one corrected record, not a batch")
	}
	r := recs[0]
	out, err := q.Resubmit(c.Request().Context(), qualityViewer(c), id, quality.Correction{Dataset: r.Dataset, Op: connectors.Op(r.Op), Before: r.Before, After: r.After})
	if err != nil {
		return h.qualityError(err)
	}
	return c.JSON(http.StatusOK, out)
}

// qualityDiscard closes an open item: {"reason": "why"} (required).
func (h *handlers) qualityDiscard(c echo.Context) error {
	q, err := h.quality()
	if err != nil {
		return err
	}
	id, err := quality.ParseID(c.Param("id"))
	if err != nil {
		return h.qualityError(err)
	}
	body, err := readJSONBody(c, 64<<10)
	if err != nil {
		return err
	}
	var in struct {
		Reason string `json:"reason"`
	}
	if err := strictDecode(body, &in); err != nil {
		return fail(http.StatusBadRequest, "$", "body must be {\"reason\": \"why the record is discarded\"}: %v", err)
	}
	it, err := q.Discard(c.Request().Context(), qualityViewer(c), id, in.Reason)
	if err != nil {
		return h.qualityError(err)
	}
	return c.JSON(http.StatusOK, it)
}

func strictDecode(body []byte, v any) error {
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("one JSON object expected")
	}
	return nil
}

// qualityBulk starts resubmitting, unchanged, every open item of one
// reason: {"kind":"schema","path":"$.dob","source":…,"dataset":…}. 202
// with the job; GET /v1/quality/resubmissions/{id} follows its progress.
func (h *handlers) qualityBulk(c echo.Context) error {
	q, err := h.quality()
	if err != nil {
		return err
	}
	body, err := readJSONBody(c, 64<<10)
	if err != nil {
		return err
	}
	var bq quality.BulkQuery
	if err := strictDecode(body, &bq); err != nil {
		return fail(http.StatusBadRequest, "$", "body must be {\"kind\": …, \"path\": …, \"source\": …, \"dataset\": …}: %v", err)
	}
	job, err := q.StartBulk(c.Request().Context(), qualityViewer(c), bq)
	if err != nil {
		return h.qualityError(err)
	}
	c.Response().Header().Set(echo.HeaderLocation, "/v1/quality/resubmissions/"+job.ID)
	return c.JSON(http.StatusAccepted, job)
}

func (h *handlers) qualityJobs(c echo.Context) error {
	q, err := h.quality()
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"jobs": q.Jobs(qualityViewer(c))})
}

func (h *handlers) qualityJob(c echo.Context) error {
	q, err := h.quality()
	if err != nil {
		return err
	}
	job, ok := q.JobStatus(qualityViewer(c), c.Param("id"))
	if !ok {
		return fail(http.StatusNotFound, "id", "no bulk resubmission %q that you started on this instance", c.Param("id"))
	}
	return c.JSON(http.StatusOK, job)
}
