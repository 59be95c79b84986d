package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lgsp-bus/lgsp/broker/runtime"
	"github.com/lgsp-bus/lgsp/broker/store"
	"github.com/lgsp-bus/lgsp/connectors"
)

// LoadOptions configures RunLoad, the open-loop load generator that
// `lgsp bench -load` runs in a process of its own.
type LoadOptions struct {
	// API is the bus's API base URL, "http://127.0.0.1:8080".
	API string
	// Requests is a file of lines "PATH<TAB>TOKEN<TAB>JSON body", sent
	// round robin.
	Requests string
	Rate     int           // requests per second (default 5000)
	Duration time.Duration // default 10s
	// CPUProfile, when set, receives a CPU profile of the generator's
	// process while it sends (`lgsp bench -e2e -load-gen-cpuprofile`).
	CPUProfile string
}

// LoadResult holds the latencies, measured from when each request was due
// (so a stalled bus cannot hide its queue from the figures).
type LoadResult struct {
	Sent, Failed    int
	Rate            float64 // achieved
	P50, P99, Max   time.Duration
	FirstFailure    string
	Rejected, Other int // non-200 answers by kind: 4xx, other (the rest of Failed: no answer)
	// CPU is the generator process's CPU (user+sys) per request: it
	// shares the machine with the bus, so it is stated with the figures.
	// (Run in the bus's process, as Go benchmarks do, it includes the bus.)
	CPU time.Duration
	// Conns is how many connections the generator opened: one per
	// request in flight at the busiest moment, kept alive.
	Conns int
}

