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
	errs := ColumnMapping{Columns: map[string]string{"a": "x", "b": "x", "c": ""}}.Check("t")
	if len(errs) != 3 {
		t.Errorf("Check = %v", errs)
	}
}
