// Package interconnected is Project 06's interconnected public service
// "birth registration → permanent residence → health insurance card for a
// child under 6", and its mirror for a death, running on the bus: one event
// from civil status fans out to two agencies, each of which receives only
// what its data-sharing agreement releases and acts on it in its own system.
//
//	civil_status ──birth──▶ bus ──▶ deliver.mps-c06.civil_status.birth_registration ──▶ Residence: permanent residence at the mother's address
//	                             └─▶ deliver.vss.civil_status.birth_registration ──▶ Insurance: issues a TE card, pushes it back as insurance.health_insurance_card
//	civil_status ──death──▶ bus ──▶ deliver.mps-c06.civil_status.death_registration ──▶ Residence: deregisters the permanent residence
//	                             └─▶ deliver.vss.civil_status.death_registration ──▶ Insurance: ends the card and stops the pension
//
// The agreements are policies/agreements/mps-c06-*.yaml and vss-*-registration*.yaml.
// The two agencies' programs are written with the consumer SDK
// (connectors/consumer); their "databases" are in memory here. Run it
// against `lgsp dev` with `go run ./examples/interconnected/cmd/interconnected`.
package interconnected

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/lgsp-bus/lgsp/connectors/consumer"
)

// Bus says where the bus is and how the programs log in.
type Bus struct {
	Brokers     []string // Kafka bootstrap addresses
	APIURL      string   // REST API, e.g. http://127.0.0.1:8080
	RegistryURL string   // schema registry, e.g. http://127.0.0.1:8081 (optional)
	// Tokens are the API tokens the sources push with, by source name
	// ("civil_status", "insurance"); empty when the bus asks for none.
	Tokens map[string]string
	// AgencyTokens are the consuming agencies' API tokens, by agency
	// ("mps-c06", "vss"): they read the schema registry with them.
	AgencyTokens map[string]string
	// Kafka logins of the consuming agencies, by agency ("mps-c06", "vss");
	// empty when the bus's Kafka has no authentication.
	KafkaUsers map[string][2]string
	HTTP       *http.Client
}

// Push sends records of one source through the bus's HTTP push, under an
// idempotency key so a retried push is a no-op, and returns an error unless
// every record was published.
func (b Bus) Push(ctx context.Context, source, key string, recs ...PushRecord) error {
	body, err := json.Marshal(map[string]any{"records": recs})
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, b.APIURL+"/v1/sources/"+source+"/records", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", key)
	if t := b.Tokens[source]; t != "" {
		req.Header.Set("Authorization", "Bearer "+t)
	}
	client := b.HTTP
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("push to %s: %w (retry with the same key)", source, err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("push to %s: %s: %s", source, resp.Status, answer)
	}
	return nil
}

// PushRecord is one record of an HTTP push.
type PushRecord struct {
	Dataset string         `json:"dataset"`
	Op      string         `json:"op"`
	Before  map[string]any `json:"before,omitempty"`
	After   map[string]any `json:"after,omitempty"`
}

// consume runs one agency's program until ctx ends.
func (b Bus) consume(ctx context.Context, agency string, datasets []string, h consumer.Handler) error {
	cfg := consumer.Config{Brokers: b.Brokers, GroupID: agency + ".interconnected", Agency: agency, Datasets: datasets,
		RegistryURL: b.RegistryURL, RegistryToken: b.AgencyTokens[agency]}
	if login, ok := b.KafkaUsers[agency]; ok {
		cfg.Username, cfg.Password = login[0], login[1]
	}
	c, err := consumer.New(cfg, consumer.WithBackoff(50*time.Millisecond, time.Second))
	if err != nil {
		return err
	}
	defer c.Close()
	return c.Run(ctx, h)
}

// Residence is the residence registration office (C06, Ministry of Public
// Security): a newborn is registered as a permanent resident in the
// mother's household; a deceased person's registration is removed.
type Residence struct {
	// Households maps a resident's personal number to the household
	// (here: the personal number of its head) where they are registered.
	mu         sync.Mutex
	Households map[string]string
	Received   []Received // what the agreements released, for the log and tests
}

// Received is one delivered event as an agency saw it.
type Received struct {
	Dataset, Agreement string
	Fields             map[string]any
}

// NewResidence starts with the households of adults already registered.
func NewResidence(households map[string]string) *Residence {
	h := map[string]string{}
	for k, v := range households {
		h[k] = v
	}
	return &Residence{Households: h}
}

// Run reads C06's delivery topics until ctx ends.
func (r *Residence) Run(ctx context.Context, b Bus) error {
	return b.consume(ctx, "mps-c06", []string{"civil_status.birth_registration", "civil_status.death_registration"}, r.handle)
}

func (r *Residence) handle(_ context.Context, e consumer.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.Received = append(r.Received, Received{Dataset: e.Dataset, Agreement: e.Agreement, Fields: e.After})
	switch e.Dataset {
	case "civil_status.birth_registration":
		child, _ := e.After["child_cccd"].(string)
		mother, _ := e.After["mother_cccd"].(string)
		household, ok := r.Households[mother]
		if !ok {
			// The mother has no registered residence: a clerk must act;
			// never guess an address.
			return consumer.Permanent(fmt.Errorf("residence: mother of birth %v has no registered residence", e.After["registration_no"]))
		}
		r.Households[child] = household
	case "civil_status.death_registration":
		delete(r.Households, fmt.Sprint(e.After["deceased_cccd"]))
	}
	return nil
}

// Snapshot returns a copy of the households and what was received.
func (r *Residence) Snapshot() (map[string]string, []Received) {
	r.mu.Lock()
	defer r.mu.Unlock()
	h := map[string]string{}
	for k, v := range r.Households {
		h[k] = v
	}
	return h, append([]Received(nil), r.Received...)
}

