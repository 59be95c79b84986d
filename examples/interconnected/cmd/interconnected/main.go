// Command interconnected plays Project 06's "birth registration → permanent
// residence → health insurance card" service, and its mirror for a death,
// against a running `lgsp dev`: it registers a birth and a death as the
// civil status source, runs the residence authority's and Vietnam Social
// Security's programs on their delivery topics, and prints what each agency
// received and did.
//
//	go run ./cmd/lgsp dev &            # in another terminal
//	go run ./examples/interconnected/cmd/interconnected
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	"github.com/lgsp-bus/lgsp/connectors/synthetic"
	"github.com/lgsp-bus/lgsp/examples/interconnected"
)

func main() {
	api := flag.String("api", "http://127.0.0.1:8080", "the bus's REST API")
	registry := flag.String("registry", "http://127.0.0.1:8081", "the bus's schema registry")
	brokers := flag.String("kafka", "127.0.0.1:9092", "Kafka bootstrap addresses, comma-separated")
	dataDir := flag.String("data-dir", "lgsp-data", "the dev bus's data dir, for its operator token (or set LGSP_OPERATOR_TOKEN)")
	seed := flag.Int64("seed", 1, "the dev bus's synthetic population seed (synthetic.seed)")
	population := flag.Int("population", 100_000, "the dev bus's synthetic population size (synthetic.population)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, *api, *registry, strings.Split(*brokers, ","), *dataDir, *seed, *population); err != nil {
		fmt.Fprintln(os.Stderr, "interconnected:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, api, registry string, brokers []string, dataDir string, seed int64, population int) error {
	op := os.Getenv("LGSP_OPERATOR_TOKEN")
	if op == "" {
		b, err := os.ReadFile(filepath.Join(dataDir, "operator.token"))
		if err != nil {
			return fmt.Errorf("no operator token: set LGSP_OPERATOR_TOKEN or -data-dir (%w)", err)
		}
		op = strings.TrimSpace(string(b))
	}
	tokens := map[string]string{}
	for source, agency := range map[string]string{"civil_status": "moj", "insurance": "vss"} {
		t, err := interconnected.IssueToken(ctx, api, op, agency)
		if err != nil {
			return err
		}
		tokens[source] = t
	}
	readers := map[string]string{} // the consuming agencies read the schema registry with their own tokens
	for _, agency := range []string{"mps-c06", "vss"} {
		t, err := interconnected.IssueToken(ctx, api, op, agency)
		if err != nil {
			return err
		}
		readers[agency] = t
	}
	bus := interconnected.Bus{Brokers: brokers, APIURL: api, RegistryURL: registry, Tokens: tokens, AgencyTokens: readers}

	// A child under 6, a mother and a pensioner from the dev population.
	now := time.Now()
	age := func(dob string) float64 {
		d, _ := time.Parse(time.DateOnly, dob)
		return now.Sub(d).Hours() / 24 / 365.25
	}
	var child, mother, elder = -1, -1, -1
	for i := 0; i < population && (child < 0 || mother < 0 || elder < 0); i++ {
		c := synthetic.Citizen(seed, i)
		a := age(c.DOB)
		switch {
		case c.Deceased:
		case child < 0 && a < 5:
			child = i
		case mother < 0 && c.Sex == "F" && a > 22 && a < 40:
			mother = i
		case elder < 0 && a > 65:
			elder = i
		}
	}
	if child < 0 || mother < 0 || elder < 0 {
		return fmt.Errorf("the population of %d (seed %d) has no child, mother or pensioner", population, seed)
	}
	ch, mo, el := synthetic.Citizen(seed, child), synthetic.Citizen(seed, mother), synthetic.Citizen(seed, elder)
	residence := interconnected.NewResidence(map[string]string{mo.ID: mo.ID, el.ID: el.ID})
	elderCard := interconnected.Card{No: "HT2" + el.BirthProvince[1:] + el.ID[2:], PersonalID: el.ID, ValidTo: "2030-12-31",
		Row: map[string]any{"card_no": "HT2" + el.BirthProvince[1:] + el.ID[2:], "cccd": el.ID, "full_name": el.FullName, "dob": el.DOB,
			"sex": el.Sex, "beneficiary_group": "HT", "benefit_level": 2, "hospital_code": "01001", "valid_from": "2026-01-01", "valid_to": "2030-12-31"}}
	insurance := interconnected.NewInsurance(bus, []interconnected.Card{elderCard}, []interconnected.Pension{{PersonalID: el.ID, Monthly: 6_200_000}})
	runCtx, stopAgencies := context.WithCancel(ctx)
	defer stopAgencies()
	go func() { _ = residence.Run(runCtx, bus) }()
	go func() { _ = insurance.Run(runCtx) }()

	suffix := fmt.Sprint(now.Unix() % 1_000_000)
	died := now.AddDate(0, 0, -1).Format(time.DateOnly)
	steps := []struct {
		source, key string
		rec         interconnected.PushRecord
		say         string
	}{
		{"insurance", "card-" + elderCard.No, interconnected.PushRecord{Dataset: "insurance.health_insurance_card", Op: "c", After: elderCard.Row},
			"VSS publishes the pensioner's existing card"},
		{"civil_status", "birth-" + suffix, interconnected.PushRecord{Dataset: "civil_status.birth_registration", Op: "c", After: map[string]any{
			"registration_no": "001/2026/1" + suffix, "child_cccd": ch.ID, "child_name": ch.FullName, "child_dob": ch.DOB, "child_sex": ch.Sex,
			"birth_province": ch.BirthProvince, "mother_cccd": mo.ID, "mother_name": mo.FullName, "father_name": "Nguyễn Văn Hùng",
			"registered_on": now.Format(time.DateOnly)}}, "civil status registers a birth"},
		{"civil_status", "death-" + suffix, interconnected.PushRecord{Dataset: "civil_status.death_registration", Op: "c", After: map[string]any{
			"registration_no": "001/2026/2" + suffix, "deceased_cccd": el.ID, "deceased_name": el.FullName, "deceased_dob": el.DOB,
			"deceased_sex": el.Sex, "date_of_death": died, "place_of_death_province": el.BirthProvince, "cause_category": "natural",
			"registered_at": now.UTC().Format(time.RFC3339), "registering_office": "UBND phường Ngọc Hà"}}, "civil status registers a death"},
	}
	for _, s := range steps {
		fmt.Printf("→ %s\n", s.say)
		if err := bus.Push(ctx, s.source, s.key, s.rec); err != nil {
			return err
		}
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		households, _ := residence.Snapshot()
		cards, pensions, _ := insurance.Snapshot()
		_, elderRegistered := households[el.ID]
		if households[ch.ID] != "" && !elderRegistered && cards[ch.ID].No != "" && pensions[el.ID].StoppedOn != "" {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the agencies did not finish in 60 s (is `lgsp dev` running with the default agreements?)")
		}
		time.Sleep(100 * time.Millisecond)
	}
	households, rr := residence.Snapshot()
	cards, pensions, ir := insurance.Snapshot()
	// The dev bus's synthetic civil status stream also reaches both
	// agencies; show only this run's two registrations.
	ours := map[any]bool{"001/2026/1" + suffix: true, "001/2026/2" + suffix: true}
	for _, got := range []struct {
		agency string
		rs     []interconnected.Received
	}{{"mps-c06", rr}, {"vss", ir}} {
		others := 0
		for _, r := range got.rs {
			if !ours[r.Fields["registration_no"]] {
				others++
				continue
			}
			fmt.Printf("%-7s received %s under %s: %v\n", got.agency, r.Dataset, r.Agreement, interconnected.FieldNames(r.Fields))
		}
		if others > 0 {
			fmt.Printf("%-7s also received %d registrations from the dev bus's synthetic civil status stream\n", got.agency, others)
		}
	}
	fmt.Printf("residence: the child is registered in household %s; the deceased is no longer registered\n", households[ch.ID])
	fmt.Printf("insurance: card %s issued to the child, valid to %s, published as insurance.health_insurance_card\n", cards[ch.ID].No, cards[ch.ID].ValidTo)
	fmt.Printf("insurance: pension stopped on %s; card %s ends on %s\n", pensions[el.ID].StoppedOn, cards[el.ID].No, cards[el.ID].ValidTo)
	return nil
}
