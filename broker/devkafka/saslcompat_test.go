package devkafka

import (
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// byteConn is the network side of a saslCompatConn: reads come from in,
// writes collect in out.
type byteConn struct {
	in  *bytes.Reader
	out bytes.Buffer
}

func (c *byteConn) Read(p []byte) (int, error)       { return c.in.Read(p) }
func (c *byteConn) Write(p []byte) (int, error)      { return c.out.Write(p) }
func (c *byteConn) Close() error                     { return nil }
func (c *byteConn) LocalAddr() net.Addr              { return nil }
func (c *byteConn) RemoteAddr() net.Addr             { return nil }
func (c *byteConn) SetDeadline(time.Time) error      { return nil }
func (c *byteConn) SetReadDeadline(time.Time) error  { return nil }
func (c *byteConn) SetWriteDeadline(time.Time) error { return nil }
func newCompat(requests []byte) (*saslCompatConn, *byteConn) {
	bc := &byteConn{in: bytes.NewReader(requests)}
	return &saslCompatConn{Conn: bc, pending: map[int32]reqInfo{}}, bc
}

// request frames a request the way a client does.
func request(r kmsg.Request, corr int32) []byte {
	return kmsg.NewRequestFormatter(kmsg.FormatterClientID("t")).AppendRequest(nil, r, corr)
}

// response frames a response the way kfake does (header v0 for these keys).
func response(corr int32, body []byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(4+len(body)))
	b = binary.BigEndian.AppendUint32(b, uint32(corr))
	return append(b, body...)
}

// dropShort removes the frames too short to hold a correlation id.
func dropShort(b []byte) []byte {
	var out []byte
	for len(b) >= 4 {
		size := int(binary.BigEndian.Uint32(b))
		if len(b) < 4+size {
			return append(out, b...)
		}
		if size >= 4 {
			out = append(out, b[:4+size]...)
		}
		b = b[4+size:]
	}
	return append(out, b...)
}

// frames splits a stream of frames into (correlation id, body) pairs.
func frames(t testing.TB, b []byte) (corrs []int32, bodies [][]byte) {
	t.Helper()
	for len(b) > 0 {
		if len(b) < 8 {
			t.Fatalf("trailing %d bytes", len(b))
		}
		size := int(binary.BigEndian.Uint32(b))
		if len(b) < 4+size {
			t.Fatalf("frame of %d bytes, %d left", size, len(b)-4)
		}
		corrs = append(corrs, int32(binary.BigEndian.Uint32(b[4:])))
		bodies = append(bodies, b[8:4+size])
		b = b[4+size:]
	}
	return corrs, bodies
}

// feed passes b through fn in chunks of n bytes (all at once if n <= 0).
func feed(t testing.TB, b []byte, n int, fn func([]byte) (int, error)) {
	t.Helper()
	if n <= 0 {
		n = len(b)
	}
	for len(b) > 0 {
		k := min(n, len(b))
		if w, err := fn(b[:k]); err != nil || w != k {
			t.Fatalf("wrote %d of %d: %v", w, k, err)
		}
		b = b[k:]
	}
}

// readAll drains the request side through c in reads of n bytes.
func readAll(t testing.TB, c *saslCompatConn, n int) {
	t.Helper()
	buf := make([]byte, max(n, 1))
	for {
		if _, err := c.Read(buf); err == io.EOF {
			return
		} else if err != nil {
			t.Fatal(err)
		}
	}
}

