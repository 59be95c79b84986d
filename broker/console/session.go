package console

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

const (
	sessionCookie = "lgsp_session"
	preCookie     = "lgsp_pre" // before sign-in: binds the sign-in form's CSRF token
	langCookie    = "lgsp_lang"
	csrfField     = "csrf"
)

// session is a signed-in user, kept only in the bus's memory.
type session struct {
	id       string
	kind     Kind
	who      string // agency id; "operator"; for a citizen, nothing
	token    string // the credential, sent to the REST API in-process
	csrf     string
	created  time.Time
	lastSeen time.Time
}

type sessions struct {
	mu sync.Mutex
	m  map[string]*session
}

func newSessions() *sessions { return &sessions{m: map[string]*session{}} }

func randomID() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails on the platforms Go supports
	return base64.RawURLEncoding.EncodeToString(b)
}

// sign is id.HMAC(key, purpose|id): a cookie value only the bus can make.
func (c *Console) sign(purpose, id string) string {
	m := hmac.New(sha256.New, c.key)
	m.Write([]byte(purpose + "|" + id))
	return id + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// unsign returns the id of a value made by sign, or false.
func (c *Console) unsign(purpose, v string) (string, bool) {
	id, _, ok := strings.Cut(v, ".")
	if !ok || id == "" {
		return "", false
	}
	return id, hmac.Equal([]byte(c.sign(purpose, id)), []byte(v))
}

func (c *Console) cookie(name, value string, maxAge time.Duration) *http.Cookie {
	ck := &http.Cookie{Name: name, Value: value, Path: "/ui/", HttpOnly: true, Secure: c.d.TLS, SameSite: http.SameSiteStrictMode}
	if maxAge < 0 {
		ck.MaxAge = -1
	} else {
		ck.MaxAge = int(maxAge / time.Second)
		ck.Expires = c.d.Now().Add(maxAge)
	}
	return ck
}

// open starts a session for a verified credential and sets its cookie.
func (c *Console) open(w http.ResponseWriter, kind Kind, who, token string) *session {
	now := c.d.Now()
	s := &session{id: randomID(), kind: kind, who: who, token: token, csrf: randomID(), created: now, lastSeen: now}
	c.sessions.mu.Lock()
	for id, old := range c.sessions.m { // drop ended sessions as new ones come
		if c.ended(old, now) {
			delete(c.sessions.m, id)
		}
	}
	c.sessions.m[s.id] = s
	c.sessions.mu.Unlock()
	http.SetCookie(w, c.cookie(sessionCookie, c.sign("session", s.id), c.d.SessionMax))
	return s
}

func (c *Console) ended(s *session, now time.Time) bool {
	return now.Sub(s.lastSeen) > c.d.SessionIdle || now.Sub(s.created) > c.d.SessionMax
}

// current is the request's session: a cookie with a valid signature naming
// a session that has not ended. A tampered cookie is no session.
func (c *Console) current(r *http.Request) (*session, bool) {
	ck, err := r.Cookie(sessionCookie)
	if err != nil {
		return nil, false
	}
	id, ok := c.unsign("session", ck.Value)
	if !ok {
		return nil, false
	}
	now := c.d.Now()
	c.sessions.mu.Lock()
	defer c.sessions.mu.Unlock()
	s, ok := c.sessions.m[id]
	if !ok {
		return nil, false
	}
	if c.ended(s, now) {
		delete(c.sessions.m, id)
		return nil, false
	}
	s.lastSeen = now
	return s, true
}

func (c *Console) close(w http.ResponseWriter, s *session) {
	c.sessions.mu.Lock()
	delete(c.sessions.m, s.id)
	c.sessions.mu.Unlock()
	http.SetCookie(w, c.cookie(sessionCookie, "", -1))
}

type sessionKey struct{}

// withSession admits a request with a session (or sends the browser to
// sign in) and, for a form, only with the session's CSRF token.
func (c *Console) withSession(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s, ok := c.current(r)
		if !ok {
			if r.Method == http.MethodGet && !strings.HasPrefix(r.URL.Path, "/ui/live/") {
				http.Redirect(w, r, "/ui/signin?expired=1", http.StatusSeeOther)
				return
			}
			c.render(w, r, http.StatusUnauthorized, "message", pageData{Title: "signin.expired.title", Message: "signin.expired"})
			return
		}
		if r.Method == http.MethodPost && !c.validCSRF(r, s.csrf) {
			c.render(w, r, http.StatusForbidden, "message", pageData{Title: "csrf.title", Message: "csrf.body", s: s})
			return
		}
		next(w, r.WithContext(context.WithValue(r.Context(), sessionKey{}, s)))
	}
}

func sessionOf(r *http.Request) *session {
	s, _ := r.Context().Value(sessionKey{}).(*session)
	return s
}

func (c *Console) validCSRF(r *http.Request, want string) bool {
	r.Body = http.MaxBytesReader(nil, r.Body, 64<<10)
	got := r.PostFormValue(csrfField)
	return got != "" && want != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// preToken is the sign-in form's CSRF token: an HMAC of a random value in
// a cookie of its own, since there is no session yet.
func (c *Console) preToken(w http.ResponseWriter, r *http.Request) string {
	if ck, err := r.Cookie(preCookie); err == nil {
		if id, ok := c.unsign("pre", ck.Value); ok {
			return c.sign("pre-csrf", id)
		}
	}
	id := randomID()
	http.SetCookie(w, c.cookie(preCookie, c.sign("pre", id), time.Hour))
	return c.sign("pre-csrf", id)
}

func (c *Console) validPreCSRF(r *http.Request) bool {
	ck, err := r.Cookie(preCookie)
	if err != nil {
		return false
	}
	id, ok := c.unsign("pre", ck.Value)
	return ok && c.validCSRF(r, c.sign("pre-csrf", id))
}

// limiter slows repeated failed sign-ins from one address: after
// freeAttempts failures, each further attempt must wait twice as long as
// the one before (up to maxWait) or is refused unchecked.
type limiter struct {
	mu sync.Mutex
	m  map[string]*failures
}

type failures struct {
	n     int
	last  time.Time
	until time.Time
}

const (
	freeAttempts = 3
	maxWait      = 5 * time.Minute
	forgetAfter  = 30 * time.Minute
)

func newLimiter() *limiter { return &limiter{m: map[string]*failures{}} }

func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// wait is how long addr must still wait before its next attempt.
func (l *limiter) wait(addr string, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	f, ok := l.m[addr]
	if !ok || now.Sub(f.last) > forgetAfter {
		return 0
	}
	return max(f.until.Sub(now), 0)
}

func (l *limiter) fail(addr string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.m) > 100_000 { // bounded memory under a flood from many addresses
		for a, f := range l.m {
			if now.Sub(f.last) > forgetAfter {
				delete(l.m, a)
			}
		}
	}
	f, ok := l.m[addr]
	if !ok || now.Sub(f.last) > forgetAfter {
		f = &failures{}
		l.m[addr] = f
	}
	f.n++
	f.last = now
	if f.n >= freeAttempts {
		f.until = now.Add(min(time.Second<<min(f.n-freeAttempts, 20), maxWait))
	}
}

func (l *limiter) succeed(addr string) {
	l.mu.Lock()
	delete(l.m, addr)
	l.mu.Unlock()
}
