package identity

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/lgsp-bus/lgsp/broker/store"
	"github.com/lgsp-bus/lgsp/connectors/cccd"
)

var update = flag.Bool("update", false, "rewrite testdata/reconcile.golden")

// register is a small population with the situations the cases need.
var register = []store.Citizen{
	{ID: cccd.Make("001", 1985, "M", 12345), OldID: "012345678", FullName: "Nguyễn Văn Hòa", DOB: "1985-03-14", Sex: "M"},
	{ID: cccd.Make("079", 1990, "F", 1), FullName: "Trần Thị Thuỷ", DOB: "1990-07-02", Sex: "F"},
	{ID: cccd.Make("048", 2001, "F", 123456), FullName: "Đặng Thùy Trâm", DOB: "2001-11-05", Sex: "F"},
	{ID: cccd.Make("044", 1911, "M", 1), FullName: "Võ Nguyên Giáp", DOB: "1911-08-25", Sex: "M", Deceased: true},
	{ID: cccd.Make("036", 1992, "M", 555555), FullName: "Phạm Minh Tuấn", DOB: "1992-05-20", Sex: "M"},
	// two namesakes one digit apart: a typo between them is not proposable
	{ID: cccd.Make("036", 1992, "F", 777771), FullName: "Lê Thị Lan", DOB: "1992-01-01", Sex: "F"},
	{ID: cccd.Make("036", 1992, "F", 777772), FullName: "Lê Thị Lan", DOB: "1992-01-01", Sex: "F"},
	{ID: cccd.Make("092", 2019, "M", 42), FullName: "Huỳnh Gia Bảo", DOB: "2019-12-03", Sex: "M"},
	{ID: cccd.Make("027", 1968, "F", 314159), OldID: "125678901", FullName: "Ngô Thị Khỏe", DOB: "1968-09-09", Sex: "F"},
}

type reconcileCase struct {
	name  string
	claim Claim
	want  Result
}

