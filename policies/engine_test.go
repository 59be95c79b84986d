package policies

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// fixture is a small set written for the decision tests, independent of the
// shipped agreements so that editing those does not move these tests.
var fixture = map[string]string{
	"tax-lookup.yaml": `
id: tax-lookup
dataset: tax.taxpayer
consumer: thads-hcm
title: Lookup with a case reference
legal_basis: Law on Enforcement of Civil Judgments, Article 44
purposes: [judgment_enforcement]
mode: lookup
fields: [tax_code, full_name, dob, status]
mask: {dob: year_only}
case_reference_required: true
valid_from: 2025-01-01
valid_until: 2025-12-31
`,
	"tax-lookup-old.yaml": `
id: tax-lookup-old
dataset: tax.taxpayer
consumer: gdt-old
title: An agreement that has ended
legal_basis: Law on Tax Administration No. 38/2019/QH14
purposes: [tax_administration]
mode: lookup
fields: [tax_code]
valid_from: 2020-01-01
valid_until: 2024-12-31
`,
	"tax-lookup-future.yaml": `
id: tax-lookup-future
dataset: tax.taxpayer
consumer: gdt-old
title: Its successor, not yet in force
legal_basis: Law on Tax Administration No. 38/2019/QH14
purposes: [tax_administration]
mode: lookup
fields: [tax_code, status]
valid_from: 2026-01-01
valid_until: 2027-12-31
`,
	"ins-verify.yaml": `
id: ins-verify
dataset: insurance.health_insurance_card
consumer: bank-x
title: Card verification
legal_basis: Decree 13/2023/ND-CP, Article 11
purposes: [identity_verification]
mode: verify
fields: [card_no, cccd, full_name]
valid_from: 2025-01-01
valid_until: 2025-12-31
`,
	"land-stream.yaml": `
id: land-stream
dataset: land.land_use_right
consumer: hcm-land
title: Stream filtered to one province
legal_basis: Land Law No. 31/2024/QH15
purposes: [land_administration]
mode: stream
fields: [certificate_no, province_code, holder_cccd, holder_name, holder_dob]
mask: {holder_cccd: last4, holder_name: initials, holder_dob: year_only}
filter: [{field: province_code, equals: "079"}]
valid_from: 2025-01-01
valid_until: 2025-12-31
`,
}