func (r LoadResult) String() string {
	s := fmt.Sprintf("  %d requests at %.0f/s: p50 %.2f ms, p99 %.2f ms, max %.1f ms (goal p99 ≤ 5 ms); %d failed",
		r.Sent, r.Rate, ms(r.P50), ms(r.P99), ms(r.Max), r.Failed)
	if r.FirstFailure != "" {
		s += " (first: " + r.FirstFailure + ")"
	}
	s += fmt.Sprintf("\n  generator CPU %.0f µs per request, %d connections", float64(r.CPU.Nanoseconds())/1000, r.Conns)
	return s
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// maxLoadConns bounds the generator's connections (requests in flight);
// beyond, requests wait for one, and their latency shows it.
const maxLoadConns = 1024

// RunLoad sends the requests of o.Requests at o.Rate for o.Duration.
//
// It is built to cost little CPU, since it shares the machine with the
// bus: each request is serialised once, up front; a connection is a
// worker goroutine that writes those bytes and parses the answer with
// net/http's reader (no Transport, whose per-connection read and write
// goroutines hand every request over twice); workers are started only
// when every open one is busy, so the connections are the requests in
// flight, not one per request.
func RunLoad(ctx context.Context, o LoadOptions) (LoadResult, error) {
	if o.Rate <= 0 {
		o.Rate = 5000
	}
	if o.Duration <= 0 {
		o.Duration = 10 * time.Second
	}
	u, err := url.Parse(o.API)
	if err != nil || u.Scheme != "http" || u.Host == "" {
		return LoadResult{}, fmt.Errorf("bench: the API %q is not an http://HOST:PORT URL", o.API)
	}
	reqs, err := loadRequests(o.Requests, u)
	if err != nil {
		return LoadResult{}, err
	}
	if o.CPUProfile != "" {
		f, err := os.Create(o.CPUProfile)
		if err != nil {
			return LoadResult{}, fmt.Errorf("bench: the generator's CPU profile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return LoadResult{}, fmt.Errorf("bench: the generator's CPU profile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	n := int(float64(o.Rate) * o.Duration.Seconds())
	lat := make([]time.Duration, n)
	var failed, rejected, other atomic.Int64
	var first atomic.Value
	var wg sync.WaitGroup
	work := make(chan int) // unbuffered: a send succeeds only when a worker is idle
	cpu0 := cpuTime()
	start := time.Now()
	interval := time.Second / time.Duration(o.Rate)
	due := func(i int) time.Time { return start.Add(time.Duration(i) * interval) }
	worker := func(i int) {
		defer wg.Done()
		w := loadConn{addr: u.Host}
		defer w.close()
		for ok := true; ok; i, ok = <-work {
			r := &reqs[i%len(reqs)]
			status, err := w.do(r.raw)
			if err != nil {
				failed.Add(1)
				first.CompareAndSwap(nil, r.path+": "+err.Error())
				switch {
				case status >= 400 && status < 500:
					rejected.Add(1)
				case status != 0:
					other.Add(1)
				}
			}
			lat[i] = time.Since(due(i))
		}
	}
	conns := 0
	for i := 0; i < n && ctx.Err() == nil; i++ {
		if d := time.Until(due(i)); d > 0 {
			time.Sleep(d)
		}
		select {
		case work <- i:
		default:
			if conns < maxLoadConns {
				conns++
				wg.Add(1)
				go worker(i)
			} else {
				work <- i
			}
		}
	}
	close(work)
	wg.Wait()
	elapsed := time.Since(start)
	cpu := cpuTime() - cpu0
	slices.Sort(lat)
	res := LoadResult{Sent: n, Failed: int(failed.Load()), Rate: float64(n) / elapsed.Seconds(),
		P50: lat[n/2], P99: lat[n*99/100], Max: lat[n-1], CPU: cpu / time.Duration(max(n, 1)), Conns: conns,
		Rejected: int(rejected.Load()), Other: int(other.Load())}
	if s, ok := first.Load().(string); ok {
		res.FirstFailure = s
	}
	return res, nil
}

// loadRequest is one line of the requests file, serialised as HTTP/1.1.
type loadRequest struct {
	path string
	raw  []byte
}

// loadRequests reads the requests file and serialises each request once,
// with net/http's own writer.
func loadRequests(path string, api *url.URL) ([]loadRequest, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var reqs []loadRequest
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		p := strings.SplitN(sc.Text(), "\t", 3)
		if len(p) != 3 {
			return nil, fmt.Errorf("bench: %s: a line is not PATH<TAB>TOKEN<TAB>BODY", path)
		}
		req, err := http.NewRequest("POST", api.JoinPath(p[0]).String(), strings.NewReader(p[2]))
		if err != nil {
			return nil, fmt.Errorf("bench: %s: %w", path, err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+p[1])
		var b bytes.Buffer
		if err := req.Write(&b); err != nil {
			return nil, err
		}
		reqs = append(reqs, loadRequest{p[0], b.Bytes()})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("bench: %s: %w", path, err)
	}
	if len(reqs) == 0 {
		return nil, fmt.Errorf("bench: %s holds no requests", path)
	}
	return reqs, nil
}

// loadConn is one keep-alive connection of the generator, dialled when
// first used and again after an error.
type loadConn struct {
	addr string
	c    net.Conn
	r    *bufio.Reader
	body [512]byte // the start of a refusal's text, for FirstFailure
}

func (w *loadConn) close() {
	if w.c != nil {
		w.c.Close()
		w.c = nil
	}
}

// do sends one serialised request and reads its answer: its status, and
// for an answer other than 200 an error carrying the start of its body.
func (w *loadConn) do(raw []byte) (int, error) {
	if w.c == nil {
		c, err := net.DialTimeout("tcp", w.addr, 10*time.Second)
		if err != nil {
			return 0, err
		}
		w.c = c
		if w.r == nil {
			w.r = bufio.NewReaderSize(c, 8<<10)
		} else {
			w.r.Reset(c)
		}
	}
	status, keep, err := w.exchange(raw)
	if err != nil || !keep {
		w.close()
	}
	return status, err
}

func (w *loadConn) exchange(raw []byte) (status int, keep bool, err error) {
	if err := w.c.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		return 0, false, err
	}
	if _, err := w.c.Write(raw); err != nil {
		return 0, false, err
	}
	resp, err := http.ReadResponse(w.r, nil)
	if err != nil {
		return 0, false, err
	}
	defer resp.Body.Close()
	var refusal []byte
	if resp.StatusCode != http.StatusOK {
		k, _ := io.ReadFull(resp.Body, w.body[:])
		refusal = w.body[:k]
	}
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return resp.StatusCode, false, err
	}
	if resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("%d %s", resp.StatusCode, strings.TrimSpace(string(refusal)))
	}
	return resp.StatusCode, !resp.Close, err
}

// prepareLoad pushes taxpayers and health-insurance cards for the first
// citizens, waits until the dataset state holds them, issues API tokens
// and writes the requests file: thads-hcm's taxpayer lookups and
// bank-vcb's card verifications, alternately.
func prepareLoad(ctx context.Context, bus *runtime.Bus, citizen func(int64, int) store.Citizen, seed int64, n int, dir string) (string, error) {
	var tax, cards []connectors.Record
	for i := 0; i < n; i++ {
		c := citizen(seed, i)
		tax = append(tax, connectors.Record{Dataset: "tax.taxpayer", Op: connectors.OpCreate, Position: connectors.Position(fmt.Sprint("load:", i)), After: map[string]any{
			"tax_code": fmt.Sprintf("81%08d", i), "cccd": c.ID, "full_name": c.FullName, "dob": c.DOB, "sex": c.Sex,
			"address": "12 Lê Lợi, Quận 1", "tax_office": "79101", "status": "ACTIVE", "registered_on": "2015-03-04"}})
		cards = append(cards, connectors.Record{Dataset: "insurance.health_insurance_card", Op: connectors.OpCreate, Position: connectors.Position(fmt.Sprint("load:", i)), After: map[string]any{
			"card_no": fmt.Sprintf("GD479792%07d", i), "cccd": c.ID, "full_name": c.FullName, "dob": c.DOB, "sex": c.Sex,
			"beneficiary_group": "GD", "benefit_level": 4, "hospital_code": "79-001", "valid_from": "2026-01-01", "valid_to": "2026-12-31"}})
	}
	for src, recs := range map[string][]connectors.Record{"tax": tax, "insurance": cards} {
		for i := 0; i < len(recs); i += 500 {
			if _, err := bus.Pipe.Ingest(ctx, src, recs[i:min(i+500, len(recs))]); err != nil {
				return "", err
			}
		}
	}
	ss, ok := bus.Store.(store.StateScanner)
	if !ok {
		return "", errors.New("bench: the store cannot count its dataset state")
	}
	for {
		a, err1 := ss.CountState(ctx, "tax.taxpayer")
		b, err2 := ss.CountState(ctx, "insurance.health_insurance_card")
		if err := errors.Join(err1, err2); err != nil {
			return "", err
		}
		if a >= int64(n) && b >= int64(n) {
			break
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	thads, err := issueToken(ctx, bus, "thads-hcm")
	if err != nil {
		return "", err
	}
	bank, err := issueToken(ctx, bus, "bank-vcb")
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for i := 0; i < n; i++ {
		c := citizen(seed, i)
		fmt.Fprintf(&b, "/v1/lookup\t%s\t{\"dataset\":\"tax.taxpayer\",\"citizen\":%q,\"purpose\":\"judgment_enforcement\",\"case_reference\":\"THA-2026/%d\"}\n", thads, c.ID, i)
		fmt.Fprintf(&b, "/v1/verify\t%s\t{\"dataset\":\"insurance.health_insurance_card\",\"citizen\":%q,\"purpose\":\"identity_verification\",\"claims\":{\"full_name\":%q}}\n", bank, c.ID, c.FullName)
	}
	path := filepath.Join(dir, "load-requests.tsv")
	return path, os.WriteFile(path, []byte(b.String()), 0o600)
}

// issueToken asks the bus, as its operator, for an agency's API token.
func issueToken(ctx context.Context, bus *runtime.Bus, agency string) (string, error) {
	op, err := os.ReadFile(filepath.Join(bus.Addrs().DataDir, "operator.token"))
	if err != nil {
		return "", fmt.Errorf("bench: the operator token: %w", err)
	}
	req, _ := http.NewRequestWithContext(ctx, "POST", "http://"+bus.Addrs().API+"/v1/operator/agencies/"+agency+"/tokens", nil)
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(op)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var out struct {
		Token string `json:"token"`
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 201 {
		return "", fmt.Errorf("bench: issue a token for %s: %d %s", agency, resp.StatusCode, body)
	}
	if err := json.Unmarshal(body, &out); err != nil {
		return "", err
	}
	return out.Token, nil
}

// LoadCommand runs RunLoad in a process of its own, so the generator's
// CPU is not the bus's: this executable with args, then -json and the
// options as flags (`lgsp bench -load URL -requests FILE -load-rate N
// -load-duration D -json`), reading its JSON result back.
func LoadCommand(args ...string) func(context.Context, LoadOptions) (LoadResult, error) {
	return func(ctx context.Context, o LoadOptions) (LoadResult, error) {
		self, err := os.Executable()
		if err != nil {
			return LoadResult{}, err
		}
		argv := append(slices.Clone(args), o.API, "-requests", o.Requests,
			"-load-rate", fmt.Sprint(o.Rate), "-load-duration", o.Duration.String(), "-json")
		if o.CPUProfile != "" {
			argv = append(argv, "-load-cpuprofile", o.CPUProfile)
		}
		out, err := exec.CommandContext(ctx, self, argv...).Output()
		if err != nil {
			return LoadResult{}, fmt.Errorf("bench: the load generator process: %w", err)
		}
		var r LoadResult
		if err := json.Unmarshal(out, &r); err != nil {
			return r, fmt.Errorf("bench: the load generator's answer %q: %w", out, err)
		}
		return r, nil
	}
}
