package policies

import (
	"slices"
	"testing"
)

// TestShippedAgreementsOnCivilStatusAndLand checks the promises that the
// agreements on the death, marriage, land parcel and land transfer datasets
// make in their comments.
func TestShippedAgreementsOnCivilStatusAndLand(t *testing.T) {
	s, err := LoadEmbedded()
	if err != nil {
		t.Fatal(err)
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

	// Vietnam Social Security receives each death, without its cause.
	death := map[string]any{"registration_no": "079/2025/88", "deceased_cccd": "079048001234", "deceased_name": "Trần Văn Lộc",
		"deceased_dob": "1948-05-01", "deceased_sex": "M", "date_of_death": "2025-09-01", "place_of_death_province": "079",
		"cause_category": "disease", "registered_at": "2025-09-03T10:00:00+07:00", "registering_office": "UBND phường Bến Thành"}
	out, _, ok := grant("civil_status.death_registration", "vss").Project(death)
	if !ok || out["deceased_cccd"] != "079048001234" || out["date_of_death"] != "2025-09-01" {
		t.Errorf("vss death projection = %v", out)
	}
	for _, f := range []string{"cause_category", "registering_office"} {
		if _, leaked := out[f]; leaked {
			t.Errorf("vss receives %s", f)
		}
	}

	// The land office may only verify a marriage, and only for a named file.
	verify := Request{Consumer: "hcm-land", Dataset: "civil_status.marriage_registration", Mode: ModeVerify,
		Purpose: "land_registration", CaseReference: "DKDD-079-2025-0042", Fields: []string{"spouse1_cccd", "spouse2_cccd", "registered_on"}, Now: at}
	if d := e.Decide(verify); !d.Allow || d.AgreementID != "hcm-land-marriage-verify" {
		t.Errorf("marriage verify: %+v", d)
	}
	noCase := verify
	noCase.CaseReference = ""
	if d := e.Decide(noCase); d.Allow || d.Reason != ReasonCaseReferenceRequired {
		t.Errorf("marriage verify without a case: %+v", d)
	}
	lookup := verify
	lookup.Mode = ModeLookup
	if d := e.Decide(lookup); d.Allow || d.Reason != ReasonModeNotAllowed {
		t.Errorf("marriage lookup: %+v", d)
	}
	if gs := e.StreamTargets("civil_status.marriage_registration", at); len(gs) != 0 {
		t.Errorf("marriages are streamed: %+v", gs)
	}

	// Both parties to a transfer are taxpayers: both numbers in full.
	transfer := grant("land.land_transfer", "gdt")
	for _, f := range []string{"transferor_cccd", "transferee_cccd", "price_vnd"} {
		if !slices.Contains(transfer.Fields, f) || transfer.Masks[f] != "" {
			t.Errorf("gdt transfer field %s: fields %v masks %v", f, transfer.Fields, transfer.Masks)
		}
	}

	// The tax authority receives every field of every parcel.
	parcel := map[string]any{"parcel_id": "26734-3-1021", "province_code": "079", "commune_code": "26734", "map_sheet_no": 3,
		"parcel_no": 1021, "area_m2": 2500.0, "land_use_purpose": "CLN", "address": "Ấp 3, xã Bình Mỹ"}
	if out, _, ok := grant("land.land_parcel", "gdt").Project(parcel); !ok || len(out) != len(parcel) {
		t.Errorf("gdt parcel projection = %v", out)
	}
}
