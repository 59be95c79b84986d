package devkafka

import (
	"encoding/binary"
	"net"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// kfake, as pinned in go.mod (and at its latest commit when this was
// written), differs from a real broker in two answers that only matter to
// clients other than franz-go and kafka-go:
//
//   - ApiVersions advertises SaslHandshake versions 1–1. librdkafka (kcat,
//     confluent-kafka-python/-go/.NET) derives "the broker has the SASL
//     handshake" from a range that includes version 0 (its feature table,
//     rdkafka_feature.c) and otherwise refuses to start SASL at all: "SASL
//     Handshake not supported by broker".
//   - A successful SaslHandshake lists no mechanisms. KafkaJS refuses a
//     mechanism the handshake does not list ("SASL SCRAM-SHA-512 mechanism is
//     not supported by the server").
//   - A wrong password or unknown user closes the connection without an
//     answer; clients then report a transport failure and retry, instead
//     of "authentication failed".
//
// Kafka itself advertises 0–1, always lists its enabled mechanisms and
// answers a failed SaslAuthenticate with SASL_AUTHENTICATION_FAILED before
// closing. The broker's listener is therefore wrapped so that exactly those
// answers are what Kafka sends; every other byte passes through. A
// client that then really sends a version-0 handshake (none of the clients
// above does once SaslAuthenticate is advertised) is still refused by kfake,
// as before. The wrapper sees plaintext frames: it must sit under any TLS
// listener, which kfake's ListenFn guarantees (kfake adds TLS on top).

// saslMechanisms is what the handshake lists: the mechanisms kfake accepts
// (it answers the same list when a client asks for another one).
var saslMechanisms = []string{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"}

// saslCompatListen is a kfake.ListenFn: net.Listen with the rewriting conns.
func saslCompatListen(network, address string) (net.Listener, error) {
	l, err := net.Listen(network, address)
	if err != nil {
		return nil, err
	}
	return saslCompatListener{l}, nil
}

type saslCompatListener struct{ net.Listener }

func (l saslCompatListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &saslCompatConn{Conn: c, pending: map[int32]reqInfo{}}, nil
}

type reqInfo struct{ key, version int16 }

// saslCompatConn watches the requests it reads for ApiVersions and
// SaslHandshake and rewrites their responses as they are written. Kafka
// framing: every request and response is a 4-byte big-endian size and that
// many bytes; a request starts with key, version (int16 each) and the
// correlation id (int32), a response with the correlation id. ApiVersions
// and SaslHandshake responses use the version-0 response header (no tagged
// fields), so their body follows the correlation id directly.
type saslCompatConn struct {
	net.Conn

	// Read side (kfake's reader goroutine only).
	rhdr  []byte // the first bytes of the current request, up to reqHdrLen
	rleft int    // bytes of the current request still to pass after the header

	mu      sync.Mutex
	pending map[int32]reqInfo // correlation id → request to rewrite the answer of

	// Write side: kfake's writer goroutine, and Close from its reader.
	wmu  sync.Mutex
	wbuf []byte // an incomplete response frame
}

const reqHdrLen = 4 + 2 + 2 + 4 // size, key, version, correlation id

func (c *saslCompatConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.observe(p[:n])
	return n, err
}

// observe follows the request frames in b and remembers the correlation id
// of every ApiVersions and SaslHandshake request.
func (c *saslCompatConn) observe(b []byte) {
	for len(b) > 0 {
		if c.rleft > 0 {
			k := min(c.rleft, len(b))
			c.rleft -= k
			b = b[k:]
			continue
		}
		k := min(reqHdrLen-len(c.rhdr), len(b))
		c.rhdr = append(c.rhdr, b[:k]...)
		b = b[k:]
		if len(c.rhdr) < reqHdrLen {
			return
		}
		size := int(int32(binary.BigEndian.Uint32(c.rhdr)))
		key := int16(binary.BigEndian.Uint16(c.rhdr[4:]))
		version := int16(binary.BigEndian.Uint16(c.rhdr[6:]))
		corr := int32(binary.BigEndian.Uint32(c.rhdr[8:]))
		c.rhdr = c.rhdr[:0]
		c.rleft = max(size-(reqHdrLen-4), 0)
		if key == kmsg.ApiVersions.Int16() || key == kmsg.SASLHandshake.Int16() || key == kmsg.SASLAuthenticate.Int16() {
			c.mu.Lock()
			c.pending[corr] = reqInfo{key, version}
			c.mu.Unlock()
		}
	}
}

func (c *saslCompatConn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	buf := p
	if len(c.wbuf) > 0 {
		c.wbuf = append(c.wbuf, p...)
		buf = c.wbuf
	}
	// Pass every complete frame on, rewritten if it answers a watched
	// request; keep an incomplete tail for the next Write. Without a
	// rewrite (nearly always) the frames go out as they are, uncopied.
	var out []byte // nil until a frame is rewritten
	done, rest := 0, buf
	for len(rest) >= 8 {
		size := int(binary.BigEndian.Uint32(rest))
		if len(rest) < 4+size {
			break
		}
		frame := rest[:4+size]
		rest = rest[4+size:]
		var fixed []byte
		var corr int32
		if size >= 4 { // else no correlation id: nothing to answer, pass it
			corr = int32(binary.BigEndian.Uint32(frame[4:]))
			c.mu.Lock()
			req, ok := c.pending[corr]
			delete(c.pending, corr)
			c.mu.Unlock()
			if ok {
				fixed = rewrite(req, frame[8:])
			}
		}
		switch {
		case fixed != nil:
			if out == nil {
				out = append([]byte{}, buf[:done]...)
			}
			out = binary.BigEndian.AppendUint32(out, uint32(4+len(fixed)))
			out = binary.BigEndian.AppendUint32(out, uint32(corr))
			out = append(out, fixed...)
		case out != nil:
			out = append(out, frame...)
		}
		done += len(frame)
	}
	if out == nil {
		out = buf[:done]
	}
	if len(out) > 0 {
		if _, err := c.Conn.Write(out); err != nil {
			return 0, err
		}
	}
	c.wbuf = append(c.wbuf[:0], rest...)
	return len(p), nil
}

// Close answers a SaslAuthenticate that kfake closes the connection on
// (wrong password, unknown user, malformed SCRAM message) the way Kafka
// does, with SASL_AUTHENTICATION_FAILED, then closes.
func (c *saslCompatConn) Close() error {
	c.mu.Lock()
	var corr int32
	var req reqInfo
	found := false
	for k, r := range c.pending {
		if r.key == kmsg.SASLAuthenticate.Int16() {
			corr, req, found = k, r, true
		}
	}
	c.mu.Unlock()
	if found {
		c.wmu.Lock()
		if len(c.wbuf) == 0 { // never inside another frame
			_ = c.Conn.SetWriteDeadline(time.Now().Add(time.Second))
			_, _ = c.Conn.Write(authFailed(req.version, corr))
		}
		c.wmu.Unlock()
	}
	return c.Conn.Close()
}

// authFailed is a framed SaslAuthenticate answer: authentication failed.
func authFailed(version int16, corr int32) []byte {
	resp := kmsg.NewPtrSASLAuthenticateResponse()
	resp.Version = version
	resp.ErrorCode = kerr.SaslAuthenticationFailed.Code
	msg := "Authentication failed: invalid credentials with the SASL mechanism"
	resp.ErrorMessage = &msg
	var b []byte
	b = binary.BigEndian.AppendUint32(b, 0)
	b = binary.BigEndian.AppendUint32(b, uint32(corr))
	if resp.IsFlexible() {
		b = append(b, 0) // response header v1: no tagged fields
	}
	b = resp.AppendTo(b)
	binary.BigEndian.PutUint32(b, uint32(len(b)-4))
	return b
}

// rewrite returns the fixed body of a response to req, or nil to pass body
// unchanged (an error answer, or one it cannot read).
func rewrite(req reqInfo, body []byte) []byte {
	switch req.key {
	case kmsg.ApiVersions.Int16():
		resp := kmsg.NewPtrApiVersionsResponse()
		resp.Version = req.version
		if resp.ReadFrom(body) != nil || resp.ErrorCode != 0 {
			return nil // includes kfake's v0 downgrade answer to a too-new request
		}
		for i := range resp.ApiKeys {
			if resp.ApiKeys[i].ApiKey == kmsg.SASLHandshake.Int16() {
				resp.ApiKeys[i].MinVersion = 0
			}
		}
		return resp.AppendTo(nil)
	case kmsg.SASLHandshake.Int16():
		resp := kmsg.NewPtrSASLHandshakeResponse()
		resp.Version = req.version
		if resp.ReadFrom(body) != nil || len(resp.SupportedMechanisms) > 0 {
			return nil
		}
		resp.SupportedMechanisms = saslMechanisms
		return resp.AppendTo(nil)
	}
	return nil
}