// The answers to ApiVersions and SaslHandshake come out as a real broker
// sends them, every other answer byte for byte as kfake wrote it, however
// the client's requests and kfake's writes are cut into pieces.
func TestSASLCompatRewritesOnlyTheTwoAnswers(t *testing.T) {
	av := kmsg.NewPtrApiVersionsRequest()
	av.Version = 3
	av.ClientSoftwareName, av.ClientSoftwareVersion = "t", "1"
	hs := kmsg.NewPtrSASLHandshakeRequest()
	hs.Version, hs.Mechanism = 1, "SCRAM-SHA-512"
	hsBad := kmsg.NewPtrSASLHandshakeRequest()
	hsBad.Version, hsBad.Mechanism = 1, "GSSAPI"
	md := kmsg.NewPtrMetadataRequest()
	md.Version = 4
	var reqs []byte
	reqs = append(reqs, request(av, 1)...)
	reqs = append(reqs, request(md, 2)...)
	reqs = append(reqs, request(hs, 3)...)
	reqs = append(reqs, request(hsBad, 4)...)

	avResp := kmsg.NewPtrApiVersionsResponse()
	avResp.Version = 3
	for _, k := range []struct{ key, min, max int16 }{{0, 0, 11}, {17, 1, 1}, {18, 0, 4}, {36, 0, 2}} {
		ak := kmsg.NewApiVersionsResponseApiKey()
		ak.ApiKey, ak.MinVersion, ak.MaxVersion = k.key, k.min, k.max
		avResp.ApiKeys = append(avResp.ApiKeys, ak)
	}
	mdBody := []byte("metadata answer, not parsed: corr 1 inside \x00\x00\x00\x01")
	hsResp := kmsg.NewPtrSASLHandshakeResponse()
	hsResp.Version = 1
	hsBadResp := kmsg.NewPtrSASLHandshakeResponse()
	hsBadResp.Version, hsBadResp.ErrorCode, hsBadResp.SupportedMechanisms = 1, 33, []string{"PLAIN"}
	var resps []byte
	resps = append(resps, response(1, avResp.AppendTo(nil))...)
	resps = append(resps, response(2, mdBody)...)
	resps = append(resps, response(3, hsResp.AppendTo(nil))...)
	resps = append(resps, response(4, hsBadResp.AppendTo(nil))...)
	// A response to a correlation id never asked about passes too.
	resps = append(resps, response(1, mdBody)...)

	for _, tc := range []struct {
		name        string
		read, write int
	}{
		{"whole", 0, 0},
		{"byte by byte", 1, 1},
		{"odd pieces", 5, 7},
		{"header-sized pieces", 12, 8},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, bc := newCompat(reqs)
			readAll(t, c, tc.read)
			feed(t, resps, tc.write, c.Write)
			corrs, bodies := frames(t, bc.out.Bytes())
			if !slices.Equal(corrs, []int32{1, 2, 3, 4, 1}) {
				t.Fatalf("correlation ids %v", corrs)
			}
			gotAV := kmsg.NewPtrApiVersionsResponse()
			gotAV.Version = 3
			if err := gotAV.ReadFrom(bodies[0]); err != nil {
				t.Fatal(err)
			}
			for i, k := range gotAV.ApiKeys {
				want := avResp.ApiKeys[i]
				if k.ApiKey == 17 {
					want.MinVersion = 0
				}
				if k.ApiKey != want.ApiKey || k.MinVersion != want.MinVersion || k.MaxVersion != want.MaxVersion {
					t.Errorf("api key %d: %d–%d, want %d–%d", k.ApiKey, k.MinVersion, k.MaxVersion, want.MinVersion, want.MaxVersion)
				}
			}
			if !bytes.Equal(bodies[1], mdBody) || !bytes.Equal(bodies[4], mdBody) {
				t.Errorf("an unwatched answer changed: %q / %q", bodies[1], bodies[4])
			}
			gotHS := kmsg.NewPtrSASLHandshakeResponse()
			gotHS.Version = 1
			if err := gotHS.ReadFrom(bodies[2]); err != nil || gotHS.ErrorCode != 0 || !slices.Contains(gotHS.SupportedMechanisms, "SCRAM-SHA-512") {
				t.Errorf("handshake answer %+v %v: want no error and SCRAM-SHA-512 listed", gotHS, err)
			}
			if !bytes.Equal(bodies[3], hsBadResp.AppendTo(nil)) {
				t.Errorf("a refused handshake changed: %x", bodies[3])
			}
		})
	}
}

// Whatever a client sends and however kfake's writes are cut, the wrapper
// never panics, passes every complete answer frame in order, and leaves
// unwatched answers byte for byte.
func FuzzSASLCompat(f *testing.F) {
	av := kmsg.NewPtrApiVersionsRequest()
	av.Version = 3
	hs := kmsg.NewPtrSASLHandshakeRequest()
	hs.Version, hs.Mechanism = 1, "SCRAM-SHA-512"
	f.Add(append(request(av, 1), request(hs, 2)...), append(response(1, []byte{0, 0, 0}), response(2, []byte{0, 0, 0, 0, 0, 0})...), uint8(3), uint8(2))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0, 18, 0, 3, 0, 0, 0, 9}, response(9, nil), uint8(1), uint8(1))
	f.Fuzz(func(t *testing.T, reqs, resps []byte, rn, wn uint8) {
		c, bc := newCompat(reqs)
		readAll(t, c, int(rn))
		// Only complete frames come out; collect what went in.
		var inCorrs []int32
		var inBodies [][]byte
		for b := resps; len(b) >= 8; {
			size := int(binary.BigEndian.Uint32(b))
			if len(b) < 4+size {
				break
			}
			if size < 4 { // no correlation id: passed as is, checked below
				b = b[4+size:]
				continue
			}
			inCorrs = append(inCorrs, int32(binary.BigEndian.Uint32(b[4:])))
			inBodies = append(inBodies, b[8:4+size])
			b = b[4+size:]
		}
		watched := map[int32]bool{}
		for k := range c.pending {
			watched[k] = true
		}
		feed(t, resps, int(wn), c.Write)
		corrs, bodies := frames(t, dropShort(bc.out.Bytes()))
		if !slices.Equal(corrs, inCorrs) {
			t.Fatalf("correlation ids %v, want %v", corrs, inCorrs)
		}
		seen := map[int32]bool{}
		for i, corr := range corrs {
			first := !seen[corr]
			seen[corr] = true
			if (!watched[corr] || !first) && !bytes.Equal(bodies[i], inBodies[i]) {
				t.Fatalf("unwatched answer %d (corr %d) changed", i, corr)
			}
		}
	})
}
