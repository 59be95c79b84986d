package interconnected_test

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/lgsp-bus/lgsp/broker/config"
	"github.com/lgsp-bus/lgsp/broker/runtime"
	"github.com/lgsp-bus/lgsp/broker/store"
	"github.com/lgsp-bus/lgsp/connectors/synthetic"
	"github.com/lgsp-bus/lgsp/examples/interconnected"
)

// people picks, from the bus's population register, a child under 6, a
// woman of child-bearing age to be the mother, and a pensioner.
func people(t *testing.T, st store.Store) (child, mother, elder store.Citizen) {
	t.Helper()
	now := time.Now()
	age := func(c store.Citizen) float64 {
		d, err := time.Parse(time.DateOnly, c.DOB)
		if err != nil {
			return -1
		}
		return now.Sub(d).Hours() / 24 / 365.25
	}
	err := st.ScanCitizens(context.Background(), func(c store.Citizen) error {
		switch a := age(c); {
		case c.Deceased:
		case child.ID == "" && a >= 0 && a < 5:
			child = c
		case mother.ID == "" && c.Sex == "F" && a > 22 && a < 40:
			mother = c
		case elder.ID == "" && a > 65:
			elder = c
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if child.ID == "" || mother.ID == "" || elder.ID == "" {
		t.Fatalf("the synthetic population lacks a child, mother or pensioner: %+v %+v %+v", child, mother, elder)
	}
	return child, mother, elder
}

// TestBirthAndDeathFanOut runs the interconnected service on a dev bus: a
// birth and a death registered by civil status each reach the residence
// authority and Vietnam Social Security with only their agreed fields; VSS
// issues the child's card and publishes it back through the bus; the death
// ends the pension and the card and removes the residence registration.
func TestBirthAndDeathFanOut(t *testing.T) {
	c := config.Defaults()
	c.DataDir, c.API.Addr, c.Registry.Addr, c.Kafka.EmbeddedPort = t.TempDir(), "127.0.0.1:0", "127.0.0.1:0", 0
	c.Synthetic.Enabled, c.Synthetic.Population = false, 3000
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	bus, err := runtime.Start(ctx, runtime.Options{Mode: runtime.Dev, Config: c, Population: synthetic.RegisteredCitizen})
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Close(context.Background())
	addrs := bus.Addrs()
	op, err := runtime.OperatorToken(c)
	if err != nil {
		t.Fatal(err)
	}
	api := "http://" + addrs.API
	tokens := map[string]string{}
	for source, agency := range map[string]string{"civil_status": "moj", "insurance": "vss"} {
		if tokens[source], err = interconnected.IssueToken(ctx, api, op, agency); err != nil {
			t.Fatal(err)
		}
	}
	readers := map[string]string{}
	for _, agency := range []string{"mps-c06", "vss"} {
		if readers[agency], err = interconnected.IssueToken(ctx, api, op, agency); err != nil {
			t.Fatal(err)
		}
	}
	b := interconnected.Bus{Brokers: addrs.Kafka, APIURL: api, RegistryURL: "http://" + addrs.Registry, Tokens: tokens, AgencyTokens: readers}

	child, mother, elder := people(t, bus.Store)
	residence := interconnected.NewResidence(map[string]string{mother.ID: mother.ID, elder.ID: elder.ID})
	elderCard := interconnected.Card{No: "HT2" + elder.BirthProvince[1:] + elder.ID[2:], PersonalID: elder.ID, ValidTo: "2030-12-31",
		Row: map[string]any{"card_no": "HT2" + elder.BirthProvince[1:] + elder.ID[2:], "cccd": elder.ID, "full_name": elder.FullName, "dob": elder.DOB,
			"sex": elder.Sex, "beneficiary_group": "HT", "benefit_level": 2, "hospital_code": "01001", "valid_from": "2026-01-01", "valid_to": "2030-12-31"}}
	insurance := interconnected.NewInsurance(b, []interconnected.Card{elderCard}, []interconnected.Pension{{PersonalID: elder.ID, Monthly: 6_200_000}})
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	errs := make(chan error, 2)
	go func() { errs <- residence.Run(runCtx, b) }()
	go func() { errs <- insurance.Run(runCtx) }()

	birth := map[string]any{"registration_no": "001/2026/4711", "child_cccd": child.ID, "child_name": child.FullName, "child_dob": child.DOB,
		"child_sex": child.Sex, "birth_province": child.BirthProvince, "mother_cccd": mother.ID, "mother_name": mother.FullName,
		"father_name": "Nguyễn Văn Hùng", "registered_on": time.Now().Format(time.DateOnly)}
	died := time.Now().AddDate(0, 0, -1).Format(time.DateOnly)
	death := map[string]any{"registration_no": "001/2026/4712", "deceased_cccd": elder.ID, "deceased_name": elder.FullName, "deceased_dob": elder.DOB,
		"deceased_sex": elder.Sex, "date_of_death": died, "place_of_death_province": elder.BirthProvince, "cause_category": "natural",
		"registered_at": time.Now().UTC().Format(time.RFC3339), "registering_office": "UBND phường Ngọc Hà"}
	if err := b.Push(ctx, "civil_status", "birth-4711", interconnected.PushRecord{Dataset: "civil_status.birth_registration", Op: "c", After: birth}); err != nil {
		t.Fatal(err)
	}
	// The elder's card must be on the bus before the death ends it.
	if err := b.Push(ctx, "insurance", "card-"+elderCard.No, interconnected.PushRecord{Dataset: "insurance.health_insurance_card", Op: "c", After: elderCard.Row}); err != nil {
		t.Fatal(err)
	}
	if err := b.Push(ctx, "civil_status", "death-4712", interconnected.PushRecord{Dataset: "civil_status.death_registration", Op: "c", After: death}); err != nil {
		t.Fatal(err)
	}

	deadline := time.Now().Add(60 * time.Second)
	for {
		households, _ := residence.Snapshot()
		cards, pensions, _ := insurance.Snapshot()
		_, childHas := households[child.ID]
		_, elderHas := households[elder.ID]
		if childHas && !elderHas && cards[child.ID].No != "" && pensions[elder.ID].StoppedOn != "" && cards[elder.ID].ValidTo == died {
			break
		}
		select {
		case err := <-errs:
			t.Fatalf("an agency program stopped: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			_, rr := residence.Snapshot()
			_, _, ir := insurance.Snapshot()
			t.Fatalf("the flow did not complete: households %v, cards %v, pensions %v; residence got %d events, insurance %d", households, cards, pensions, len(rr), len(ir))
		}
		time.Sleep(50 * time.Millisecond)
	}

	households, residenceGot := residence.Snapshot()
	cards, _, insuranceGot := insurance.Snapshot()
	if households[child.ID] != mother.ID {
		t.Errorf("child registered in household %q, want the mother's %q", households[child.ID], mother.ID)
	}
	card := cards[child.ID]
	dob, _ := time.Parse(time.DateOnly, child.DOB)
	if len(card.No) != 15 || card.No[:2] != "TE" || card.ValidTo != dob.AddDate(6, 0, -1).Format(time.DateOnly) {
		t.Errorf("child's card %+v: want a 15-character TE card valid until the day before the 6th birthday", card)
	}

	// Each agency received each event once, with exactly its agreed fields.
	want := map[string]map[string][]string{
		"mps-c06": {
			"civil_status.birth_registration": {"birth_province", "child_cccd", "child_dob", "child_name", "child_sex", "father_name", "mother_cccd", "mother_name", "registered_on", "registration_no"},
			"civil_status.death_registration": {"date_of_death", "deceased_cccd", "deceased_name", "place_of_death_province", "registered_at", "registration_no"},
		},
		"vss": {
			"civil_status.birth_registration": {"birth_province", "child_cccd", "child_dob", "child_name", "child_sex", "mother_name", "registered_on", "registration_no"},
			"civil_status.death_registration": {"date_of_death", "deceased_cccd", "deceased_dob", "deceased_name", "registration_no"},
		},
	}
	for agency, got := range map[string][]interconnected.Received{"mps-c06": residenceGot, "vss": insuranceGot} {
		if len(got) != 2 {
			t.Errorf("%s received %d events, want 2 (one birth, one death)", agency, len(got))
		}
		for _, r := range got {
			if fields := interconnected.FieldNames(r.Fields); !slices.Equal(fields, want[agency][r.Dataset]) {
				t.Errorf("%s received %s with fields %v, want exactly %v", agency, r.Dataset, fields, want[agency][r.Dataset])
			}
			if r.Agreement == "" {
				t.Errorf("%s received %s without the agreement it was released under", agency, r.Dataset)
			}
			if r.Dataset == "civil_status.birth_registration" && agency == "vss" && r.Fields["mother_name"] == mother.FullName {
				t.Errorf("vss received the mother's name in clear; the agreement masks it to initials")
			}
		}
	}

	// The card VSS issued went through the bus: its latest row is in the
	// dataset state the bus keeps from the canonical topic, and the death
	// ended the elder's card there too.
	stateOf := func(id string) map[string]any {
		rows, err := bus.Store.(store.StateStore).StateByCitizen(ctx, "insurance.health_insurance_card", bus.Audit.CitizenKey(id), 5)
		if err != nil || len(rows) == 0 {
			return nil
		}
		var row map[string]any
		_ = json.Unmarshal(rows[0].Row, &row)
		return row
	}
	deadline = time.Now().Add(30 * time.Second)
	for {
		childRow, elderRow := stateOf(child.ID), stateOf(elder.ID)
		if childRow != nil && childRow["card_no"] == card.No && elderRow != nil && elderRow["valid_to"] == died {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the bus's state of the cards: child %v, elder %v", childRow, elderRow)
		}
		time.Sleep(50 * time.Millisecond)
	}

	// Every release was audited, under its agreement, before it was served.
	wantAudited := map[string][]string{
		child.ID: {"mps-c06-birth-registration", "vss-birth-registration-under6"},
		elder.ID: {"mps-c06-death-registration", "vss-death-registration"},
	}
	for id, agreements := range wantAudited {
		entries, err := bus.Store.(store.AuditSearcher).SearchAudit(ctx, store.AuditSearch{CitizenKey: bus.Audit.CitizenKey(id), Action: "deliver", Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range entries {
			if e.Decision == "allow" && (e.Dataset == "civil_status.birth_registration" || e.Dataset == "civil_status.death_registration") {
				got = append(got, e.AgreementID)
			}
		}
		slices.Sort(got)
		if !slices.Equal(got, agreements) {
			t.Errorf("audited deliveries of the civil status event: %v, want %v", got, agreements)
		}
	}
}
