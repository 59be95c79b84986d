package connectors

import (
	"errors"
	"strings"
	"testing"
	"time"
)

type innerCfg struct {
	Table         string `yaml:"table" required:"true" doc:"a table"`
	ColumnMapping `yaml:",inline"`
}

type testCfg struct {
	URL      string            `yaml:"url" required:"true" doc:"where"`
	Count    int               `yaml:"count" doc:"how many"`
	Ratio    float64           `yaml:"ratio"`
	On       bool              `yaml:"on"`
	Wait     time.Duration     `yaml:"wait"`
	Names    []string          `yaml:"names"`
	Labels   map[string]string `yaml:"labels"`
	Tables   []innerCfg        `yaml:"tables"`
	Limit    uint16            `json:"limit"`
	Ptr      *int              `yaml:"ptr"`
	internal int
}

var _ = testCfg{}.internal // unexported on purpose: DocumentConfig must leave it out

func (c testCfg) Validate() error {
	if c.Count < 0 {
		return errors.New("count: want ≥ 0")
	}
	return nil
}

func TestDecodeInto(t *testing.T) {
	for _, c := range []struct {
		name    string
		raw     map[string]any
		wantErr []string
		check   func(t *testing.T, c *testCfg)
	}{
		{name: "defaults kept", raw: map[string]any{"url": "x"}, check: func(t *testing.T, c *testCfg) {
			if c.Count != 7 || c.Wait != time.Second {
				t.Errorf("defaults lost: %+v", c)
			}
		}},
		{name: "all kinds", raw: map[string]any{"url": "x", "count": 3, "ratio": 2, "on": true, "wait": "1m30s", "names": []any{"a", "b"},
			"labels": map[string]any{"k": "v"}, "limit": float64(9), "ptr": 4,
			"tables": []any{map[string]any{"table": "t", "dataset": "d.x", "columns": map[string]any{"ho_ten": "full_name"}, "values": map[string]any{"sex": map[string]any{"Nam": "M"}}}}},
			check: func(t *testing.T, c *testCfg) {
				if c.Count != 3 || c.Ratio != 2 || !c.On || c.Wait != 90*time.Second || len(c.Names) != 2 || c.Labels["k"] != "v" || c.Limit != 9 || *c.Ptr != 4 {
					t.Errorf("decoded %+v", c)
				}
				if tb := c.Tables[0]; tb.Table != "t" || tb.Dataset != "d.x" || tb.Columns["ho_ten"] != "full_name" || tb.Values["sex"]["Nam"] != "M" {
					t.Errorf("decoded table %+v", tb)
				}
			}},
		{name: "every problem at once", raw: map[string]any{"count": "many", "wait": "soon", "on": "yes", "limit": -1, "extra": 1,
			"tables": []any{map[string]any{"dataset": "x", "colour": 1}, "t"}},
			wantErr: []string{"url: required", "count: want an integer", "wait: want a duration", "on: want true or false", "limit: want an integer ≥ 0",
				"extra: unknown field", "tables[0].table: required", "tables[0].colour: unknown field", "tables[1]: want a mapping"}},
		{name: "validate runs", raw: map[string]any{"url": "x", "count": -1}, wantErr: []string{"count: want ≥ 0"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := &testCfg{Count: 7, Wait: time.Second}
			err := DecodeInto(c.raw, cfg)
			if len(c.wantErr) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				c.check(t, cfg)
				return
			}
			if !errors.Is(err, ErrConfig) {
				t.Fatalf("err = %v, want ErrConfig", err)
			}
			for _, w := range c.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}

func TestDecodeYAMLConfig(t *testing.T) {
	var c testCfg
	if err := DecodeYAMLConfig([]byte("url: postgres://h/db\nwait: 2s\ntables:\n  - table: giay_chung_nhan\n    dataset: land.land_use_right\n"), &c); err != nil {
		t.Fatal(err)
	}
	if c.Wait != 2*time.Second || c.Tables[0].Dataset != "land.land_use_right" {
		t.Errorf("decoded %+v", c)
	}
	if err := DecodeYAMLConfig([]byte("- a"), &c); !errors.Is(err, ErrConfig) {
		t.Errorf("a YAML list accepted: %v", err)
	}
}

func TestDocumentConfig(t *testing.T) {
	docs := DocumentConfig(&testCfg{Count: 7, Wait: time.Second, Names: []string{"a"}})
	got := map[string]FieldDoc{}
	for _, d := range docs {
		got[d.Path] = d
	}
	for path, want := range map[string]FieldDoc{
		"url":              {Path: "url", Type: "string", Required: true, Doc: "where"},
		"count":            {Path: "count", Type: "integer", Default: "7", Doc: "how many"},
		"wait":             {Path: "wait", Type: "duration", Default: "1s"},
		"names":            {Path: "names", Type: "list of string", Default: `["a"]`},
		"labels":           {Path: "labels", Type: "map of string"},
		"tables":           {Path: "tables", Type: "list of object"},
		"tables[].table":   {Path: "tables[].table", Type: "string", Required: true, Doc: "a table"},
		"tables[].dataset": {Path: "tables[].dataset", Type: "string", Required: true, Doc: got["tables[].dataset"].Doc},
		"tables[].values":  {Path: "tables[].values", Type: "map of map of any", Doc: got["tables[].values"].Doc},
		"limit":            {Path: "limit", Type: "integer"},
		"ptr":              {Path: "ptr", Type: "integer"},
	} {
		if got[path] != want {
			t.Errorf("%s: got %+v, want %+v", path, got[path], want)
		}
	}
	if _, ok := got["internal"]; ok {
		t.Error("unexported field documented")
	}
}

func TestColumnMapping(t *testing.T) {
	m := ColumnMapping{Dataset: "d.x", Columns: map[string]string{"ho_ten": "full_name", "gioi_tinh": "sex", "thieu": "missing"},
		Set: map[string]any{"province_code": "001"}, Values: map[string]map[string]any{"sex": {"Nam": "M", "2": "F"}}}
	got := m.Apply(map[string]any{"ho_ten": "Lê Thị Dung", "gioi_tinh": "Nam", "bo_qua": 1})
	if len(got) != 3 || got["full_name"] != "Lê Thị Dung" || got["sex"] != "M" || got["province_code"] != "001" {
		t.Errorf("Apply = %v", got)
	}
	if got := m.Apply(map[string]any{"gioi_tinh": int64(2)}); got["sex"] != "F" {
		t.Errorf("recode of a number = %v", got)
	}
	if got := (ColumnMapping{}).Apply(map[string]any{"a": 1}); got["a"] != 1 {
		t.Errorf("pass-through = %v", got)
	}
	if m.Apply(nil) != nil {
		t.Error("nil row mapped to a row")
	}
	// dataset: required is a tag rule (TestTagRules), not repeated in Check.
	errs := ColumnMapping{Columns: map[string]string{"a": "x", "b": "x", "c": ""}}.Check("t")
	if len(errs) != 2 || errs[0].Error() != "t.columns: a and b both map to field x" || errs[1].Error() != "t.columns.c: empty field name" {
		t.Errorf("Check = %v", errs)
	}
}

type ruleCfg struct {
	Mode   string            `yaml:"mode" default:"auto" enum:"auto,always,never"`
	Format string            `yaml:"format" enum:",csv,ndjson"`
	Batch  int               `yaml:"batch" default:"1000" min:"1" max:"100000"`
	Size   uint32            `yaml:"size" max:"10"`
	Ratio  float64           `yaml:"ratio" default:"1" min:"0.5"`
	Every  time.Duration     `yaml:"every" default:"1s" min:"10ms" max:"10m"`
	On     bool              `yaml:"on" default:"true"`
	Delim  string            `yaml:"delim" default:"\",\"" required:"true" pattern:"^[^\"\n]$" patternmsg:"one character other than quote and newline"`
	Name   string            `yaml:"name" pattern:"^[a-z_]+$"`
	Types  map[string]string `yaml:"types" enum:"integer,string"`
	Kinds  []string          `yaml:"kinds" enum:"a,b"`
	Tables []ruleTable       `yaml:"tables" required:"true"`
}

type ruleTable struct {
	Table string `yaml:"table" required:"true"`
	Limit int    `yaml:"limit" default:"5" min:"1"`
}

// Validate holds the cross-field rule; it must run along with the tag rules.
func (c ruleCfg) Validate() error {
	if c.Mode == "never" && c.On {
		return errors.New("on: must be false when mode is never")
	}
	return nil
}

// TestTagRules: defaults, required, ranges, enums and patterns come from
// the tags, are enforced by the decoder and by CheckConfig alike, and every
// problem is reported at once with its path.
func TestTagRules(t *testing.T) {
	d := Defaults[ruleCfg]()
	if d.Mode != "auto" || d.Batch != 1000 || d.Every != time.Second || !d.On || d.Delim != "," || d.Format != "" {
		t.Fatalf("Defaults = %+v", d)
	}
	for _, c := range []struct {
		name    string
		raw     map[string]any
		wantErr []string
		check   func(t *testing.T, c *ruleCfg)
	}{
		{name: "defaults fill what is absent, in list elements too", raw: map[string]any{"tables": []any{map[string]any{"table": "a"}, map[string]any{"table": "b", "limit": 2}}},
			check: func(t *testing.T, c *ruleCfg) {
				if c.Batch != 1000 || c.Tables[0].Limit != 5 || c.Tables[1].Limit != 2 {
					t.Errorf("decoded %+v", c)
				}
			}},
		{name: "bounds are inclusive", raw: map[string]any{"batch": 100000, "size": 10, "ratio": 0.5, "every": "10m", "format": "csv", "types": map[string]any{"x": "integer"},
			"kinds": []any{"a", "b"}, "name": "so_giay", "tables": []any{map[string]any{"table": "a", "limit": 1}}},
			check: func(t *testing.T, c *ruleCfg) {
				if c.Batch != 100000 || c.Every != 10*time.Minute || c.Format != "csv" {
					t.Errorf("decoded %+v", c)
				}
			}},
		{name: "every rule at once", raw: map[string]any{"mode": "sometimes", "format": "xml", "batch": 0, "size": 11, "ratio": 0.25, "every": "1ms", "delim": "ab",
			"name": "Giay", "types": map[string]any{"x": "date", "y": "string"}, "kinds": []any{"a", "c"}, "tables": []any{map[string]any{"limit": 0}}},
			wantErr: []string{`mode "sometimes": want auto, always or never`, `format "xml": want csv or ndjson (or empty)`, "batch 0: want 1 to 100000",
				"size 11: want at most 10", "ratio 0.25: want at least 0.5", "every 1ms: want 10ms to 10m0s", `delim "ab": want one character other than quote and newline`,
				`name "Giay": want a value matching ^[a-z_]+$`, `types.x "date": want integer or string`, `kinds[1] "c": want a or b`,
				"tables[0].table: required", "tables[0].limit 0: want at least 1"}},
		{name: "empty is not given", raw: map[string]any{"delim": "", "tables": []any{}}, wantErr: []string{"delim: required", "tables: required"}},
		{name: "a value of the wrong type is reported once", raw: map[string]any{"batch": "many", "tables": []any{map[string]any{"table": "a"}}},
			wantErr: []string{"batch: want an integer"}},
		{name: "cross-field rule runs with the tag rules", raw: map[string]any{"mode": "never", "batch": 0, "tables": []any{map[string]any{"table": "a"}}},
			wantErr: []string{"on: must be false when mode is never", "batch 0: want 1 to 100000"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := Defaults[ruleCfg]()
			err := DecodeInto(c.raw, &cfg)
			if len(c.wantErr) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				c.check(t, &cfg)
				if err := CheckConfig(cfg); err != nil {
					t.Errorf("CheckConfig of a decoded config: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrConfig) {
				t.Fatalf("err = %v, want ErrConfig", err)
			}
			for _, w := range c.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
			if n := len(strings.Split(err.Error(), "\n")); n != len(c.wantErr) {
				t.Errorf("%d problems reported, want %d:\n%v", n, len(c.wantErr), err)
			}
		})
	}
	// A config built in Go is held to the same rules.
	bad := Defaults[ruleCfg]()
	bad.Batch = -1
	if err := CheckConfig(&bad); err == nil || !strings.Contains(err.Error(), "batch -1: want 1 to 100000") || !strings.Contains(err.Error(), "tables: required") {
		t.Errorf("CheckConfig = %v", err)
	}
}

func TestRulesDocumented(t *testing.T) {
	got := map[string]FieldDoc{}
	for _, d := range DocumentConfig(Defaults[ruleCfg]()) {
		got[d.Path] = d
	}
	for path, want := range map[string]string{"mode": "auto, always or never", "format": "csv or ndjson (or empty)", "batch": "1 to 100000",
		"size": "at most 10", "ratio": "at least 0.5", "every": "10ms to 10m", "delim": "one character other than quote and newline", "name": "matches ^[a-z_]+$"} {
		if got[path].Rules != want {
			t.Errorf("%s: rules %q, want %q", path, got[path].Rules, want)
		}
	}
	if got["every"].Default != "1s" || got["batch"].Default != "1000" {
		t.Errorf("defaults: %+v %+v", got["every"], got["batch"])
	}
}

func TestHashConfig(t *testing.T) {
	a, b := Defaults[ruleCfg](), Defaults[ruleCfg]()
	if string(HashConfig(&a)) != string(HashConfig(&b)) || len(HashConfig(&a)) != 32 {
		t.Fatal("equal configs hash differently")
	}
	b.Types = map[string]string{"y": "string", "x": "integer"}
	a.Types = map[string]string{"x": "integer", "y": "string"}
	if string(HashConfig(&a)) != string(HashConfig(&b)) {
		t.Error("map order changes the hash")
	}
	b.Batch++
	if string(HashConfig(&a)) == string(HashConfig(&b)) {
		t.Error("a changed config hashes the same")
	}
}

// lgsp connector list: every registered adapter, one line each, sorted,
// names padded to a column.
func TestFormatAdapterList(t *testing.T) {
	for _, name := range []string{"zz-list-b", "zz-list-a"} {
		spec := Typed(name, "summary of "+name, nil, func(Env, testCfg) (Source, error) { return nil, errors.New("not built") })
		Register(spec)
	}
	list := FormatAdapterList()
	if !strings.HasSuffix(list, "zz-list-a        summary of zz-list-a\nzz-list-b        summary of zz-list-b\n") {
		t.Errorf("the two test adapters, sorted, are not the end of the list:\n%s", list)
	}
	if strings.Count(list, "\n") != len(Adapters()) {
		t.Errorf("%d lines for %d adapters:\n%s", strings.Count(list, "\n"), len(Adapters()), list)
	}
}
