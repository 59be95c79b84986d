package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
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
}

// LoadResult holds the latencies, measured from when each request was due
// (so a stalled bus cannot hide its queue from the figures).
type LoadResult struct {
	Sent, Failed    int
	Rate            float64 // achieved
	P50, P99, Max   time.Duration
	FirstFailure    string
	Rejected, Other int // non-200 answers by kind: 4xx, other
}

func (r LoadResult) String() string {
	s := fmt.Sprintf("  %d requests at %.0f/s: p50 %.2f ms, p99 %.2f ms, max %.1f ms (goal p99 ≤ 5 ms); %d failed",
		r.Sent, r.Rate, ms(r.P50), ms(r.P99), ms(r.Max), r.Failed)
	if r.FirstFailure != "" {
		s += " (first: " + r.FirstFailure + ")"
	}
	return s
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

type loadRequest struct {
	path, token string
	body        []byte
}

// RunLoad sends the requests of o.Requests at o.Rate for o.Duration.
func RunLoad(ctx context.Context, o LoadOptions) (LoadResult, error) {
	if o.Rate <= 0 {
		o.Rate = 5000
	}
	if o.Duration <= 0 {
		o.Duration = 10 * time.Second
	}
	f, err := os.Open(o.Requests)
	if err != nil {
		return LoadResult{}, err
	}
	var reqs []loadRequest
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		p := strings.SplitN(sc.Text(), "\t", 3)
		if len(p) != 3 {
			f.Close()
			return LoadResult{}, fmt.Errorf("bench: %s: a line is not PATH<TAB>TOKEN<TAB>BODY", o.Requests)
		}
		reqs = append(reqs, loadRequest{p[0], p[1], []byte(p[2])})
	}
	f.Close()
	if len(reqs) == 0 {
		return LoadResult{}, fmt.Errorf("bench: %s holds no requests", o.Requests)
	}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConns: 1024, MaxIdleConnsPerHost: 1024}}
	n := int(float64(o.Rate) * o.Duration.Seconds())
	lat := make([]time.Duration, n)
	var failed atomic.Int64
	var first atomic.Value
	var wg sync.WaitGroup
	sem := make(chan struct{}, 1024) // connections at most; beyond, requests wait (and their latency shows it)
	start := time.Now()
	interval := time.Second / time.Duration(o.Rate)
	for i := 0; i < n && ctx.Err() == nil; i++ {
		due := start.Add(time.Duration(i) * interval)
		if d := time.Until(due); d > 0 {
			time.Sleep(d)
		}
		sem <- struct{}{}
		wg.Add(1)
		go func(i int, due time.Time) {
			defer func() { <-sem; wg.Done() }()
			r := reqs[i%len(reqs)]
			req, _ := http.NewRequestWithContext(ctx, "POST", o.API+r.path, bytes.NewReader(r.body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+r.token)
			resp, err := client.Do(req)
			if err == nil {
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					err = fmt.Errorf("%s: %d %s", r.path, resp.StatusCode, strings.TrimSpace(string(body)))
				}
			}
			lat[i] = time.Since(due)
			if err != nil {
				failed.Add(1)
				first.CompareAndSwap(nil, err.Error())
			}
		}(i, due)
	}
	wg.Wait()
	elapsed := time.Since(start)
	slices.Sort(lat)
	res := LoadResult{Sent: n, Failed: int(failed.Load()), Rate: float64(n) / elapsed.Seconds(),
		P50: lat[n/2], P99: lat[n*99/100], Max: lat[n-1]}
	if s, ok := first.Load().(string); ok {
		res.FirstFailure = s
	}
	return res, nil
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
