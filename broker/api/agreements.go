package api

import (
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
	"github.com/lgsp-bus/lgsp/policies"
)

// AgreementChange is what an agreement change or reload put in force.
type AgreementChange struct {
	// File is the agreement file written or removed (empty for a reload).
	File string `json:"file,omitempty"`
	// Created is true when a PUT made a new agreement.
	Created bool `json:"created,omitempty"`
	// Digest and Agreements describe the set now in force.
	Digest     string `json:"digest"`
	Agreements int    `json:"agreements"`
	// KafkaCredentialsIssued are the Kafka passwords issued by this change
	// (a consumer's first stream agreement), by user; shown once.
	KafkaCredentialsIssued map[string]string `json:"kafka_credentials_issued,omitempty"`
}

// ErrAgreementsBuiltIn is a change asked of a bus that serves the
// agreements built into its binary.
var ErrAgreementsBuiltIn = errors.New("the agreements in force are the ones built into the binary; set policies.dir (LGSP_POLICIES_DIR) to a folder holding the agreement files, e.g. a copy of policies/agreements, to manage them through the API")

// InvalidError is a change refused because the agreements it would put in
// force are not valid (the JSON Schema, the catalog, the agency registry).
// Nothing changed.
type InvalidError struct{ Err error }

func (e *InvalidError) Error() string { return e.Err.Error() }
func (e *InvalidError) Unwrap() error { return e.Err }

// maxAgreementBody bounds a PUT body; an agreement file is a few kilobytes.
const maxAgreementBody = 1 << 20

// changeError answers a failed change: 400 for a body that is not YAML or
// JSON at all, 422 for an agreement that breaks the rules, 404 for an
// unknown one, 409 for built-in agreements, 503 for the rest. In every
// case the previous agreements stay in force.
func changeError(err error) error {
	var invalid *InvalidError
	var le *policies.LoadError
	field := ""
	if errors.As(err, &le) {
		field = le.Field
	}
	switch {
	case errors.Is(err, ErrAgreementsBuiltIn):
		return fail(http.StatusConflict, "", "%v", err)
	case errors.Is(err, policies.ErrNoSuchAgreement):
		return fail(http.StatusNotFound, "id", "%v; GET /v1/operator/agreements lists them", err)
	case policies.IsSyntax(err):
		return fail(http.StatusBadRequest, field, "nothing changed, the body is not a YAML or JSON agreement:\n%v", err)
	case errors.As(err, &invalid), le != nil:
		return fail(http.StatusUnprocessableEntity, field, "nothing changed, the previous agreements stay in force:\n%v", err)
	}
	return unavailable(err, "nothing changed, the previous agreements stay in force; retry")
}

// listAgreements lists the agreements in force with the set's digest and
// whether they can be changed through the API.
func (h *handlers) listAgreements(c echo.Context) error {
	set := h.d.Engine.Current()
	return c.JSON(http.StatusOK, map[string]any{
		"digest": set.Digest(), "dir": h.d.AgreementsDir, "managed": h.d.AgreementsDir != "" && h.d.Agreements != nil,
		"agreements": set.Agreements(),
	})
}

// getAgreement returns one agreement in force: JSON, or its file as written
// (comments included) when the caller accepts YAML.
func (h *handlers) getAgreement(c echo.Context) error {
	id := c.Param("id")
	set := h.d.Engine.Current()
	a, ok := set.Agreement(id)
	if !ok {
		return fail(http.StatusNotFound, "id", "no agreement %q in force; GET /v1/operator/agreements lists them", id)
	}
	if accept := c.Request().Header.Get(echo.HeaderAccept); strings.Contains(accept, "yaml") {
		if raw, ok := set.File(id); ok {
			return c.Blob(http.StatusOK, "application/yaml; charset=utf-8", raw)
		}
	}
	return c.JSON(http.StatusOK, a)
}

// putAgreement creates or replaces the agreement {id} from a YAML
// (application/yaml) or JSON (application/json) body. The change is
// validated with every other agreement exactly like the files of a reload,
// written atomically to the agreements folder, audited and put in force;
// if anything fails, nothing changes.
func (h *handlers) putAgreement(c echo.Context) error {
	if h.d.Agreements == nil {
		return changeError(ErrAgreementsBuiltIn)
	}
	ct := c.Request().Header.Get(echo.HeaderContentType)
	mt, _, err := mime.ParseMediaType(ct)
	isJSON := err == nil && mt == "application/json"
	isYAML := err == nil && (mt == "application/yaml" || mt == "application/x-yaml" || mt == "text/yaml" || mt == "text/x-yaml")
	if !isJSON && !isYAML {
		return fail(http.StatusUnsupportedMediaType, "Content-Type", "Content-Type must be application/yaml (an agreement file) or application/json, got %q", ct)
	}
	raw, err := io.ReadAll(io.LimitReader(c.Request().Body, maxAgreementBody+1))
	if err != nil {
		return fail(http.StatusBadRequest, "", "reading the body failed: %v", err)
	}
	if len(raw) > maxAgreementBody {
		return fail(http.StatusRequestEntityTooLarge, "", "body is over the %d-byte limit; an agreement file holds one agreement", maxAgreementBody)
	}
	if len(strings.TrimSpace(string(raw))) == 0 {
		return fail(http.StatusBadRequest, "", "empty body: send the agreement as YAML (like the files in policies/agreements) or JSON")
	}
	id := c.Param("id")
	if isJSON {
		// Checked as sent, so that problems carry the lines of the body;
		// then written as a YAML file like the others.
		if _, err := policies.ParseFile("request body", raw); err != nil {
			return changeError(err)
		}
		if raw, err = policies.JSONToYAML(raw); err != nil {
			return fail(http.StatusBadRequest, "", "%v", err)
		}
	}
	ch, err := h.d.Agreements.Put(c.Request().Context(), id, raw)
	if err != nil {
		return changeError(err)
	}
	status := http.StatusOK
	if ch.Created {
		status = http.StatusCreated
	}
	return c.JSON(status, ch)
}