func TestDecideReasons(t *testing.T) {
	e := NewEngine(loadYAML(t, fixture))
	now := day("2025-06-01")
	lookup := Request{Consumer: "thads-hcm", Dataset: "tax.taxpayer", Mode: ModeLookup,
		Purpose: "judgment_enforcement", CaseReference: "THA-2025-0012", Now: now}
	with := func(f func(*Request)) Request { r := lookup; f(&r); return r }

	tests := []struct {
		name      string
		req       Request
		reason    string
		agreement string
		fields    []string
	}{
		{"allowed, all fields", lookup, ReasonAllowed, "tax-lookup", []string{"dob", "full_name", "status", "tax_code"}},
		{"allowed, some fields", with(func(r *Request) { r.Fields = []string{"tax_code", "status"} }), ReasonAllowed, "tax-lookup", []string{"status", "tax_code"}},
		{"allowed, verify", Request{Consumer: "bank-x", Dataset: "insurance.health_insurance_card", Mode: ModeVerify,
			Purpose: "identity_verification", Fields: []string{"cccd", "full_name"}, Now: now}, ReasonAllowed, "ins-verify", []string{"cccd", "full_name"}},
		{"first day in force", with(func(r *Request) { r.Now = time.Date(2025, 1, 1, 0, 0, 0, 0, vietnam) }), ReasonAllowed, "tax-lookup", nil},
		{"last instant in force", with(func(r *Request) { r.Now = time.Date(2025, 12, 31, 23, 59, 59, 0, vietnam) }), ReasonAllowed, "tax-lookup", nil},
		{"in force by Vietnam time, not UTC", with(func(r *Request) { r.Now = time.Date(2024, 12, 31, 17, 0, 0, 0, time.UTC) }), ReasonAllowed, "tax-lookup", nil},
		{"missing time", with(func(r *Request) { r.Now = time.Time{} }), ReasonMissingTime, "", nil},
		{"missing purpose", with(func(r *Request) { r.Purpose = "" }), ReasonMissingPurpose, "", nil},
		{"blank purpose", with(func(r *Request) { r.Purpose = "  " }), ReasonMissingPurpose, "", nil},
		{"unknown consumer", with(func(r *Request) { r.Consumer = "nobody" }), ReasonNoAgreement, "", nil},
		{"other dataset", with(func(r *Request) { r.Dataset = "land.land_use_right" }), ReasonNoAgreement, "", nil},
		{"verify under a lookup agreement", with(func(r *Request) { r.Mode = ModeVerify }), ReasonModeNotAllowed, "tax-lookup", nil},
		{"stream is never requested", Request{Consumer: "hcm-land", Dataset: "land.land_use_right", Mode: ModeStream, Purpose: "land_administration", Now: now}, ReasonModeNotAllowed, "land-stream", nil},
		{"lookup under a stream agreement", Request{Consumer: "hcm-land", Dataset: "land.land_use_right", Mode: ModeLookup, Purpose: "land_administration", Now: now}, ReasonModeNotAllowed, "land-stream", nil},
		{"unknown mode", with(func(r *Request) { r.Mode = "" }), ReasonModeNotAllowed, "tax-lookup", nil},
		{"purpose not allowed", with(func(r *Request) { r.Purpose = "tax_administration" }), ReasonPurposeNotAllowed, "tax-lookup", nil},
		{"expired", with(func(r *Request) { r.Now = time.Date(2026, 1, 1, 0, 0, 0, 0, vietnam) }), ReasonExpired, "tax-lookup", nil},
		{"not yet valid", with(func(r *Request) { r.Now = time.Date(2024, 12, 31, 23, 59, 59, 0, vietnam) }), ReasonNotYetValid, "tax-lookup", nil},
		{"between two agreements: the coming one is named", Request{Consumer: "gdt-old", Dataset: "tax.taxpayer", Mode: ModeLookup, Purpose: "tax_administration", Now: day("2025-06-01")}, ReasonNotYetValid, "tax-lookup-future", nil},
		{"after both agreements", Request{Consumer: "gdt-old", Dataset: "tax.taxpayer", Mode: ModeLookup, Purpose: "tax_administration", Now: day("2028-01-01")}, ReasonExpired, "tax-lookup-future", nil},
		{"the old one still answers in its time", Request{Consumer: "gdt-old", Dataset: "tax.taxpayer", Mode: ModeLookup, Purpose: "tax_administration", Now: day("2024-06-01")}, ReasonAllowed, "tax-lookup-old", []string{"tax_code"}},
		{"field not allowed", with(func(r *Request) { r.Fields = []string{"tax_code", "cccd", "address"} }), ReasonFieldNotAllowed + "cccd", "tax-lookup", nil},
		{"field not in the dataset", with(func(r *Request) { r.Fields = []string{"salary"} }), ReasonFieldNotAllowed + "salary", "tax-lookup", nil},
		{"case reference required", with(func(r *Request) { r.CaseReference = "" }), ReasonCaseReferenceRequired, "tax-lookup", nil},
		{"blank case reference", with(func(r *Request) { r.CaseReference = " \t" }), ReasonCaseReferenceRequired, "tax-lookup", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := e.Decide(tt.req)
			if d.Reason != tt.reason || d.AgreementID != tt.agreement {
				t.Fatalf("Decide = %s (agreement %q), want %s (agreement %q)", d.Reason, d.AgreementID, tt.reason, tt.agreement)
			}
			if d.Allow != (tt.reason == ReasonAllowed) {
				t.Fatalf("Allow = %v with reason %s", d.Allow, d.Reason)
			}
			if d.Allow && d.LegalBasis == "" {
				t.Error("an allow must carry the legal basis")
			}
			if !d.Allow && (d.LegalBasis != "" || len(d.Fields) > 0) {
				t.Errorf("a denial released something: %+v", d)
			}
			if tt.fields != nil && !slices.Equal(d.Fields, tt.fields) {
				t.Errorf("Fields = %v, want %v", d.Fields, tt.fields)
			}
		})
	}
}

