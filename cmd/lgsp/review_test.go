package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lgsp-bus/lgsp/broker/config"
	"github.com/lgsp-bus/lgsp/broker/identity/linkage/reconcilerun"
	"github.com/lgsp-bus/lgsp/broker/review"
	"github.com/lgsp-bus/lgsp/broker/runtime"
	"github.com/lgsp-bus/lgsp/broker/store"
	"github.com/lgsp-bus/lgsp/broker/store/pgstore"
	"github.com/lgsp-bus/lgsp/connectors/pgtest"
	"github.com/lgsp-bus/lgsp/examples/synthetic/plug"
)

// cli runs a command function with captured output.
func cli(ctx context.Context, fn func(context.Context, []string, *bytes.Buffer, *bytes.Buffer) error, args ...string) (string, string, error) {
	var out, errb bytes.Buffer
	err := fn(ctx, args, &out, &errb)
	return out.String(), errb.String(), err
}

func reconcileCmd(ctx context.Context, args []string, out, errb *bytes.Buffer) error {
	return runReconcile(ctx, args, out, errb)
}

func reviewCmd(ctx context.Context, args []string, out, errb *bytes.Buffer) error {
	return runReview(ctx, args, out, errb)
}

// readNDJSON reads a file of JSON objects.
func readNDJSON(t *testing.T, path string) []map[string]any {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	return parseNDJSON(t, f)
}

func parseNDJSON(t *testing.T, r interface{ Read([]byte) (int, error) }) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		out = append(out, m)
	}
	return out
}

// reviewIDs are the review ids of the review outcomes of a results file,
// by record id.
func reviewIDs(t *testing.T, results string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, r := range readNDJSON(t, results) {
		if r["outcome"] == "review" {
			id, _ := r["review_id"].(string)
			if id == "" {
				t.Fatalf("review outcome without review_id: %v", r)
			}
			out[r["record_id"].(string)] = id
		}
	}
	return out
}

// queued lists every item of source in the store.
func queued(t *testing.T, rs store.ReviewStore, source string) map[string]store.ReviewItem {
	t.Helper()
	items, _, err := review.ListSource(context.Background(), rs, source, "", 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]store.ReviewItem{}
	for _, it := range items {
		if _, dup := out[it.RecordID]; dup {
			t.Fatalf("record %s queued twice", it.RecordID)
		}
		out[it.RecordID] = it
	}
	return out
}

// personRows writes records of the citizens: the first ones with their
// number, the others twice without it (the same person in two records:
// one links, the other goes to review, its citizen being taken).
func personRows(people []store.Citizen, withNumber int) [][5]string {
	var rows [][5]string
	for i, p := range people {
		if i < withNumber {
			rows = append(rows, [5]string{fmt.Sprintf("HS%04d", i), p.ID, p.FullName, p.DOB, p.Sex})
			continue
		}
		for dup := range 2 {
			rows = append(rows, [5]string{fmt.Sprintf("HS%04d-%d", i, dup), "", p.FullName, p.DOB, p.Sex})
		}
	}
	return rows
}

// checkQueue checks that the review outcomes of a run are queued under
// source, once each, with the results' ids.
func checkQueue(t *testing.T, rs store.ReviewStore, source, results string) map[string]store.ReviewItem {
	t.Helper()
	ids := reviewIDs(t, results)
	q := queued(t, rs, source)
	if len(ids) == 0 || len(q) != len(ids) {
		t.Fatalf("%d review outcomes, %d queued under %s", len(ids), len(q), source)
	}
	for rec, id := range ids {
		it, ok := q[rec]
		if !ok || review.ID(it.Seq) != id || it.Status != store.ReviewPending || len(it.PersonalID) != 12 || it.Reason == "" || it.Explanation == nil {
			t.Fatalf("record %s (result id %s) queued as %+v", rec, id, it)
		}
	}
	return q
}