var reconcileCases = []reconcileCase{
	{"verified exact", Claim{"001085012345", "Nguyễn Văn Hòa", "1985-03-14", "M"}, Result{Outcome: Verified}},
	{"verified other case and spaces", Claim{"001085012345", " NGUYỄN  VĂN HÒA ", "1985-03-14", "M"}, Result{Outcome: Verified}},
	{"verified new tone placement", Claim{"001085012345", "Nguyễn Văn Hoà", "1985-03-14", "M"}, Result{Outcome: Verified}},
	{"verified old tone placement", Claim{"079190000001", "Trần Thị Thủy", "1990-07-02", "F"}, Result{Outcome: Verified}},
	{"verified id only", Claim{ID: "079190000001"}, Result{Outcome: Verified}},
	{"verified legacy CMND", Claim{"012345678", "Nguyễn Văn Hòa", "1985-03-14", "M"}, Result{Outcome: Verified}},
	{"mismatch diacritics dropped", Claim{"001085012345", "Nguyen Van Hoa", "1985-03-14", "M"}, Result{Outcome: Mismatch, Fields: []FieldDiff{{"name", "diacritics"}}}},
	{"mismatch other tone", Claim{"001085012345", "Nguyễn Văn Hóa", "1985-03-14", "M"}, Result{Outcome: Mismatch, Fields: []FieldDiff{{"name", "diacritics"}}}},
	{"mismatch tone changed", Claim{"048301123456", "Đặng Thùy Trầm", "2001-11-05", "F"}, Result{Outcome: Mismatch, Fields: []FieldDiff{{"name", "diacritics"}}}},
	{"mismatch tone mark dropped", Claim{"036092555555", "Phạm Minh Tuân", "1992-05-20", "M"}, Result{Outcome: Mismatch, Fields: []FieldDiff{{"name", "diacritics"}}}},
	{"mismatch letter typo", Claim{"036092555555", "Phạm Minh Tuấm", "1992-05-20", "M"}, Result{Outcome: Mismatch, Fields: []FieldDiff{{"name", "spelling"}}}},
	{"mismatch other person's name", Claim{"036092555555", "Lê Thị Lan", "1992-05-20", "M"}, Result{Outcome: Mismatch, Fields: []FieldDiff{{"name", "different"}}}},
	{"mismatch day and month swapped", Claim{"079190000001", "Trần Thị Thuỷ", "1990-02-07", "F"}, Result{Outcome: Mismatch, Fields: []FieldDiff{{"dob", "day_month_swapped"}}}},
	{"mismatch swapped, not a date", Claim{"048301123456", "Đặng Thùy Trâm", "2001-05-11", ""}, Result{Outcome: Mismatch, Fields: []FieldDiff{{"dob", "day_month_swapped"}}}},
	{"mismatch dob", Claim{"079190000001", "Trần Thị Thuỷ", "1990-07-03", "F"}, Result{Outcome: Mismatch, Fields: []FieldDiff{{"dob", "different"}}}},
	{"mismatch via CMND", Claim{"125678901", "Ngô Thị Khoẻ", "1968-09-19", "F"}, Result{Outcome: Mismatch, Fields: []FieldDiff{{"dob", "different"}}}},
	{"deceased", Claim{"044011000001", "Võ Nguyên Giáp", "1911-08-25", "M"}, Result{Outcome: Deceased}},
	{"invalid length", Claim{"00108501234", "Nguyễn Văn Hòa", "", ""}, Result{Outcome: InvalidID, Fields: []FieldDiff{{"id", "length"}}}},
	{"invalid character", Claim{"0010850l2345", "", "", ""}, Result{Outcome: InvalidID, Fields: []FieldDiff{{"id", "non_digit"}}}},
	{"invalid province", Claim{"003085012345", "Nguyễn Văn Hòa", "1985-03-14", "M"}, Result{Outcome: InvalidID, Fields: []FieldDiff{{"id", "province"}}}},
	{"invalid century digit", Claim{"001485012345", "", "", ""}, Result{Outcome: InvalidID, Fields: []FieldDiff{{"id", "century"}}}},
	{"id contradicts sex", Claim{"001085012345", "Nguyễn Văn Hòa", "1985-03-14", "F"}, Result{Outcome: InvalidID, Fields: []FieldDiff{{"id", "sex"}}}},
	{"id contradicts birth year", Claim{"001085012345", "Nguyễn Văn Hòa", "1986-03-14", "M"}, Result{Outcome: InvalidID, Fields: []FieldDiff{{"id", "year"}}}},
	{"not found", Claim{"001085999999", "Nguyễn Văn Hòa", "1985-03-14", "M"}, Result{Outcome: NotFound}},
	{"not found, typo proposed", Claim{"036092555565", "Phạm Minh Tuấn", "1992-05-20", "M"}, Result{Outcome: NotFound, Proposed: "036092555555"}},
	{"not found, typo proposed via tone-equal name", Claim{"092219000043", "HUỲNH GIA BẢO", "2019-12-03", "M"}, Result{Outcome: NotFound, Proposed: "092219000042"}},
	{"not found, typo but name differs", Claim{"036092555565", "Phạm Minh Tuân", "1992-05-20", "M"}, Result{Outcome: NotFound}},
	{"not found, two namesakes one digit away", Claim{"036192777773", "Lê Thị Lan", "1992-01-01", "F"}, Result{Outcome: NotFound}},
	{"not found, CMND typo proposed", Claim{"012345679", "Nguyễn Văn Hòa", "1985-03-14", ""}, Result{Outcome: NotFound, Proposed: "012345678"}},
	{"no number", Claim{"", "Nguyễn Văn Hòa", "1985-03-14", "M"}, Result{Outcome: Unmatched}},
}

func TestReconcile(t *testing.T) {
	idx := mustIndex(register)
	for _, tc := range reconcileCases {
		t.Run(tc.name, func(t *testing.T) {
			got := Reconcile(idx, tc.claim)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Reconcile(%+v) = %+v, want %+v", tc.claim, got, tc.want)
			}
		})
	}
}