func TestDecisionProject(t *testing.T) {
	e := NewEngine(loadYAML(t, fixture))
	row := map[string]any{"tax_code": "8012345678", "cccd": "079203001234", "full_name": "Trần Văn Bình",
		"dob": "1988-03-14", "sex": "M", "status": "ACTIVE"}
	d := e.Decide(Request{Consumer: "thads-hcm", Dataset: "tax.taxpayer", Mode: ModeLookup, Purpose: "judgment_enforcement",
		CaseReference: "THA-1", Fields: []string{"tax_code", "dob"}, Now: day("2025-06-01")})
	out, released, ok := d.Project(row)
	want := map[string]any{"tax_code": "8012345678", "dob": "1988"}
	if !ok || !reflect.DeepEqual(out, want) || !slices.Equal(released, []string{"dob", "tax_code"}) {
		t.Fatalf("Project = %v %v %v, want %v", out, released, ok, want)
	}
	if d.Masks["dob"] != MaskYearOnly || len(d.Masks) != 1 {
		t.Errorf("Masks = %v", d.Masks)
	}

	denied := e.Decide(Request{Consumer: "nobody", Dataset: "tax.taxpayer", Mode: ModeLookup, Purpose: "x", Now: day("2025-06-01")})
	if out, _, ok := denied.Project(row); ok || out != nil {
		t.Fatalf("a denial projected %v", out)
	}
	if out, _, ok := (Decision{Allow: true, Fields: []string{"cccd"}}).Project(row); ok || out != nil {
		t.Fatalf("a hand-made decision projected %v", out)
	}
}

func TestStreamTargetsAndProject(t *testing.T) {
	e := NewEngine(loadYAML(t, fixture))
	if g := e.StreamTargets("land.land_use_right", day("2026-06-01")); len(g) != 0 {
		t.Fatalf("expired agreement still streams: %+v", g)
	}
	if g := e.StreamTargets("tax.taxpayer", day("2025-06-01")); len(g) != 0 {
		t.Fatalf("lookup agreement streams: %+v", g)
	}
	grants := e.StreamTargets("land.land_use_right", day("2025-06-01"))
	if len(grants) != 1 || grants[0].AgreementID != "land-stream" || grants[0].Consumer != "hcm-land" {
		t.Fatalf("StreamTargets = %+v", grants)
	}
	g := grants[0]
	row := map[string]any{"certificate_no": "CS012345", "parcel_id": "12/34", "province_code": "079",
		"holder_cccd": "079188001234", "holder_name": "Nguyễn Thị Lan", "holder_dob": "1988-03-14",
		"nested": map[string]any{"x": 1}}
	before := fmt.Sprint(row)

	out, released, ok := g.Project(row)
	want := map[string]any{"certificate_no": "CS012345", "province_code": "079",
		"holder_cccd": "********1234", "holder_name": "N. T. L.", "holder_dob": "1988"}
	if !ok || !reflect.DeepEqual(out, want) {
		t.Fatalf("Project = %v, %v; want %v", out, ok, want)
	}
	if !slices.Equal(released, []string{"certificate_no", "holder_cccd", "holder_dob", "holder_name", "province_code"}) {
		t.Errorf("released = %v", released)
	}
	if fmt.Sprint(row) != before {
		t.Error("Project modified its input")
	}

	// The filter: another province's row is not for this consumer, and a row
	// that does not say its province is not either.
	row["province_code"] = "001"
	if out, _, ok := g.Project(row); ok || out != nil {
		t.Errorf("row of province 001 projected: %v", out)
	}
	delete(row, "province_code")
	if _, _, ok := g.Project(row); ok {
		t.Error("row without province_code projected")
	}

	// Widening the exported description does not widen what is released.
	row["province_code"] = "079"
	g.Fields = append(g.Fields, "parcel_id")
	g.Masks = nil
	out, _, _ = g.Project(row)
	if _, leaked := out["parcel_id"]; leaked || out["holder_cccd"] != "********1234" {
		t.Errorf("changing Grant fields changed the projection: %v", out)
	}
	if out, _, ok := (Grant{AgreementID: "land-stream", Fields: []string{"holder_cccd"}}).Project(row); ok || out != nil {
		t.Errorf("a hand-made grant projected %v", out)
	}
}

func TestMasks(t *testing.T) {
	tests := []struct {
		kind MaskKind
		in   any
		want any
	}{
		{MaskLast4, "079203001234", "********1234"},
		{MaskLast4, "123456789", "*****6789"},
		{MaskLast4, "12345", "*2345"},
		{MaskLast4, "1234", "****"},
		{MaskLast4, "", ""},
		{MaskLast4, int64(79203001234), "*******1234"},
		{MaskLast4, "Đặng Hữu", "**** Hữu"},
		{MaskLast4, true, nil},
		{MaskLast4, nil, nil},
		{MaskYearOnly, "2019-05-17", "2019"},
		{MaskYearOnly, "2019-05-17T08:00:00+07:00", "2019"},
		{MaskYearOnly, time.Date(2019, 5, 17, 0, 0, 0, 0, time.UTC), "2019"},
		{MaskYearOnly, "2019", nil},
		{MaskYearOnly, "17/05/2019", nil},
		{MaskYearOnly, 20190517, nil},
		{MaskInitials, "Nguyễn Thị Lan", "N. T. L."},
		{MaskInitials, "  Đặng   văn  An ", "Đ. v. A."},
		{MaskInitials, "", ""},
		{MaskInitials, 42, nil},
		{"unknown", "secret", nil},
	}
	for _, tt := range tests {
		if got := applyMask(tt.kind, tt.in); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("applyMask(%s, %#v) = %#v, want %#v", tt.kind, tt.in, got, tt.want)
		}
	}
}