// Card is a health insurance card in Vietnam Social Security's system.
type Card struct {
	No, PersonalID, ValidTo string
	Row                     map[string]any // as published on insurance.health_insurance_card
}

// Insurance is Vietnam Social Security: it issues a card to every child
// under 6 whose birth is registered (Law on Health Insurance, art. 12) and
// publishes it to the bus as the insurance source; on a death it ends the
// person's card and stops their pension.
type Insurance struct {
	bus      Bus
	mu       sync.Mutex
	Cards    map[string]Card // by personal number
	Pensions map[string]Pension
	Received []Received
}

// Pension is a pension being paid, in VSS's own system.
type Pension struct {
	PersonalID string
	Monthly    int64  // VND
	StoppedOn  string // date of death once stopped
}

// NewInsurance starts with the cards and pensions VSS already has.
func NewInsurance(b Bus, cards []Card, pensions []Pension) *Insurance {
	in := &Insurance{bus: b, Cards: map[string]Card{}, Pensions: map[string]Pension{}}
	for _, c := range cards {
		in.Cards[c.PersonalID] = c
	}
	for _, p := range pensions {
		in.Pensions[p.PersonalID] = p
	}
	return in
}

// Run reads VSS's delivery topics until ctx ends.
func (in *Insurance) Run(ctx context.Context) error {
	return in.bus.consume(ctx, "vss", []string{"civil_status.birth_registration", "civil_status.death_registration"}, in.handle)
}

func (in *Insurance) handle(ctx context.Context, e consumer.Event) error {
	in.mu.Lock()
	in.Received = append(in.Received, Received{Dataset: e.Dataset, Agreement: e.Agreement, Fields: e.After})
	in.mu.Unlock()
	switch e.Dataset {
	case "civil_status.birth_registration":
		return in.issueChildCard(ctx, e)
	case "civil_status.death_registration":
		return in.endBenefits(ctx, e)
	}
	return nil
}

// issueChildCard issues a TE (child under 6) card valid until the day
// before the sixth birthday and publishes it. The card number is derived
// from the birth registration so a redelivered event re-issues the same
// card (the push is idempotent too).
func (in *Insurance) issueChildCard(ctx context.Context, e consumer.Event) error {
	id, _ := e.After["child_cccd"].(string)
	dob, err := time.Parse(time.DateOnly, fmt.Sprint(e.After["child_dob"]))
	if err != nil {
		return consumer.Permanent(fmt.Errorf("insurance: birth %v has no usable date of birth: %w", e.After["registration_no"], err))
	}
	if time.Since(dob) > 6*366*24*time.Hour {
		return nil // not a child under 6: no card under this procedure
	}
	in.mu.Lock()
	card, exists := in.Cards[id]
	in.mu.Unlock()
	if !exists {
		// TE + benefit level 1 + province (2 digits) + 10 digits from the
		// child's number: 15 characters.
		province := fmt.Sprint(e.After["birth_province"])
		card = Card{No: "TE1" + province[1:] + id[2:], PersonalID: id, ValidTo: dob.AddDate(6, 0, -1).Format(time.DateOnly)}
		card.Row = map[string]any{
			"card_no": card.No, "cccd": id, "full_name": e.After["child_name"], "dob": e.After["child_dob"], "sex": e.After["child_sex"],
			"beneficiary_group": "TE", "benefit_level": 1, "hospital_code": province[1:] + "001",
			"valid_from": dob.Format(time.DateOnly), "valid_to": card.ValidTo,
		}
	}
	if err := in.bus.Push(ctx, "insurance", "card-"+card.No, PushRecord{Dataset: "insurance.health_insurance_card", Op: "c", After: card.Row}); err != nil {
		return err // retried by the consumer, not committed
	}
	in.mu.Lock()
	in.Cards[id] = card
	in.mu.Unlock()
	return nil
}

// endBenefits stops the pension and ends the card on the date of death.
func (in *Insurance) endBenefits(ctx context.Context, e consumer.Event) error {
	id := fmt.Sprint(e.After["deceased_cccd"])
	died := fmt.Sprint(e.After["date_of_death"])
	in.mu.Lock()
	if p, ok := in.Pensions[id]; ok && p.StoppedOn == "" {
		p.StoppedOn = died
		in.Pensions[id] = p
	}
	card, hasCard := in.Cards[id]
	in.mu.Unlock()
	if !hasCard || card.ValidTo == died {
		return nil
	}
	after := map[string]any{}
	for k, v := range card.Row {
		after[k] = v
	}
	after["valid_to"] = died
	if err := in.bus.Push(ctx, "insurance", "card-end-"+card.No, PushRecord{Dataset: "insurance.health_insurance_card", Op: "u", Before: card.Row, After: after}); err != nil {
		return err
	}
	in.mu.Lock()
	card.ValidTo, card.Row = died, after
	in.Cards[id] = card
	in.mu.Unlock()
	return nil
}

// Snapshot returns copies of the cards, pensions and what was received.
func (in *Insurance) Snapshot() (map[string]Card, map[string]Pension, []Received) {
	in.mu.Lock()
	defer in.mu.Unlock()
	cards, pensions := map[string]Card{}, map[string]Pension{}
	for k, v := range in.Cards {
		cards[k] = v
	}
	for k, v := range in.Pensions {
		pensions[k] = v
	}
	return cards, pensions, append([]Received(nil), in.Received...)
}

// FieldNames lists a received record's fields, sorted, for the log.
func FieldNames(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
