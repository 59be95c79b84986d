package kafkaauth_test

import (
	"bytes"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/lgsp-bus/lgsp/broker/kafkaauth"
	"github.com/lgsp-bus/lgsp/policies"
	"github.com/lgsp-bus/lgsp/schemas"
	"github.com/segmentio/kafka-go"
)

const registry = `
agencies:
  - {id: vss, name: VSS, kind: ministry-level, contact: {name: a, email: a@vss.gov.vn}, state: active}
  - {id: gdt, name: GDT, kind: ministry-level, contact: {name: b, email: b@gdt.gov.vn}, state: suspended}
  - {id: bank-vcb, name: VCB, kind: external, contact: {name: c, email: c@vcb.vn}, state: active}
  - {id: land-x, name: Land X, kind: provincial, contact: {name: d, email: d@x.vn}, state: active}
`

func agencies(t *testing.T, yaml string) *policies.Agencies {
	t.Helper()
	a, err := policies.ParseAgencies("test.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func stream(consumer string) policies.Agreement {
	return streamOf(consumer, "civil_status.birth_registration")
}

func streamOf(consumer, dataset string) policies.Agreement {
	return policies.Agreement{Consumer: consumer, Dataset: dataset, Mode: policies.ModeStream}
}

func users(ps []kafkaauth.Principal) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Kind+":"+p.User)
	}
	return out
}

func TestPrincipals(t *testing.T) {
	reg := agencies(t, registry)
	tests := []struct {
		name    string
		in      kafkaauth.Inputs
		want    []string
		wantErr string
	}{
		{"active agency with a stream agreement is a consumer",
			kafkaauth.Inputs{Agencies: reg, Agreements: []policies.Agreement{stream("vss"), stream("vss")}}, []string{"consumer:vss"}, ""},
		{"suspended agency gets no user",
			kafkaauth.Inputs{Agencies: reg, Agreements: []policies.Agreement{stream("gdt")}}, nil, ""},
		{"lookup and verify agreements give no Kafka user",
			kafkaauth.Inputs{Agencies: reg, Agreements: []policies.Agreement{{Consumer: "bank-vcb", Mode: policies.ModeVerify}, {Consumer: "vss", Mode: policies.ModeLookup}}}, nil, ""},
		{"unregistered consumer gets no user",
			kafkaauth.Inputs{Agencies: reg, Agreements: []policies.Agreement{stream("nobody")}}, nil, ""},
		{"sources, deduplicated, sorted with consumers",
			kafkaauth.Inputs{Agencies: reg, Agreements: []policies.Agreement{stream("vss")}, Sources: []string{"tax", "land", "tax"}}, []string{"source:land", "source:tax", "consumer:vss"}, ""},
		{"source named like an agency is refused",
			kafkaauth.Inputs{Agencies: reg, Sources: []string{"land-x"}}, nil, "rename one of them"},
		{"malformed source is refused",
			kafkaauth.Inputs{Agencies: reg, Sources: []string{"Land Registry"}}, nil, "schemas/catalog.yaml"},
		{"registry is required", kafkaauth.Inputs{}, nil, "registry is required"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ps, err := kafkaauth.Principals(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("want error containing %q, got %v", tc.wantErr, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := users(ps); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestACLs(t *testing.T) {
	acls := func(as []kafkaauth.ACL) []string {
		var out []string
		for _, a := range as {
			out = append(out, a.String())
		}
		return out
	}
	tests := []struct {
		name string
		got  []kafkaauth.ACL
		want []string
	}{
		{"consumer reads only the delivery topics of its agreements, and its groups", kafkaauth.ConsumerACLs("vss", []string{"deliver.vss.a.b", "deliver.vss.c.d"}), []string{
			"Read Topic deliver.vss.a.b", "Describe Topic deliver.vss.a.b", "Read Topic deliver.vss.c.d", "Describe Topic deliver.vss.c.d",
			"Read Group vss.*", "Describe Group vss.*",
		}},
		{"source writes nothing, reads its dlq and feedback", kafkaauth.SourceACLs("land"), []string{
			"Read Topic dlq.land", "Describe Topic dlq.land",
			"Read Topic feedback.land", "Describe Topic feedback.land",
			"Read Group land.*", "Describe Group land.*",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := acls(tc.got); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %v\nwant %v", got, tc.want)
			}
		})
	}
	e := kafkaauth.ConsumerACLs("vss", []string{"deliver.vss.a.b"})[0].Entry("vss")
	if e.Principal != "User:vss" || e.Host != "*" || e.ResourcePatternType != kafka.PatternTypeLiteral {
		t.Fatalf("entry %+v", e)
	}
}

func TestSourcesFromCatalog(t *testing.T) {
	got := kafkaauth.Sources(schemas.MustLoad().Datasets())
	if !slices.IsSorted(got) || len(slices.Compact(slices.Clone(got))) != len(got) {
		t.Fatalf("sources not sorted and distinct: %v", got)
	}
	for _, want := range []string{"civil_servant", "civil_status", "insurance", "land", "tax"} {
		if !slices.Contains(got, want) {
			t.Fatalf("source %q missing from %v", want, got)
		}
	}
}

func TestStoreFileIsPrivateAndReused(t *testing.T) {
	dir := t.TempDir()
	s, err := kafkaauth.OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, kafkaauth.FileName))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %04o, want 0600", fi.Mode().Perm())
	}
	bus := s.Bus()
	if bus.User != kafkaauth.DefaultBusUser || len(bus.Password) < 20 {
		t.Fatalf("bus credential %q / %d chars", bus.User, len(bus.Password))
	}
	issued, err := s.Issue("vss", "land")
	if err != nil {
		t.Fatal(err)
	}
	if len(issued) != 2 || issued["vss"] == issued["land"] {
		t.Fatalf("issued %v", issued)
	}
	again, err := s.Issue("vss")
	if err != nil || len(again) != 0 {
		t.Fatalf("issuing to a user that holds a credential: %v %v", again, err)
	}
	raw, _ := os.ReadFile(s.Path())
	if bytes.Contains(raw, []byte(issued["vss"])) {
		t.Fatal("the agency's clear password is in the credentials file")
	}
	sec, _ := s.Secret("vss")
	sp, err := kafkaauth.SaltedPassword(issued["vss"], sec.Salt, sec.Iterations)
	if err != nil || !bytes.Equal(sp, sec.SaltedPassword) {
		t.Fatal("the stored SCRAM credential does not match the issued password")
	}

	s2, err := kafkaauth.OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	if s2.Bus() != bus {
		t.Fatal("reopening changed the bus credential")
	}
	sec2, _ := s2.Secret("vss")
	if !bytes.Equal(sec2.SaltedPassword, sec.SaltedPassword) {
		t.Fatal("reopening changed vss's credential")
	}

	rotated, err := s2.Rotate("vss")
	if err != nil || rotated == issued["vss"] {
		t.Fatalf("rotate: %q %v", rotated, err)
	}
	if _, err := s2.Rotate(kafkaauth.DefaultBusUser); err == nil {
		t.Fatal("rotating the bus user as an agency must fail")
	}
	if _, err := s2.Issue(kafkaauth.DefaultBusUser); err == nil {
		t.Fatal("issuing the bus user to an agency must fail")
	}
}

func TestStoreRefusesBadFiles(t *testing.T) {
	tests := []struct {
		name    string
		content string
		mode    os.FileMode
		want    string
	}{
		{"readable by others", `{}`, 0o644, "chmod 600"},
		{"not JSON", `{`, 0o600, "not a valid credentials file"},
		{"no bus credential", `{"version":1,"mechanism":"SCRAM-SHA-512"}`, 0o600, "no bus credential"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			p := filepath.Join(dir, kafkaauth.FileName)
			if err := os.WriteFile(p, []byte(tc.content), tc.mode); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(p, tc.mode); err != nil {
				t.Fatal(err)
			}
			_, err := kafkaauth.OpenStore(dir)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want error containing %q, got %v", tc.want, err)
			}
		})
	}
}

