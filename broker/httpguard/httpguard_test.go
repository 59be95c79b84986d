package httpguard_test

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lgsp-bus/lgsp/broker/httpguard"
)

// serve runs the guarded server with a handler that reads the whole body
// (as the push and registry handlers do) on a loopback port.
func serve(t *testing.T, l httpguard.Limits) string {
	t.Helper()
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(io.LimitReader(r.Body, 9<<20))
		if err != nil {
			http.Error(w, "body not read", http.StatusBadRequest)
			return
		}
		fmt.Fprintf(w, "read %d", len(b))
	})
	refuse := func(w http.ResponseWriter, status int, msg string) { http.Error(w, msg, status) }
	srv := httpguard.Server(h, l, refuse, slog.New(slog.DiscardHandler))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// stall opens a connection that sends the headers of an upload of size
// bytes and then only sent bytes of it.
func stall(t *testing.T, addr, token string, size, sent int) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	fmt.Fprintf(c, "POST /up HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Length: %d\r\n\r\n", token, size)
	if _, err := c.Write([]byte(strings.Repeat("a", sent))); err != nil {
		t.Fatal(err)
	}
	return c
}

// closedWithin reads from c until the server closes it; it reports whether
// that happened before the bound (a generous one: this is not a timing
// test, the bound only keeps a broken guard from hanging the suite).
func closedWithin(c net.Conn, bound time.Duration) bool {
	_ = c.SetReadDeadline(time.Now().Add(bound))
	_, err := io.Copy(io.Discard, c)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		return false
	}
	return true
}

func status(t *testing.T, c net.Conn) int {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("no response: %v", err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestStalledClientsAreCut(t *testing.T) {
	addr := serve(t, httpguard.Limits{HeaderTimeout: 200 * time.Millisecond, BodyTimeout: 400 * time.Millisecond, IdleTimeout: 400 * time.Millisecond})
	t.Run("body", func(t *testing.T) {
		c := stall(t, addr, "a", 8<<20, 1024)
		if !closedWithin(c, 20*time.Second) {
			t.Fatal("a stalled body was not cut")
		}
	})
	t.Run("header", func(t *testing.T) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprintf(c, "POST /up HTTP/1.1\r\nHost: x\r\nX-Slow: ")
		if !closedWithin(c, 20*time.Second) {
			t.Fatal("a stalled header was not cut")
		}
	})
	t.Run("idle", func(t *testing.T) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprintf(c, "GET /x HTTP/1.1\r\nHost: x\r\n\r\n")
		if s := status(t, c); s != http.StatusOK {
			t.Fatalf("status %d", s)
		}
		if !closedWithin(c, 20*time.Second) {
			t.Fatal("an idle keep-alive connection was not closed")
		}
	})
	t.Run("header size", func(t *testing.T) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprintf(c, "GET /x HTTP/1.1\r\nHost: x\r\nX-Big: %s\r\n\r\n", strings.Repeat("b", 200<<10))
		if s := status(t, c); s != http.StatusRequestHeaderFieldsTooLarge {
			t.Fatalf("a 200 KiB header got %d", s)
		}
	})
}

func TestUploadsPerCredentialAndInTotal(t *testing.T) {
	addr := serve(t, httpguard.Limits{UploadsPerCredential: 2, Uploads: 3, BodyTimeout: time.Minute})
	stall(t, addr, "one", 1<<20, 10)
	stall(t, addr, "one", 1<<20, 10)
	time.Sleep(100 * time.Millisecond) // let the server take both (only orders the test; no timing is asserted)
	third := stall(t, addr, "one", 1<<20, 10)
	if s := status(t, third); s != http.StatusTooManyRequests {
		t.Fatalf("third upload of one credential: %d, want 429", s)
	}
	stall(t, addr, "two", 1<<20, 10)
	time.Sleep(100 * time.Millisecond)
	over := stall(t, addr, "three", 1<<20, 10)
	if s := status(t, over); s != http.StatusServiceUnavailable {
		t.Fatalf("fourth upload in total: %d, want 503", s)
	}
	// Requests without a body are never held back.
	resp, err := http.Get("http://" + addr + "/x")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET while uploads are capped: %d", resp.StatusCode)
	}
}

// 200 clients with their own credentials each start an 8 MiB upload and
// stall after 4 MiB: the listener reads at most Uploads of them, so the
// heap grows by about Uploads × (what they sent), not by 200 × 8 MiB.
func TestStalledUploadsKeepMemoryBounded(t *testing.T) {
	const clients, uploads = 200, 8
	addr := serve(t, httpguard.Limits{Uploads: uploads, BodyTimeout: time.Minute})
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	var wg sync.WaitGroup
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.Dial("tcp", addr)
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
			fmt.Fprintf(c, "POST /up HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer c%d\r\nContent-Length: %d\r\n\r\n", i, 8<<20)
			_, _ = c.Write(make([]byte, 4<<20))
		}()
	}
	wg.Wait()
	time.Sleep(500 * time.Millisecond) // let the server read what was sent
	runtime.GC()
	var during runtime.MemStats
	runtime.ReadMemStats(&during)
	grew := int64(during.HeapInuse) - int64(before.HeapInuse)
	// io.ReadAll holds at most about twice what it read; 16 MiB of slack
	// for the connections' own buffers.
	bound := int64(uploads*2*(4<<20) + 16<<20)
	t.Logf("heap grew by %d MiB with %d stalled uploads (bound %d MiB)", grew>>20, clients, bound>>20)
	if grew > bound {
		t.Fatalf("heap grew by %d MiB, over %d MiB", grew>>20, bound>>20)
	}
}