// A ministry reconciles its file against a running dev bus (a second
// handle on its SQLite file, written by both), queues the review outcomes,
// a clerk decides some through the bus's API, and the ministry exports the
// decisions, resuming with its cursor; it also reconciles a dataset the
// bus keeps.
func TestReconcileReviewQueueSQLite(t *testing.T) {
	dir := t.TempDir()
	c := config.Defaults()
	c.DataDir, c.API.Addr, c.Registry.Addr, c.Kafka.EmbeddedPort = dir, "127.0.0.1:0", "127.0.0.1:0", 0
	c.Synthetic = config.Synthetic{Enabled: true, Population: 3000, Seed: 7, RatePerSecond: 100, Limit: 300}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	bus, err := runtime.Start(ctx, plug.Synthetic(runtime.Options{Mode: runtime.Dev, Config: c}))
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Close(context.Background())
	var people []store.Citizen
	_ = bus.Store.ScanCitizens(ctx, func(c store.Citizen) error {
		if !c.Deceased && len(people) < 90 {
			people = append(people, c)
		}
		return nil
	})
	var sb strings.Builder
	sb.WriteString("record_id,personal_id,full_name,dob,sex\n")
	for _, r := range personRows(people, 60) {
		sb.WriteString(strings.Join(r[:], ",") + "\n")
	}
	input := filepath.Join(dir, "ho_tich.csv")
	if err := os.WriteFile(input, []byte(sb.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	results := filepath.Join(dir, "results.ndjson")
	args := []string{"--records", input, "--data-dir", dir, "--queue-review", "moj-ho-tich", "--out", results}
	stdout, stderr, err := cli(ctx, reconcileCmd, args...)
	if err != nil {
		t.Fatalf("%v: %s", err, stderr)
	}
	var sum reconcilerun.Summary
	if err := json.Unmarshal([]byte(stdout), &sum); err != nil || sum.ReviewSource != "moj-ho-tich" || sum.Outcomes["verified"] < 50 {
		t.Fatalf("summary %s (%v)", stdout, err)
	}
	rs := bus.Store.(store.ReviewStore)
	first := checkQueue(t, rs, "moj-ho-tich", results)
	if !strings.Contains(stderr, "review outcomes are in the review queue") {
		t.Errorf("no word of the queue: %s", stderr)
	}
	// a re-run queues nothing twice and finds the same items
	if _, stderr, err := cli(ctx, reconcileCmd, args...); err != nil {
		t.Fatalf("re-run: %v: %s", err, stderr)
	}
	if again := checkQueue(t, rs, "moj-ho-tich", results); !sameSeqs(first, again) {
		t.Fatalf("re-run changed the queue: %v → %v", first, again)
	}

	// a clerk decides three items through the API
	op, err := os.ReadFile(filepath.Join(dir, "operator.token"))
	if err != nil {
		t.Fatal(err)
	}
	recs := sortedKeys(first)
	decide := func(rec, verb string) {
		t.Helper()
		url := "http://" + bus.Addrs().API + "/v1/operator/review/" + review.ID(first[rec].Seq) + "/" + verb
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(`{"note":"so sánh giấy khai sinh","by":"can-bo-07"}`))
		req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(op)))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s %s: %s", verb, rec, resp.Status)
		}
	}
	decide(recs[2], "accept")
	decide(recs[0], "reject")
	decide(recs[1], "accept")

	decisions := filepath.Join(dir, "decisions.ndjson")
	cursor := filepath.Join(dir, "moj.cursor.json")
	exp := []string{"export", "--source", "moj-ho-tich", "--data-dir", dir, "--cursor", cursor, "--out", decisions}
	if _, stderr, err := cli(ctx, reviewCmd, exp...); err != nil || !strings.Contains(stderr, "3 decisions of moj-ho-tich exported") {
		t.Fatalf("export: %v: %s", err, stderr)
	}
	got := readNDJSON(t, decisions)
	if len(got) != 3 {
		t.Fatalf("%d decisions: %v", len(got), got)
	}
	for k, rec := range recs[:3] { // in queue order, whatever the order of deciding
		d, it := got[k], first[rec]
		status, pid := "accepted", it.PersonalID
		if k == 0 {
			status, pid = "rejected", ""
		}
		if d["record_id"] != rec || d["status"] != status || d["personal_id"] != pid || d["candidate"] != it.PersonalID ||
			d["decided_by"] != "can-bo-07" || d["note"] != "so sánh giấy khai sinh" || d["decided_at"] == "" || d["review_id"] != review.ID(it.Seq) {
			t.Errorf("decision %d: %v, want %s %s of %+v", k, d, rec, status, it)
		}
	}
	// resuming: nothing new, then the one decided since
	if _, stderr, err := cli(ctx, reviewCmd, exp...); err != nil || !strings.Contains(stderr, "0 decisions") {
		t.Fatalf("second export: %v: %s", err, stderr)
	}
	decide(recs[4], "reject")
	if _, _, err := cli(ctx, reviewCmd, exp...); err != nil {
		t.Fatal(err)
	}
	if got := readNDJSON(t, decisions); len(got) != 4 || got[3]["record_id"] != recs[4] || got[3]["status"] != "rejected" {
		t.Fatalf("after the fourth decision: %v", got)
	}
	// without a cursor, everything, on stdout
	if out, _, err := cli(ctx, reviewCmd, "export", "--source", "moj-ho-tich", "--data-dir", dir); err != nil || len(parseNDJSON(t, strings.NewReader(out))) != 4 {
		t.Fatalf("export without cursor: %v\n%s", err, out)
	}

	// the pending items, a page at a time
	out, stderr, err := cli(ctx, reviewCmd, "list", "--source", "moj-ho-tich", "--status", "pending", "--limit", "3", "--data-dir", dir)
	page := parseNDJSON(t, strings.NewReader(out))
	if err != nil || len(page) != 3 || page[0]["record_id"] != recs[3] || page[0]["status"] != "pending" || page[0]["source"] != "moj-ho-tich" {
		t.Fatalf("list: %v %s %v", err, stderr, page)
	}
	next, ok := strings.CutPrefix(strings.TrimSpace(stderr), "more items: --after ")
	if !ok || next != page[2]["id"] {
		t.Fatalf("list cursor: %q", stderr)
	}
	out, _, err = cli(ctx, reviewCmd, "list", "--source", "moj-ho-tich", "--status", "pending", "--after", next, "--limit", "1000", "--data-dir", dir)
	if rest := parseNDJSON(t, strings.NewReader(out)); err != nil || len(rest) != len(first)-4-3 {
		t.Fatalf("second page: %d items, want %d (%v)", len(rest), len(first)-7, err)
	}

	// a dataset the bus keeps: its current rows, mapped by the catalog
	var rows int64
	for deadline := time.Now().Add(60 * time.Second); rows < 50 && time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if rows, err = bus.Store.(store.StateScanner).CountState(ctx, "tax.taxpayer"); err != nil {
			t.Fatal(err)
		}
	}
	if rows < 50 {
		t.Fatalf("the bus kept %d tax.taxpayer rows in a minute", rows)
	}
	dsOut := filepath.Join(dir, "taxpayer.results.ndjson")
	stdout, stderr, err = cli(ctx, reconcileCmd, "--dataset", "tax.taxpayer", "--data-dir", dir, "--out", dsOut)
	if err != nil {
		t.Fatalf("--dataset: %v: %s", err, stderr)
	}
	res := readNDJSON(t, dsOut)
	if err := json.Unmarshal([]byte(stdout), &sum); err != nil || sum.Records != len(res) || int64(len(res)) < rows || sum.Outcomes["verified"] < len(res)/2 {
		t.Fatalf("--dataset: %d results for at least %d rows, summary %s", len(res), rows, stdout)
	}
	var keys []string
	if err := bus.Store.(store.StateScanner).ScanState(ctx, "tax.taxpayer", func(r store.StateRow) error { keys = append(keys, r.Key); return nil }); err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if !slices.Contains(keys, r["record_id"].(string)) {
			t.Fatalf("result %v: record_id is not an entity key of tax.taxpayer", r)
		}
	}

	// what is refused, and why
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--dataset", "tax.taxpayers", "--data-dir", dir}, `unknown dataset "tax.taxpayers": the catalog (schemas/catalog.yaml) has `},
		{[]string{"--dataset", "land.land_parcel", "--data-dir", dir}, "land.land_parcel names no person"},
		{[]string{"--dataset", "tax.taxpayer", "--records", input, "--data-dir", dir}, "one of them"},
		{[]string{"--records", input, "--data-dir", dir, "--queue-review", "tax.taxpayer"}, `choose a source of your own, e.g. "reconcile-tax.taxpayer"`},
		{[]string{"--records", input, "--data-dir", filepath.Join(dir, "typo")}, "no bus store at " + filepath.Join(dir, "typo", "lgsp.db")},
	} {
		if _, _, err := cli(ctx, reconcileCmd, tc.args...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want %q", tc.args, err, tc.want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "typo")); !os.IsNotExist(err) {
		t.Error("a mistyped data dir was created")
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"export", "--data-dir", dir}, "--source SOURCE is required"},
		{[]string{"list", "--status", "done", "--data-dir", dir}, "--status must be"},
		{[]string{"list", "--after", "17", "--data-dir", dir}, "not a review item id"},
		{[]string{"purge"}, "say list or export"},
		{[]string{"export", "--source", "other", "--cursor", cursor, "--data-dir", dir}, `the cursor belongs to another source: it is of "moj-ho-tich"`},
	} {
		if _, _, err := cli(ctx, reviewCmd, tc.args...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("review %v: %v, want %q", tc.args, err, tc.want)
		}
	}
}

