// Package httpguard owns what every listener of the bus does against slow,
// stalled or greedy clients: deadlines for the request header, the body
// and idle connections, a cap on header size, and a cap on uploads in
// progress per credential and in total. The REST API and the schema
// registry are both served through it, so no listener can be held open or
// made to buffer without bound by a client that trickles its request.
package httpguard

import (
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Limits bounds what one client can hold of a listener. The zero value of
// a field means its default.
type Limits struct {
	// HeaderTimeout is how long a client has to send the request line and
	// headers (default 10s).
	HeaderTimeout time.Duration
	// BodyTimeout is how long a client has to send the whole request,
	// headers and body (default 60s): a stalled or trickled upload is cut
	// then, whatever its size.
	BodyTimeout time.Duration
	// IdleTimeout closes a keep-alive connection with no request for this
	// long (default 60s).
	IdleTimeout time.Duration
	// MaxHeaderBytes caps the request line and headers (default 64 KiB).
	MaxHeaderBytes int
	// UploadsPerCredential is how many requests with a body one credential
	// (bearer token, basic login, client certificate, or without one the
	// client address) may send at once (default 4); more get 429.
	UploadsPerCredential int
	// Uploads is how many requests with a body the listener reads at once
	// in total (default 32); more get 503. With the API's 8 MiB body limit
	// this bounds what uploads can hold at about Uploads × 8 MiB.
	Uploads int
}

// WithDefaults fills the zero fields with their defaults.
func (l Limits) WithDefaults() Limits {
	def := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	def(&l.HeaderTimeout, 10*time.Second)
	def(&l.BodyTimeout, 60*time.Second)
	def(&l.IdleTimeout, 60*time.Second)
	if l.MaxHeaderBytes == 0 {
		l.MaxHeaderBytes = 64 << 10
	}
	if l.UploadsPerCredential == 0 {
		l.UploadsPerCredential = 4
	}
	if l.Uploads == 0 {
		l.Uploads = 32
	}
	return l
}

// Refuse writes a refusal in the listener's own error format (the API's
// JSON problem, the registry's Confluent error).
type Refuse func(w http.ResponseWriter, status int, message string)

// Server returns an http.Server for h with the deadlines and caps of l;
// uploads over the caps are refused through refuse. Serve it on a
// listener; log receives the server's own complaints (TLS handshakes,
// broken connections) as warnings.
func Server(h http.Handler, l Limits, refuse Refuse, log *slog.Logger) *http.Server {
	l = l.WithDefaults()
	return &http.Server{
		Handler:           Uploads(h, l, refuse),
		ReadHeaderTimeout: l.HeaderTimeout,
		ReadTimeout:       l.BodyTimeout,
		IdleTimeout:       l.IdleTimeout,
		MaxHeaderBytes:    l.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// Uploads caps the requests with a body that h reads at once, per
// credential and in total.
func Uploads(h http.Handler, l Limits, refuse Refuse) http.Handler {
	l = l.WithDefaults()
	g := &guard{limits: l, total: make(chan struct{}, l.Uploads), active: map[string]int{}}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
			h.ServeHTTP(w, r)
			return
		}
		who := credential(r)
		if !g.enter(who) {
			w.Header().Set("Retry-After", "1")
			refuse(w, http.StatusTooManyRequests, "too many uploads in progress with this credential (at most "+
				strconv.Itoa(l.UploadsPerCredential)+" at once); wait for one to finish and retry")
			return
		}
		defer g.leave(who)
		select {
		case g.total <- struct{}{}:
			defer func() { <-g.total }()
		default:
			w.Header().Set("Retry-After", "1")
			refuse(w, http.StatusServiceUnavailable, "the server is reading as many uploads as it allows; retry in a moment")
			return
		}
		h.ServeHTTP(w, r)
	})
}

type guard struct {
	limits Limits
	total  chan struct{}
	mu     sync.Mutex
	active map[string]int
}

func (g *guard) enter(who string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.active[who] >= g.limits.UploadsPerCredential {
		return false
	}
	g.active[who]++
	return true
}

func (g *guard) leave(who string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.active[who]--; g.active[who] <= 0 {
		delete(g.active, who)
	}
}

// credential names who sends r without keeping any secret: a digest of
// the Authorization header or of the client certificate, or else the
// client's address. Whether the credential is valid is decided later by
// the handler; an invalid one only limits itself.
func credential(r *http.Request) string {
	if a := r.Header.Get("Authorization"); a != "" {
		sum := sha256.Sum256([]byte(a))
		return "auth:" + hex.EncodeToString(sum[:16])
	}
	if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
		sum := sha256.Sum256(r.TLS.PeerCertificates[0].Raw)
		return "cert:" + hex.EncodeToString(sum[:16])
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	return "addr:" + host
}
