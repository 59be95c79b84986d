package console

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
)

// restAnswer is what the REST API answered an in-process call.
type restAnswer struct {
	Status int
	Body   []byte
}

// problem is the API's error text (its JSON Problem), shown to the user:
// the API never puts internal detail in it.
func (a restAnswer) problem() string {
	var p struct {
		Error   string `json:"error"`
		Message string `json:"message"` // the schema registry's (Confluent) errors
	}
	if json.Unmarshal(a.Body, &p) == nil && p.Error != "" {
		return p.Error
	}
	if p.Message != "" {
		return p.Message
	}
	return http.StatusText(a.Status)
}

// restRequest is a request to the REST API carrying the session's
// credential, as if the user had called it with curl: no cookie, no client
// certificate, the user's own address.
func restRequest(r *http.Request, s *session, method, target string, body []byte) *http.Request {
	req := httptest.NewRequestWithContext(r.Context(), method, target, bytes.NewReader(body))
	req.RemoteAddr = r.RemoteAddr
	req.Host = r.Host
	if s != nil {
		req.Header.Set("Authorization", "Bearer "+s.token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return req
}

// rest calls the REST API in-process with the session's credential; the
// API authorizes and audits the call exactly as it does one from outside.
func (c *Console) rest(r *http.Request, s *session, method, target string, body []byte) restAnswer {
	return c.call(c.restHandler(), r, s, method, target, nil, body)
}

// call is an in-process call of h (the REST API or the schema registry)
// with the session's credential and the extra headers hdr.
func (c *Console) call(h http.Handler, r *http.Request, s *session, method, target string, hdr map[string]string, body []byte) restAnswer {
	if h == nil {
		return restAnswer{Status: http.StatusServiceUnavailable, Body: []byte(`{"error":"the console is not connected to this part of the bus"}`)}
	}
	req := restRequest(r, s, method, target, body)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return restAnswer{Status: rec.Code, Body: rec.Body.Bytes()}
}

// restJSON calls the API and decodes a 200 answer into out.
func (c *Console) restJSON(r *http.Request, s *session, target string, out any) restAnswer {
	a := c.rest(r, s, http.MethodGet, target, nil)
	if a.Status == http.StatusOK {
		if err := json.Unmarshal(a.Body, out); err != nil {
			c.d.Logger.Error("console: unreadable API answer", "route", target, "error", err)
			return restAnswer{Status: http.StatusBadGateway, Body: []byte(`{"error":"the API's answer could not be read"}`)}
		}
	}
	return a
}

// restFailed renders the page for a failed API call and reports whether
// it did: 401 ends the session (the credential was revoked or expired),
// 403 is the refusal page with the API's reason, anything else an error
// page with the API's message.
func (c *Console) restFailed(w http.ResponseWriter, r *http.Request, s *session, a restAnswer) bool {
	switch {
	case a.Status < 300:
		return false
	case a.Status == http.StatusUnauthorized:
		if kind, _, ok := c.identify(r, s.token); ok && kind == s.kind {
			// A valid credential of the wrong kind (a citizen's token on
			// an agency's route): a refusal, not the end of the session.
			c.render(w, r, http.StatusForbidden, "message", pageData{Title: "refused.title", Message: "refused.body", Detail: a.problem(), s: s})
			return true
		}
		c.close(w, s)
		http.Redirect(w, r, "/ui/signin?expired=1", http.StatusSeeOther)
	case a.Status == http.StatusForbidden:
		c.render(w, r, http.StatusForbidden, "message", pageData{Title: "refused.title", Message: "refused.body", Detail: a.problem(), s: s})
	default:
		status := a.Status
		if status < 400 {
			status = http.StatusBadGateway
		}
		c.render(w, r, status, "message", pageData{Title: "error.title", Message: "error.body", Detail: fmt.Sprintf("%d: %s", a.Status, a.problem()), s: s})
	}
	return true
}

// streamREST answers the user with the API's own answer (exports).
func (c *Console) streamREST(w http.ResponseWriter, r *http.Request, s *session, target string) {
	api := c.restHandler()
	if api == nil {
		http.Error(w, "the console is not connected to the API", http.StatusServiceUnavailable)
		return
	}
	api.ServeHTTP(w, restRequest(r, s, http.MethodGet, target, nil))
}