func TestFilterValueTypes(t *testing.T) {
	s := loadYAML(t, map[string]string{"a.yaml": `
id: typed-filter
dataset: insurance.health_insurance_card
consumer: vss
title: Filter on a number and a list
legal_basis: Law on Health Insurance No. 25/2008/QH12
purposes: [health_insurance_issuance]
mode: stream
fields: [card_no]
filter:
  - {field: benefit_level, in: [1, 2]}
  - {field: beneficiary_group, equals: TE}
valid_from: 2025-01-01
valid_until: 2025-12-31
`})
	g := NewEngine(s).StreamTargets("insurance.health_insurance_card", day("2025-06-01"))[0]
	for _, tt := range []struct {
		level any
		want  bool
	}{{int32(1), true}, {int64(2), true}, {float64(2), true}, {3, false}, {"1", false}, {nil, false}} {
		_, _, ok := g.Project(map[string]any{"card_no": "TE1790000123456", "benefit_level": tt.level, "beneficiary_group": "TE"})
		if ok != tt.want {
			t.Errorf("benefit_level %#v: ok = %v, want %v", tt.level, ok, tt.want)
		}
	}
}

func TestReload(t *testing.T) {
	first := loadYAML(t, fixture)
	e := NewEngine(nil)
	if d := e.Decide(Request{Consumer: "thads-hcm", Dataset: "tax.taxpayer", Mode: ModeLookup, Purpose: "judgment_enforcement", CaseReference: "x", Now: day("2025-06-01")}); d.Allow || d.Reason != ReasonNoAgreement {
		t.Fatalf("an engine without agreements allowed: %+v", d)
	}
	if prev := e.Reload(first); prev != nil {
		t.Fatal("previous of an empty engine is not nil")
	}
	// A failed load gives a nil set; reloading it keeps what is in force.
	_, err := Load(nil)
	if err == nil {
		t.Fatal("Load(nil) succeeded")
	}
	if kept := e.Reload(nil); kept != first || e.Current() != first {
		t.Fatal("Reload(nil) replaced the set in force")
	}

	second := loadYAML(t, map[string]string{"only.yaml": fixture["ins-verify.yaml"]})
	req := Request{Consumer: "thads-hcm", Dataset: "tax.taxpayer", Mode: ModeLookup, Purpose: "judgment_enforcement", CaseReference: "x", Now: day("2025-06-01")}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				d := e.Decide(req)
				if d.Reason != ReasonAllowed && d.Reason != ReasonNoAgreement {
					t.Errorf("half-swapped set: %+v", d)
					return
				}
			}
		}()
	}
	for i := range 200 {
		if i%2 == 0 {
			e.Reload(second)
		} else {
			e.Reload(first)
		}
	}
	close(stop)
	wg.Wait()
	e.Reload(second)
	if d := e.Decide(req); d.Reason != ReasonNoAgreement {
		t.Fatalf("after reload: %+v", d)
	}
	if len(e.Agreements()) != 1 {
		t.Fatalf("Agreements = %d", len(e.Agreements()))
	}
}

func TestAgreementsAreCopies(t *testing.T) {
	e := NewEngine(loadYAML(t, fixture))
	list := e.Agreements()
	for i := range list {
		list[i].Fields[0] = "cccd"
		list[i].Mask = map[string]MaskKind{}
		list[i].Purposes = append(list[i].Purposes, "anything")
	}
	a, ok := e.Current().Agreement("tax-lookup")
	if !ok || a.Fields[0] != "tax_code" || a.Mask["dob"] != MaskYearOnly || len(a.Purposes) != 1 {
		t.Fatalf("listing changed the set: %+v", a)
	}
	if d := e.Decide(Request{Consumer: "thads-hcm", Dataset: "tax.taxpayer", Mode: ModeLookup, Purpose: "anything", CaseReference: "x", Now: day("2025-06-01")}); d.Allow {
		t.Fatal("a changed listing allowed a purpose")
	}
}

