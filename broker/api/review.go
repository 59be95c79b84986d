package api

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"
	"github.com/lgsp-bus/lgsp/broker/identity/linkage"
	"github.com/lgsp-bus/lgsp/broker/review"
	"github.com/lgsp-bus/lgsp/broker/store"
)

// The review queue: candidate links of records without a usable personal
// number that a clerk accepts or rejects, under the operator token. Each
// decision is audited before it is taken, and taken once.

func (h *handlers) reviewQueue() (linkage.ReviewQueue, error) {
	if h.d.Review == nil {
		return nil, fail(http.StatusServiceUnavailable, "", "this bus has no review queue")
	}
	return h.d.Review, nil
}

// reviewList pages through the queue: ?status=pending|accepted|rejected,
// ?after=<id> (the next_after of the previous page), ?limit=1…1000.
func (h *handlers) reviewList(c echo.Context) error {
	q, err := h.reviewQueue()
	if err != nil {
		return err
	}
	status := linkage.ReviewStatus(c.QueryParam("status"))
	switch status {
	case "", linkage.ReviewPending, linkage.ReviewAccepted, linkage.ReviewRejected:
	default:
		return fail(http.StatusBadRequest, "status", "status must be pending, accepted or rejected")
	}
	limit := 100
	if s := c.QueryParam("limit"); s != "" {
		if limit, err = strconv.Atoi(s); err != nil || limit < 1 || limit > 1000 {
			return fail(http.StatusBadRequest, "limit", "limit must be between 1 and 1000")
		}
	}
	after := c.QueryParam("after")
	items, err := q.List(c.Request().Context(), status, after, limit)
	if errors.Is(err, review.ErrBadCursor) {
		return fail(http.StatusBadRequest, "after", "after must be a review item id, as given in next_after")
	}
	if err != nil {
		return unavailable(err, "review queue unavailable, retry later")
	}
	if items == nil {
		items = []linkage.ReviewItem{}
	}
	resp := map[string]any{"items": items}
	if len(items) == limit {
		resp["next_after"] = items[len(items)-1].ID
	}
	return c.JSON(http.StatusOK, resp)
}

func (h *handlers) reviewGet(c echo.Context) error {
	q, err := h.reviewQueue()
	if err != nil {
		return err
	}
	it, err := q.Get(c.Request().Context(), c.Param("id"))
	if errors.Is(err, linkage.ErrReviewNotFound) {
		return fail(http.StatusNotFound, "id", "no review item %q; GET /v1/operator/review lists them", c.Param("id"))
	}
	if err != nil {
		return unavailable(err, "review queue unavailable, retry later")
	}
	return c.JSON(http.StatusOK, it)
}

func (h *handlers) reviewAccept(c echo.Context) error { return h.reviewDecide(c, true) }
func (h *handlers) reviewReject(c echo.Context) error { return h.reviewDecide(c, false) }

// reviewDecide takes a clerk's decision, {"note": "…", "by": "…"}: the note
// is required, by names the clerk (default "operator"). The decision is
// audited first; if it cannot be, it is not taken.
func (h *handlers) reviewDecide(c echo.Context, accept bool) error {
	q, err := h.reviewQueue()
	if err != nil {
		return err
	}
	var body struct {
		Note string `json:"note"`
		By   string `json:"by"`
	}
	raw, err := io.ReadAll(io.LimitReader(c.Request().Body, 64<<10))
	if err != nil {
		return fail(http.StatusBadRequest, "", "reading the body failed: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		return fail(http.StatusBadRequest, "", "body must be {\"note\": \"why\", \"by\": \"clerk\"}: %v", err)
	}
	body.Note, body.By = strings.TrimSpace(body.Note), strings.TrimSpace(body.By)
	switch {
	case body.Note == "":
		return fail(http.StatusBadRequest, "note", "note is required: say what the decision rests on (it is audited)")
	case utf8.RuneCountInString(body.Note) > 2000:
		return fail(http.StatusBadRequest, "note", "note is over 2000 characters")
	case utf8.RuneCountInString(body.By) > 200:
		return fail(http.StatusBadRequest, "by", "by is over 200 characters")
	case body.By == "":
		body.By = "operator"
	}
	ctx := c.Request().Context()
	id := c.Param("id")
	it, err := q.Get(ctx, id)
	if errors.Is(err, linkage.ErrReviewNotFound) {
		return fail(http.StatusNotFound, "id", "no review item %q; GET /v1/operator/review lists them", id)
	}
	if err != nil {
		return unavailable(err, "review queue unavailable, retry later")
	}
	if it.Status != linkage.ReviewPending {
		return decidedAlready(it)
	}
	action := "review.reject"
	if accept {
		action = "review.accept"
	}
	entry := store.AuditEntry{Time: time.Now(), Actor: "operator", Action: action, Decision: "allow", Dataset: it.Source,
		RequestID: id, Reason: body.By + ": " + body.Note}
	if h.d.CitizenKeys != nil && it.PersonalID != "" {
		entry.CitizenKey = h.d.CitizenKeys.CitizenKey(it.PersonalID)
	}
	if err := h.d.AuditLog.Append(ctx, []store.AuditEntry{entry}); err != nil {
		return unavailable(err, "the decision could not be audited, so it was not taken; retry")
	}
	done, err := q.Decide(ctx, id, accept, body.By, body.Note)
	switch {
	case errors.Is(err, linkage.ErrReviewDecided):
		return decidedAlready(done) // another clerk came first; the audit entry records this attempt
	case errors.Is(err, linkage.ErrReviewNotFound):
		return fail(http.StatusNotFound, "id", "no review item %q", id)
	case err != nil:
		return unavailable(err, "decision not taken (the audit entry records the attempt); retry")
	}
	return c.JSON(http.StatusOK, done)
}

func decidedAlready(it linkage.ReviewItem) error {
	return fail(http.StatusConflict, "id", "review item %s was already %s by %s at %s; a decision is taken once",
		it.ID, it.Status, it.DecidedBy, it.Decided.Format(time.RFC3339))
}