func sameSeqs(a, b map[string]store.ReviewItem) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k].Seq != v.Seq {
			return false
		}
	}
	return true
}

// sortedKeys are the record ids of queued items in queue order.
func sortedKeys(q map[string]store.ReviewItem) []string {
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int { return int(q[a].Seq - q[b].Seq) })
	return keys
}

// The same against a bus on PostgreSQL (its own schema): the register and
// a dataset's rows in the store, the records read from the dataset, the
// review queue, a decision, and the export, all through --config.
func TestReconcileReviewQueuePostgres(t *testing.T) {
	url := pgtest.SchemaURL(t, "lgsp_cli")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	st, err := pgstore.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	world := genWorld(t, "--citizens", "3000", "--records", "10", "--seed", "21")
	var pop []store.Citizen
	table := readCSV(t, filepath.Join(world, "population.csv"))
	col := map[string]int{}
	for k, h := range table[0] {
		col[h] = k
	}
	for _, r := range table[1:] {
		pop = append(pop, store.Citizen{ID: r[col["personal_id"]], OldID: r[col["old_cmnd"]], FullName: r[col["full_name"]], DOB: r[col["dob"]],
			Sex: r[col["sex"]], BirthProvince: r[col["birth_province"]], Deceased: r[col["deceased"]] == "true"})
	}
	if err := st.PutCitizens(ctx, pop); err != nil {
		t.Fatal(err)
	}
	var people []store.Citizen
	for _, c := range pop {
		if !c.Deceased && len(people) < 80 {
			people = append(people, c)
		}
	}
	// health insurance cards: identity cccd, full_name, dob, sex
	const dataset = "insurance.health_insurance_card"
	var state []store.StateRow
	for _, r := range personRows(people, 50) {
		row, _ := json.Marshal(map[string]any{"card_no": "GD4" + r[0], "cccd": r[1], "full_name": r[2], "dob": r[3], "sex": r[4], "valid_from": "2025-01-01"})
		state = append(state, store.StateRow{Dataset: dataset, Key: "GD4" + r[0], Row: row, EventID: "e-" + r[0], Updated: time.Now()})
	}
	if err := st.ApplyState(ctx, state, nil); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(t.TempDir(), "lgsp.yaml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf("store:\n  driver: postgres\n  url: %q\n", url)), 0o600); err != nil {
		t.Fatal(err)
	}
	results := filepath.Join(t.TempDir(), "bhyt.results.ndjson")
	// the catalog links many health-insurance rows to one person
	// (many_to_one); --cardinality one_to_one overrides it, so that the
	// second row of each person goes to review
	args := []string{"--dataset", dataset, "--config", cfg, "--queue-review", "vss-bhyt", "--out", results, "--cardinality", "one_to_one"}
	stdout, stderr, err := cli(ctx, reconcileCmd, args...)
	if err != nil {
		t.Fatalf("%v: %s", err, stderr)
	}
	var sum reconcilerun.Summary
	if err := json.Unmarshal([]byte(stdout), &sum); err != nil || sum.Records != len(state) || sum.Outcomes["verified"] != 50 || sum.Outcomes["linked"] < 10 {
		t.Fatalf("summary %s (%v)", stdout, err)
	}
	first := checkQueue(t, st, "vss-bhyt", results)
	for rec := range first {
		if !strings.HasPrefix(rec, "GD4HS") {
			t.Fatalf("record id %q is not the entity key", rec)
		}
	}
	if _, stderr, err := cli(ctx, reconcileCmd, args...); err != nil {
		t.Fatalf("re-run: %v: %s", err, stderr)
	}
	if again := checkQueue(t, st, "vss-bhyt", results); !sameSeqs(first, again) {
		t.Fatal("re-run changed the queue")
	}
	recs := sortedKeys(first)
	if _, err := st.DecideReview(ctx, first[recs[1]].Seq, store.ReviewAccepted, "can-bo-12", "cùng người", time.Now()); err != nil {
		t.Fatal(err)
	}
	cursor := filepath.Join(t.TempDir(), "vss.cursor.json")
	exp := []string{"export", "--source", "vss-bhyt", "--config", cfg, "--cursor", cursor}
	out, _, err := cli(ctx, reviewCmd, exp...)
	got := parseNDJSON(t, strings.NewReader(out))
	if err != nil || len(got) != 1 || got[0]["record_id"] != recs[1] || got[0]["status"] != "accepted" || got[0]["personal_id"] != first[recs[1]].PersonalID || got[0]["decided_by"] != "can-bo-12" {
		t.Fatalf("export: %v %v", err, got)
	}
	if out, _, err := cli(ctx, reviewCmd, exp...); err != nil || out != "" {
		t.Fatalf("second export: %v %q", err, out)
	}
	// with the catalog's many_to_one, both rows of a person link to them
	many := filepath.Join(t.TempDir(), "many.ndjson")
	stdout, stderr, err = cli(ctx, reconcileCmd, "--dataset", dataset, "--config", cfg, "--out", many)
	var msum reconcilerun.Summary
	if err != nil || json.Unmarshal([]byte(stdout), &msum) != nil || msum.Outcomes["linked"] <= sum.Outcomes["linked"] || msum.Outcomes["review"] >= sum.Outcomes["review"] {
		t.Fatalf("many_to_one from the catalog: %v %s; one_to_one gave %v", err, stdout+stderr, sum.Outcomes)
	}
	if _, _, err := cli(ctx, reconcileCmd, "--dataset", dataset, "--config", cfg, "--out", many, "--cardinality", "1:n"); err == nil || !strings.Contains(err.Error(), "many_to_one") {
		t.Errorf("bad --cardinality: %v", err)
	}
	if _, _, err := cli(ctx, reconcileCmd, "--dataset", dataset, "--config", cfg, "--out", many, "--link-probability", "0.5", "--review-probability", "0.8"); err == nil || !strings.Contains(err.Error(), "review ≤ link") {
		t.Errorf("review above link: %v", err)
	}
	if _, _, err := cli(ctx, reconcileCmd, "--dataset", "insurance.health_card", "--config", cfg); err == nil || !strings.Contains(err.Error(), `unknown dataset "insurance.health_card"`) {
		t.Errorf("unknown dataset: %v", err)
	}
	if _, _, err := cli(ctx, reconcileCmd, "--dataset", "tax.taxpayer", "--config", cfg); err == nil || !strings.Contains(err.Error(), "tax.taxpayer has no rows in the store") {
		t.Errorf("empty dataset: %v", err)
	}
	// a mapping of the dataset's own: record_id from a field, not the key
	mapping := filepath.Join(t.TempDir(), "m.json")
	os.WriteFile(mapping, []byte(`{"record_id":"cccd","full_name":"full_name","dob":"dob"}`), 0o600)
	mres := filepath.Join(t.TempDir(), "m.ndjson")
	if _, stderr, err := cli(ctx, reconcileCmd, "--dataset", dataset, "--config", cfg, "--mapping", mapping, "--out", mres); err != nil {
		t.Fatalf("--mapping: %v %s", err, stderr)
	}
	if res := readNDJSON(t, mres); len(res) != len(state) || res[0]["record_id"] != people[0].ID {
		t.Fatalf("--mapping: %d results, first %v", len(res), res[0])
	}
}