// AgreementProblem is one reason an agreement change would be refused,
// with the line of the body (or of another file of the folder) it is on.
type AgreementProblem struct {
	File  string `json:"file"`
	Line  int    `json:"line,omitempty"`
	Field string `json:"field,omitempty"`
	Error string `json:"error"`
}

// AgreementPreview is what PUT /v1/operator/agreements/{id} with the same
// body would do: who gains or loses which fields (as lgsp policy diff shows
// them), or the problems that would refuse it.
type AgreementPreview struct {
	Valid    bool               `json:"valid"`
	Changes  []policies.Change  `json:"changes"`
	Problems []AgreementProblem `json:"problems"`
}

// problemsOf takes a refused change apart into its problems, each with its
// line where the loader knows it.
func problemsOf(err error) []AgreementProblem {
	var out []AgreementProblem
	var walk func(error)
	walk = func(err error) {
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range j.Unwrap() {
				walk(e)
			}
			return
		}
		if le, ok := err.(*policies.LoadError); ok {
			msg := le.Msg
			if msg == "" && le.Err != nil {
				msg = le.Err.Error()
			}
			out = append(out, AgreementProblem{File: le.File, Line: le.Line, Field: le.Field, Error: msg})
			return
		}
		// A wrapper around the loader's problems ("3 problem(s) in …"):
		// the problems themselves say more.
		var le *policies.LoadError
		if u := errors.Unwrap(err); u != nil && errors.As(err, &le) {
			walk(u)
			return
		}
		out = append(out, AgreementProblem{Error: err.Error()})
	}
	walk(err)
	return out
}

// previewAgreement answers what a PUT of the same YAML body would change,
// without writing or putting anything in force: the diff against the
// agreements in force, or every problem with its line (still 200: the
// preview itself worked).
func (h *handlers) previewAgreement(c echo.Context) error {
	if h.d.Agreements == nil || h.d.AgreementsDir == "" {
		return changeError(ErrAgreementsBuiltIn)
	}
	raw, err := io.ReadAll(io.LimitReader(c.Request().Body, maxAgreementBody+1))
	if err != nil {
		return fail(http.StatusBadRequest, "", "reading the body failed: %v", err)
	}
	if len(raw) > maxAgreementBody {
		return fail(http.StatusRequestEntityTooLarge, "", "body is over the %d-byte limit; an agreement file holds one agreement", maxAgreementBody)
	}
	if len(strings.TrimSpace(string(raw))) == 0 {
		return fail(http.StatusBadRequest, "", "empty body: send the agreement as YAML (like the files in policies/agreements)")
	}
	set, _, err := policies.NewFolder(h.d.AgreementsDir).Put(c.Param("id"), "request body", raw)
	if err == nil && h.d.Registry != nil {
		err = h.registry().CheckConsumers(set)
	}
	if err != nil {
		return c.JSON(http.StatusOK, AgreementPreview{Changes: []policies.Change{}, Problems: problemsOf(err)})
	}
	changes := policies.Diff(h.d.Engine.Current(), set)
	if changes == nil {
		changes = []policies.Change{}
	}
	return c.JSON(http.StatusOK, AgreementPreview{Valid: true, Changes: changes, Problems: []AgreementProblem{}})
}

// deleteAgreement removes the agreement {id}: its file is removed and the
// remaining set put in force, audited; a delivery topic stays but its
// consumer can no longer read it.
func (h *handlers) deleteAgreement(c echo.Context) error {
	if h.d.Agreements == nil {
		return changeError(ErrAgreementsBuiltIn)
	}
	ch, err := h.d.Agreements.Delete(c.Request().Context(), c.Param("id"))
	if err != nil {
		return changeError(err)
	}
	return c.JSON(http.StatusOK, ch)
}

// ErrKafkaAuthOff is a Kafka credential asked of a bus without kafka.auth.
var ErrKafkaAuthOff = errors.New("the bus does not manage Kafka users: set kafka.auth (LGSP_KAFKA_AUTH=true)")

// ErrNoKafkaUser is a Kafka credential asked for a name that has no Kafka
// access now.
var ErrNoKafkaUser = errors.New("no such Kafka user: an agency gets one with its first stream agreement in force, each source (land, tax, …) has one")

// rotateKafkaPassword gives a Kafka user (a consumer agency or a source) a
// new password, returned once; the old one stops working at once. Audited.
func (h *handlers) rotateKafkaPassword(c echo.Context) error {
	if h.d.KafkaUsers == nil {
		return fail(http.StatusConflict, "", "%v", ErrKafkaAuthOff)
	}
	user := c.Param("user")
	pass, err := h.d.KafkaUsers.RotatePassword(c.Request().Context(), user)
	switch {
	case errors.Is(err, ErrKafkaAuthOff):
		return fail(http.StatusConflict, "", "%v", err)
	case errors.Is(err, ErrNoKafkaUser):
		return fail(http.StatusNotFound, "user", "%q: %v", user, err)
	case err != nil:
		return unavailable(err, "a part the bus depends on is unavailable; retry")
	}
	return c.JSON(http.StatusOK, map[string]string{"user": user, "password": pass, "mechanism": "SCRAM-SHA-512",
		"note": "hand the password to its owner now; the bus keeps only its SCRAM hash"})
}