// TestReconcileGolden records the decisions in a file reviewers can read;
// regenerate with go test ./broker/identity -update.
func TestReconcileGolden(t *testing.T) {
	idx := mustIndex(register)
	var b strings.Builder
	b.WriteString("# Reconciliation decisions for representative claims (see reconcile_test.go).\n")
	b.WriteString("# Regenerate: go test ./broker/identity -update\n")
	for _, tc := range reconcileCases {
		r := Reconcile(idx, tc.claim)
		fmt.Fprintf(&b, "\n%s\n  claim: id=%q name=%q dob=%q sex=%q\n  => %s", tc.name, tc.claim.ID, tc.claim.Name, tc.claim.DOB, tc.claim.Sex, r.Outcome)
		for _, f := range r.Fields {
			fmt.Fprintf(&b, " %s:%s", f.Field, f.Kind)
		}
		if r.Proposed != "" {
			fmt.Fprintf(&b, " proposed=%s", r.Proposed)
		}
		b.WriteString("\n")
	}
	path := filepath.Join("testdata", "reconcile.golden")
	if *update {
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if b.String() != string(want) {
		t.Errorf("decisions differ from %s (run with -update if intended):\n%s", path, b.String())
	}
}

func TestReconcileVerifiedDoesNotAllocate(t *testing.T) {
	idx := mustIndex(register)
	claims := []Claim{
		{"001085012345", "Nguyễn Văn Hòa", "1985-03-14", "M"},
		{"001085012345", "NGUYỄN VĂN HÒA", "1985-03-14", "M"},
		{"012345678", "Nguyễn Văn Hòa", "1985-03-14", "M"},
	}
	for _, c := range claims {
		allocs := testing.AllocsPerRun(100, func() {
			if Reconcile(idx, c).Outcome != Verified {
				t.Fatal("not verified")
			}
		})
		if allocs != 0 {
			t.Errorf("verifying %+v allocates %v times", c, allocs)
		}
	}
}

// ReconcileBatch decides every claim as Reconcile does, in any mix and
// across group boundaries.
func TestReconcileBatch(t *testing.T) {
	idx := mustIndex(register)
	var claims []Claim
	for range 3 { // 3 × 29 cases: groups of 16 start mid-list
		for _, tc := range reconcileCases {
			claims = append(claims, tc.claim)
		}
	}
	out := make([]Result, len(claims))
	ReconcileBatch(idx, claims, out)
	for k, c := range claims {
		if want := Reconcile(idx, c); !reflect.DeepEqual(out[k], want) {
			t.Errorf("claim %d %+v: batch %+v, alone %+v", k, c, out[k], want)
		}
	}
	// a bigger register, where probes run past their first slot
	pop := benchPopulation(50_000)
	big := mustIndex(pop)
	claims = claims[:0]
	for i, c := range pop[:5000] {
		cl := Claim{ID: c.ID, Name: c.FullName, DOB: c.DOB, Sex: c.Sex}
		switch i % 5 {
		case 1:
			cl.Name = "x" + cl.Name
		case 2:
			cl.ID = c.ID[:11] + string('0'+(c.ID[11]-'0'+1)%10)
		case 3:
			cl.ID = c.OldID
		}
		claims = append(claims, cl)
	}
	out = make([]Result, len(claims))
	ReconcileBatch(big, claims, out)
	for k, c := range claims {
		if want := Reconcile(big, c); !reflect.DeepEqual(out[k], want) {
			t.Fatalf("claim %d %+v: batch %+v, alone %+v", k, c, out[k], want)
		}
	}
	verified := claims[:0:0]
	for _, c := range pop[:64] {
		if !c.Deceased {
			verified = append(verified, Claim{ID: c.ID, Name: c.FullName, DOB: c.DOB, Sex: c.Sex})
		}
	}
	out = out[:len(verified)]
	if allocs := testing.AllocsPerRun(20, func() { ReconcileBatch(big, verified, out) }); allocs != 0 {
		t.Errorf("a batch of verified claims allocates %v times", allocs)
	}
}
