// Package population keeps the population register current from the
// population database's change stream: every change published on
// population.citizen.v1 (a registration, a correction, a move, a death) is
// written to the store's register, residence included, and applied to the
// live reconciliation index, so records reconciled after it see it.
package population

import (
	"context"
	"encoding/json"
	"log/slog"
	"time"

	"github.com/lgsp-bus/lgsp/broker/kafkaio"
	"github.com/lgsp-bus/lgsp/broker/store"
	"github.com/lgsp-bus/lgsp/connectors/contract"
	"github.com/segmentio/kafka-go"
)

// Topic is the canonical topic of population changes.
const Topic = "population.citizen.v1"

// Index is the live index being kept current.
type Index interface {
	Add(c store.Citizen) error
}

// Updater consumes the population topic.
type Updater struct {
	reader *kafka.Reader
	st     store.PopulationStore
	idx    Index
	log    *slog.Logger
}

// GroupID is the consumer group of one instance's updater: a group of its
// own, since every instance's index must see every change of the register
// (a shared group would give each only its own partitions). Writing the
// register again from every instance is harmless: a row is the citizen's
// whole state, written in the order of its partition.
func GroupID(instance string) string { return "lgsp-population." + instance }

// New prepares an updater in the consumer group of the given instance.
func New(cl kafkaio.Cluster, instance string, st store.PopulationStore, idx Index, log *slog.Logger) *Updater {
	if log == nil {
		log = slog.Default()
	}
	return &Updater{st: st, idx: idx, log: log, reader: kafka.NewReader(kafka.ReaderConfig{
		Brokers: cl.Brokers, Dialer: cl.Dialer(), GroupID: GroupID(instance), Topic: Topic, StartOffset: kafka.FirstOffset,
		MaxWait: time.Second, CommitInterval: 0,
	})}
}

// Close stops the reader.
func (u *Updater) Close() error { return u.reader.Close() }

// Citizen converts a published population row. Its residence (optional:
// absent or null when unknown) becomes the citizen's Residence, "" when
// unknown, so a row without one clears what the register had: a row is
// the citizen's whole current state.
func Citizen(row map[string]any) (store.Citizen, bool) {
	s := func(k string) string { v, _ := row[k].(string); return v }
	c := store.Citizen{ID: s("personal_id"), OldID: s("old_cmnd"), FullName: s("full_name"), DOB: s("dob"), Sex: s("sex"), BirthProvince: s("birth_province"),
		Residence: s("residence")}
	c.Deceased, _ = row["deceased"].(bool)
	return c, c.ID != ""
}

// Run applies changes until ctx ends: the store first (durable), then the
// index, then the commit; a failure is retried without committing.
func (u *Updater) Run(ctx context.Context) {
	for ctx.Err() == nil {
		m, err := u.reader.FetchMessage(ctx)
		if err != nil {
			continue
		}
		batch := []kafka.Message{m}
		gather, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		for len(batch) < 1000 {
			m, err := u.reader.FetchMessage(gather)
			if err != nil {
				break
			}
			batch = append(batch, m)
		}
		cancel()
		var cs []store.Citizen
		for _, m := range batch {
			_, payload, err := contract.SplitWire(m.Value)
			var ch struct {
				Op    string         `json:"op"`
				After map[string]any `json:"after"`
			}
			if err != nil || json.Unmarshal(payload, &ch) != nil || ch.After == nil {
				continue // deletes and unreadable values change nothing in the register
			}
			if c, ok := Citizen(ch.After); ok {
				cs = append(cs, c)
			}
		}
		for len(cs) > 0 && ctx.Err() == nil {
			if err := u.st.PutCitizens(ctx, cs); err != nil {
				u.log.Warn("population update not stored, retrying", "error", err, "citizens", len(cs))
				time.Sleep(time.Second)
				continue
			}
			skipped := 0
			for _, c := range cs {
				if u.idx.Add(c) != nil {
					skipped++
				}
			}
			if skipped > 0 {
				u.log.Warn("population rows not indexed: malformed", "rows", skipped)
			}
			break
		}
		if ctx.Err() == nil {
			_ = u.reader.CommitMessages(ctx, batch...)
		}
	}
}
