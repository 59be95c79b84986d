package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lgsp-bus/lgsp/broker/config"
	"github.com/lgsp-bus/lgsp/broker/runtime"
	"github.com/lgsp-bus/lgsp/broker/store"
)

// A ministry reconciles its person file, with its own column names and
// date format, against the register of a dev bus.
func TestReconcileCommand(t *testing.T) {
	dir := t.TempDir()
	c := config.Defaults()
	c.DataDir, c.API.Addr, c.Registry.Addr, c.Kafka.EmbeddedPort = dir, "127.0.0.1:0", "127.0.0.1:0", 0
	c.Synthetic = config.Synthetic{Population: 3000, Seed: 5}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	bus, err := runtime.Start(ctx, runtime.Options{Mode: runtime.Dev, Config: c})
	if err != nil {
		t.Fatal(err)
	}
	var people []store.Citizen
	_ = bus.Store.ScanCitizens(ctx, func(c store.Citizen) error {
		if !c.Deceased && len(people) < 200 {
			people = append(people, c)
		}
		return nil
	})
	bus.Close(context.Background())

	var sb strings.Builder
	sb.WriteString("ma_ho_so,so_dinh_danh,ho_ten,ngay_sinh,gioi_tinh\n")
	for i, p := range people {
		id, name := p.ID, p.FullName
		switch {
		case i%4 == 1: // no usable number: linked by name, date and sex
			id = ""
		case i%4 == 2: // misspelled name: a strict mismatch
			name += "h"
		}
		dob, _ := time.Parse("2006-01-02", p.DOB)
		fmt.Fprintf(&sb, "HS%04d,%s,%s,%s,%s\n", i, id, name, dob.Format("02/01/2006"), map[string]string{"M": "Nam", "F": "Nữ"}[p.Sex])
	}
	input := filepath.Join(dir, "nguoi_nop_thue.csv")
	mapping := filepath.Join(dir, "mapping.json")
	os.WriteFile(input, []byte(sb.String()), 0o644)
	os.WriteFile(mapping, []byte(`{"record_id":"ma_ho_so","personal_id":"so_dinh_danh","full_name":"ho_ten","dob":"ngay_sinh","dob_layouts":["02/01/2006"],"sex":"gioi_tinh"}`), 0o644)

	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"reconcile", "--input", input, "--mapping", mapping, "--data-dir", dir}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	var sum struct {
		Records  int            `json:"records"`
		Outcomes map[string]int `json:"outcomes"`
	}
	if err := json.Unmarshal(out.Bytes(), &sum); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	if sum.Records != len(people) || sum.Outcomes["verified"] < len(people)/2 || sum.Outcomes["linked"] == 0 {
		t.Fatalf("summary %+v", sum)
	}
	f, err := os.Open(input + ".results.ndjson")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	lines := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var r map[string]any
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil || r["outcome"] == nil {
			t.Fatalf("result line %q: %v", sc.Text(), err)
		}
		lines++
	}
	if lines != len(people) {
		t.Fatalf("%d result lines for %d records", lines, len(people))
	}
	if code := run(context.Background(), []string{"reconcile", "--input", input, "--format", "xml"}, &out, &errb); code != 1 {
		t.Fatal("bad format accepted")
	}
}