// TestDecisionsGolden records the shipped agreements' answers to a fixed list
// of requests; a change to an agreement file shows up as a reviewed diff.
func TestDecisionsGolden(t *testing.T) {
	s, err := LoadEmbedded()
	if err != nil {
		t.Fatal(err)
	}
	e := NewEngine(s)
	at := day("2025-09-15")
	reqs := []Request{
		{Consumer: "thads-hcm", Dataset: "tax.taxpayer", Mode: ModeLookup, Purpose: "judgment_enforcement", CaseReference: "THA-2025-0012", Now: at},
		{Consumer: "thads-hcm", Dataset: "tax.taxpayer", Mode: ModeLookup, Purpose: "judgment_enforcement", CaseReference: "THA-2025-0012", Fields: []string{"tax_code", "address", "dob"}, Now: at},
		{Consumer: "thads-hcm", Dataset: "tax.taxpayer", Mode: ModeLookup, Purpose: "judgment_enforcement", Fields: []string{"tax_code"}, Now: at},
		{Consumer: "thads-hcm", Dataset: "tax.taxpayer", Mode: ModeLookup, Purpose: "judgment_enforcement", CaseReference: "THA-2025-0012", Fields: []string{"cccd"}, Now: at},
		{Consumer: "thads-hcm", Dataset: "tax.taxpayer", Mode: ModeLookup, Purpose: "debt_collection", CaseReference: "THA-2025-0012", Now: at},
		{Consumer: "thads-hcm", Dataset: "tax.taxpayer", Mode: ModeLookup, Purpose: "judgment_enforcement", CaseReference: "THA-2028-0001", Now: day("2028-01-01")},
		{Consumer: "thads-hcm", Dataset: "land.land_use_right", Mode: ModeLookup, Purpose: "judgment_enforcement", CaseReference: "THA-2025-0012", Now: at},
		{Consumer: "bank-vcb", Dataset: "insurance.health_insurance_card", Mode: ModeVerify, Purpose: "identity_verification", Fields: []string{"card_no", "cccd", "full_name", "dob"}, Now: at},
		{Consumer: "bank-vcb", Dataset: "insurance.health_insurance_card", Mode: ModeLookup, Purpose: "identity_verification", Fields: []string{"card_no"}, Now: at},
		{Consumer: "bank-vcb", Dataset: "insurance.health_insurance_card", Mode: ModeVerify, Purpose: "identity_verification", Fields: []string{"card_no", "hospital_code"}, Now: at},
		{Consumer: "bank-vcb", Dataset: "insurance.health_insurance_card", Mode: ModeVerify, Purpose: "marketing", Fields: []string{"card_no"}, Now: at},
		{Consumer: "bank-vcb", Dataset: "insurance.health_insurance_card", Mode: ModeVerify, Purpose: "identity_verification", Fields: []string{"card_no"}, Now: day("2024-12-31")},
		{Consumer: "hospital-choray", Dataset: "insurance.health_insurance_card", Mode: ModeVerify, Purpose: "health_insurance_examination", Fields: []string{"card_no", "valid_to", "benefit_level"}, Now: at},
		{Consumer: "vss", Dataset: "civil_status.birth_registration", Mode: ModeLookup, Purpose: "health_insurance_issuance", Now: at},
		{Consumer: "gdt", Dataset: "land.land_use_right", Mode: ModeVerify, Purpose: "tax_administration", Now: at},
		{Consumer: "moha", Dataset: "civil_servant.employee", Mode: ModeLookup, Purpose: "civil_service_management", Fields: []string{"salary_coefficient"}, Now: at},
		{Consumer: "moha", Dataset: "civil_servant.employee", Mode: ModeLookup, Purpose: "", Now: at},
		{Consumer: "moha", Dataset: "civil_servant.employee", Mode: ModeLookup, Purpose: "civil_service_management"},
	}
	var b strings.Builder
	b.WriteString("# Decisions of the shipped agreements (policies/agreements) on fixed requests.\n")
	b.WriteString("# Regenerate with: go test ./policies -update\n\n")
	for _, r := range reqs {
		now := "-"
		if !r.Now.IsZero() {
			now = r.Now.Format(time.RFC3339)
		}
		fmt.Fprintf(&b, "%s %s %s purpose=%q case=%q fields=%v now=%s\n", r.Consumer, r.Dataset, r.Mode, r.Purpose, r.CaseReference, r.Fields, now)
		d := e.Decide(r)
		verdict := "deny"
		if d.Allow {
			verdict = "allow"
		}
		fmt.Fprintf(&b, "  => %s %s agreement=%q", verdict, d.Reason, d.AgreementID)
		if d.Allow {
			fmt.Fprintf(&b, " fields=%v masks=%v\n     legal_basis: %s", d.Fields, d.Masks, d.LegalBasis)
		}
		b.WriteString("\n\n")
	}

	// Streams: which consumers receive each dataset, with what.
	b.WriteString("# Stream targets at " + at.Format(time.DateOnly) + "\n\n")
	for _, ds := range sortedKeys(catalogFields()) {
		fmt.Fprintf(&b, "%s\n", ds)
		for _, g := range e.StreamTargets(ds, at) {
			fmt.Fprintf(&b, "  -> %s (%s) purposes=%v fields=%v masks=%v", g.Consumer, g.AgreementID, g.Purposes, g.Fields, g.Masks)
			for _, c := range g.Filter {
				fmt.Fprintf(&b, " filter=%s:%v%v", c.Field, c.Equals, c.In)
			}
			b.WriteString("\n")
		}
	}
	golden(t, "decisions.golden", []byte(b.String()))
}