func TestConfig(t *testing.T) {
	dir := t.TempDir()
	s, err := kafkaauth.OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	active := agencies(t, strings.Replace(registry, "state: suspended", "state: active", 1))
	in := kafkaauth.Inputs{Agencies: active, Agreements: []policies.Agreement{stream("vss"), stream("gdt")}, Sources: []string{"land"}}
	cfg, issued, err := s.Config(in)
	if err != nil {
		t.Fatal(err)
	}
	if got := slices.Sorted(maps.Keys(issued)); !reflect.DeepEqual(got, []string{"gdt", "land", "vss"}) {
		t.Fatalf("issued to %v", got)
	}
	if cfg.Superuser != s.Bus() || len(cfg.Users) != 3 || len(cfg.Remove) != 0 {
		t.Fatalf("config %+v", cfg)
	}

	// gdt suspended: its user must go; nothing new is issued.
	in.Agencies = agencies(t, registry)
	cfg, issued, err = s.Config(in)
	if err != nil {
		t.Fatal(err)
	}
	if len(issued) != 0 || !reflect.DeepEqual(cfg.Remove, []string{"gdt"}) || len(cfg.Users) != 2 {
		t.Fatalf("after suspension: issued %v, remove %v, users %d", issued, cfg.Remove, len(cfg.Users))
	}

	// vss revoked: removed from the cluster, not silently re-issued.
	if err := s.Revoke("vss"); err != nil {
		t.Fatal(err)
	}
	cfg, issued, err = s.Config(in)
	if err != nil {
		t.Fatal(err)
	}
	if len(issued) != 0 || !reflect.DeepEqual(cfg.Remove, []string{"gdt", "vss"}) {
		t.Fatalf("after revocation: issued %v, remove %v", issued, cfg.Remove)
	}
	if err := s.Revoke("nobody"); err == nil {
		t.Fatal("revoking an unknown user must fail")
	}
	// Issue again: back with a new password.
	if again, err := s.Issue("vss"); err != nil || again["vss"] == "" {
		t.Fatalf("re-issue after revocation: %v %v", again, err)
	}
	cfg, _, _ = s.Config(in)
	if slices.Contains(cfg.Remove, "vss") {
		t.Fatal("re-issued vss is still removed")
	}
}
