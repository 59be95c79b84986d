package registry

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestCanonicalAvro(t *testing.T) {
	cases := []struct{ name, in, want string }{
		{"primitive in an object", `{"type":"string"}`, `"string"`},
		{"namespace folded into full names",
			`{"type":"record","name":"P","namespace":"vn.gov","fields":[{"name":"s","type":{"type":"enum","name":"Sex","symbols":["M","F"]}},{"name":"t","type":"Sex"}]}`,
			`{"fields":[{"name":"s","type":{"name":"vn.gov.Sex","symbols":["M","F"],"type":"enum"}},{"name":"t","type":"vn.gov.Sex"}],"name":"vn.gov.P","type":"record"}`},
		{"dotted name sets the namespace of what it holds",
			`{"type":"record","name":"a.b.R","fields":[{"name":"f","type":{"type":"fixed","name":"F","size":2}}]}`,
			`{"fields":[{"name":"f","type":{"name":"a.b.F","size":2,"type":"fixed"}}],"name":"a.b.R","type":"record"}`},
		{"inner namespace wins",
			`{"type":"record","name":"R","namespace":"x","fields":[{"name":"f","type":{"type":"enum","name":"E","namespace":"y","symbols":["A"]}},{"name":"g","type":"y.E"}]}`,
			`{"fields":[{"name":"f","type":{"name":"y.E","symbols":["A"],"type":"enum"}},{"name":"g","type":"y.E"}],"name":"x.R","type":"record"}`},
		{"aliases qualified, defaults docs and logical types kept",
			`{"type":"record","name":"R","namespace":"n","aliases":["Old"],"doc":"d","fields":[{"name":"d","type":{"type":"int","logicalType":"date"},"default":0,"doc":"ngày"},{"name":"u","type":["null",{"type":"string"}],"default":null}]}`,
			`{"aliases":["n.Old"],"doc":"d","fields":[{"default":0,"doc":"ngày","name":"d","type":{"logicalType":"date","type":"int"}},{"default":null,"name":"u","type":["null","string"]}],"name":"n.R","type":"record"}`},
		{"arrays and maps",
			`{"type":"record","name":"R","namespace":"n","fields":[{"name":"a","type":{"type":"array","items":{"type":"long"}}},{"name":"m","type":{"type":"map","values":"R"}}]}`,
			`{"fields":[{"name":"a","type":{"items":"long","type":"array"}},{"name":"m","type":{"type":"map","values":"n.R"}}],"name":"n.R","type":"record"}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := prepare(TypeAvro, tc.in)
			if err != nil {
				t.Fatal(err)
			}
			got := canonical(p, nil)
			if got.text != tc.want {
				t.Fatalf("canonical\n%s\nwant\n%s", got.text, tc.want)
			}
			// Canonical is a fixed point, and parses to the same schema.
			again, err := prepare(TypeAvro, got.text)
			if err != nil {
				t.Fatal(err)
			}
			if c := canonical(again, nil); c.text != got.text {
				t.Fatalf("canonical of canonical differs:\n%s", c.text)
			}
		})
	}
	// Texts the rewrite could change the meaning of stay as written.
	for _, in := range []string{
		// "namespace": "" is the null namespace to the spec, "inherit"
		// to hamba/avro.
		`{"type":"record","name":"A","namespace":"n","fields":[{"name":"x","type":{"type":"record","name":"B","namespace":"","fields":[]}},{"name":"y","type":"B"}]}`,
	} {
		p, err := prepare(TypeAvro, in)
		if err != nil {
			t.Fatal(err)
		}
		if c := canonical(p, nil); c.text != p.text {
			t.Errorf("canonical rewrote an ambiguous text:\n%s\nto\n%s", p.text, c.text)
		}
	}
	// JSON Schema texts are already canonical once normalised.
	p, err := prepare(TypeJSON, `{ "type": "object", "required": ["a"], "properties": {"a": {"type": "string"}} }`)
	if err != nil {
		t.Fatal(err)
	}
	if c := canonical(p, nil); c.text != p.text {
		t.Fatalf("JSON canonical %s, want %s", c.text, p.text)
	}
}

// TestNormalizeOverHTTP: ?normalize=true stores the canonical text, finds
// an equivalent text on lookup and register, and changes nothing for the
// compatibility check; without it texts are compared as normalised only.
func TestNormalizeOverHTTP(t *testing.T) {
	srv := httptest.NewServer(New(newMemStore()).Handler())
	defer srv.Close()
	written := `{"type":"record","name":"P","namespace":"vn.gov","fields":[{"name":"n","type":{"type":"string"}}]}`
	other := `{"namespace":"vn.gov","name":"P","type":"record","fields":[{"type":"string","name":"n"}]}`
	canon := `{"fields":[{"name":"n","type":"string"}],"name":"vn.gov.P","type":"record"}`
	steps := []struct{ method, path, body, want string }{
		{"POST", "/subjects/p-value/versions?normalize=true", reqBody("", written), `{"id":1}`},
		{"GET", "/subjects/p-value/versions/1/schema", "", canon},
		{"POST", "/subjects/p-value?normalize=true", reqBody("", other), `{"subject":"p-value","version":1,"id":1,"schema":` + jsonOf(canon) + `}`},
		{"POST", "/subjects/p-value", reqBody("", other), `{"error_code":40403,"message":"Schema not found"}`},
		{"POST", "/subjects/p-value/versions?normalize=true", reqBody("", other), `{"id":1}`},
		{"POST", "/compatibility/subjects/p-value/versions/latest?normalize=true&verbose=true", reqBody("", other), `{"is_compatible":true,"messages":[]}`},
		// Without normalize, the written text is another schema.
		{"POST", "/subjects/p-value/versions", reqBody("", written), `{"id":2}`},
		{"GET", "/subjects/p-value/versions?deletedOnly=true", "", `[]`},
		{"DELETE", "/subjects/p-value/versions/2", "", `2`},
		{"GET", "/subjects/p-value/versions?deletedOnly=true", "", `[2]`},
		{"GET", "/subjects/p-value/versions", "", `[1]`},
		// With deleted, the newest match is the soft-deleted version 2.
		{"POST", "/subjects/p-value?normalize=true&deleted=true", reqBody("", written),
			`{"subject":"p-value","version":2,"id":2,"schema":` + jsonOf(norm(t, written)) + `}`},
		{"POST", "/subjects/p-value?normalize=true", reqBody("", written),
			`{"subject":"p-value","version":1,"id":1,"schema":` + jsonOf(canon) + `}`},
	}
	for _, st := range steps {
		got := do(t, srv.URL, st.method, st.path, ContentType, st.body)
		if got.body != st.want && !sameJSON(got.body, st.want) {
			t.Fatalf("%s %s: %d %s\nwant %s", st.method, st.path, got.status, got.body, st.want)
		}
	}
}

func TestDataContractFields(t *testing.T) {
	cases := []struct {
		name, metadata, ruleSet string
		wantMetadata            string
		wantCode                int
	}{
		{"absent", "", "", "", 0},
		{"null", "null", "null", "", 0},
		{"empty object is none", "{}", "{}", "", 0},
		{"kept with keys sorted, unknown fields too", `{ "sensitive": ["cccd"], "properties": {"owner": "Bộ Tư pháp"}, "x-note": 1 }`, "",
			`{"properties":{"owner":"Bộ Tư pháp"},"sensitive":["cccd"],"x-note":1}`, 0},
		{"metadata a list", `["a"]`, "", "", 42201},
		{"metadata property not a string", `{"properties":{"n":1}}`, "", "", 42201},
		{"ruleSet a string", "", `"rules"`, "", 42210},
		{"duplicate rule names", "", `{"domainRules":[{"name":"r","kind":"CONDITION","mode":"WRITE","type":"CEL"},{"name":"r","kind":"TRANSFORM","mode":"READ","type":"CEL_FIELD"}]}`, "", 42210},
		{"migration mode in domain rules", "", `{"domainRules":[{"name":"r","kind":"CONDITION","mode":"UPGRADE","type":"CEL"}]}`, "", 42210},
		{"domain mode in migration rules", "", `{"migrationRules":[{"name":"r","kind":"TRANSFORM","mode":"WRITE","type":"JSONATA"}]}`, "", 42210},
		{"rule without a type", "", `{"domainRules":[{"name":"r","kind":"CONDITION","mode":"WRITE"}]}`, "", 42210},
		{"valid rules", "", `{"migrationRules":[{"name":"up","kind":"TRANSFORM","mode":"UPGRADE","type":"JSONATA","expr":"$"}],"domainRules":[{"name":"c","kind":"CONDITION","mode":"WRITEREAD","type":"CEL","expr":"true","onFailure":"DLQ"}]}`, "", 0},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := New(newMemStore())
			subject := "s" + strings.Repeat("x", i)
			_, _, err := r.RegisterSchema(context.Background(), subject, RegisterRequest{Schema: `"string"`, Metadata: tc.metadata, RuleSet: tc.ruleSet})
			if tc.wantCode != 0 {
				var re *Error
				if !errors.As(err, &re) || re.Code != tc.wantCode || re.Err == nil {
					t.Fatalf("err = %v, want code %d with the reason", err, tc.wantCode)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			s, err := r.Latest(context.Background(), subject)
			if err != nil || s.Metadata != tc.wantMetadata {
				t.Fatalf("metadata %q, %v; want %q", s.Metadata, err, tc.wantMetadata)
			}
			if tc.ruleSet != "" && tc.ruleSet != "null" && tc.ruleSet != "{}" && !sameJSON(s.RuleSet, tc.ruleSet) {
				t.Fatalf("ruleSet %s, want %s", s.RuleSet, tc.ruleSet)
			}
		})
	}
}