// TestShippedAgreements checks the promises the shipped files make in their
// comments, so that an edit breaking one fails here and not in production.
func TestShippedAgreements(t *testing.T) {
	s, err := LoadEmbedded()
	if err != nil {
		t.Fatal(err)
	}
	if s.Len() < 6 {
		t.Fatalf("%d agreements shipped, want at least 6", s.Len())
	}
	covered := map[string]bool{}
	for _, a := range s.Agreements() {
		covered[a.Dataset] = true
		if !strings.HasPrefix(a.Source, "policies/agreements/") || !strings.HasSuffix(a.Source, "/"+a.ID+".yaml") {
			t.Errorf("%s: file %s is not named after the id", a.ID, a.Source)
		}
	}
	for ds := range catalogFields() {
		if !covered[ds] {
			t.Errorf("no shipped agreement covers %s", ds)
		}
	}
	e := NewEngine(s)
	at := day("2025-09-15")
	grant := func(dataset, consumer string) Grant {
		t.Helper()
		for _, g := range e.StreamTargets(dataset, at) {
			if g.Consumer == consumer {
				return g
			}
		}
		t.Fatalf("no stream of %s to %s", dataset, consumer)
		return Grant{}
	}

	birth := map[string]any{"registration_no": "079/2025/123", "child_cccd": "079325001234", "child_name": "Lê Minh An",
		"child_dob": "2025-09-01", "child_sex": "M", "birth_province": "079", "mother_cccd": "079190004321",
		"mother_name": "Phạm Thị Hoa", "father_name": "Lê Văn Nam", "registered_on": "2025-09-10"}
	out, _, ok := grant("civil_status.birth_registration", "vss").Project(birth)
	if !ok || out["mother_name"] != "P. T. H." || out["child_cccd"] != "079325001234" {
		t.Errorf("vss birth projection = %v", out)
	}
	for _, f := range []string{"mother_cccd", "father_name"} {
		if _, leaked := out[f]; leaked {
			t.Errorf("vss receives %s", f)
		}
	}

	land := map[string]any{"certificate_no": "CS012345", "parcel_id": "12/34", "province_code": "079", "area_m2": 80.5,
		"land_use_purpose": "ODT", "holder_cccd": "079188001234", "holder_name": "Nguyễn Văn Bình", "holder_dob": "1988-03-14", "issued_on": "2025-02-01"}
	if out, _, _ := grant("land.land_use_right", "gdt").Project(land); out["holder_cccd"] != "********1234" {
		t.Errorf("gdt holder_cccd = %v", out["holder_cccd"])
	}
	if _, _, ok := grant("land.land_use_right", "hcm-land").Project(land); !ok {
		t.Error("hcm-land does not receive a parcel in 079")
	}
	land["province_code"] = "001"
	if _, _, ok := grant("land.land_use_right", "hcm-land").Project(land); ok {
		t.Error("hcm-land receives a parcel in 001")
	}
	if slices.Contains(grant("civil_servant.employee", "moha").Fields, "salary_coefficient") {
		t.Error("moha receives salary_coefficient")
	}
}
