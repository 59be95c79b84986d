package quality

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/lgsp-bus/lgsp/broker/identity"
	"github.com/lgsp-bus/lgsp/broker/store"
)

// KindRegisterChangeNotReflected is the kind of the other "alive" finding:
// the register changed a citizen's name or residence, and after
// Config.ReflectWithin a dataset's current row about that citizen still
// does not carry the new value.
const KindRegisterChangeNotReflected = "register_change_not_reflected"

// Register fields a dataset is expected to reflect.
const (
	FieldName      = "name"
	FieldResidence = "residence"
)

// reflectSweepEvery is how often Run looks for register changes past
// ReflectWithin (the findings are days late by nature).
const reflectSweepEvery = time.Minute

// reflectColumns are the row columns of d that must follow the register,
// by register field: the identity name, and the residence where the
// dataset keeps the person's own address (Config.ResidenceFields). None
// for the register itself, datasets about no person, and the exempt ones.
func (q *Quality) reflectColumns(d *dataset) map[string]string {
	if d == nil || d.Register || d.Identity.ID == "" || q.exempt(d.Name) || contains(q.cfg.ReflectExempt, d.Name) {
		return nil
	}
	cols := map[string]string{}
	if d.Identity.Name != "" {
		cols[FieldName] = d.Identity.Name
	}
	if c := q.cfg.ResidenceFields[d.Name]; c != "" {
		cols[FieldResidence] = c
	}
	return cols
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// valueHash is the keyed hash the store keeps of a register value, in
// comparison form (identity.Normalize: case, spacing and tone-mark
// placement do not count).
func (q *Quality) valueHash(field, value string) string {
	return q.cfg.CitizenKey("register-value\x00" + field + "\x00" + identity.Normalize(value))
}

func rowString(row []byte, col string) (map[string]any, string) {
	var m map[string]any
	_ = json.Unmarshal(row, &m)
	s, _ := m[col].(string)
	return m, s
}

// noteRegisterChange compares the register's name and residence of c with
// the current rows of every dataset about the citizen: a dataset that
// does not carry them is noted (the clock starts, or keeps running if the
// same value was noted before); one that does has nothing left to reflect.
func (q *Quality) noteRegisterChange(ctx context.Context, citizenKey string, c store.Citizen) error {
	now := q.cfg.Now()
	values := map[string]string{FieldName: c.FullName, FieldResidence: c.Residence}
	var note, resolve []store.RegisterChange
	for _, d := range q.datasets {
		cols := q.reflectColumns(d)
		if len(cols) == 0 {
			continue
		}
		rows, err := q.cfg.Store.StateByCitizen(ctx, d.Name, citizenKey, 100)
		if err != nil {
			return err
		}
		if len(rows) == 0 {
			continue // no active row about the citizen: nothing to reflect
		}
		for field, col := range cols {
			if values[field] == "" {
				continue // unknown to the register: nothing to expect
			}
			ch := store.RegisterChange{Source: d.Owner, Dataset: d.Name, CitizenKey: citizenKey, Field: field,
				Expected: q.valueHash(field, values[field]), Changed: now}
			if _, ok := q.unreflected(rows, col, field, ch.Expected); ok {
				note = append(note, ch)
			} else {
				resolve = append(resolve, ch)
			}
		}
	}
	if err := q.cfg.Store.ResolveRegisterChanges(ctx, resolve); err != nil {
		return err
	}
	return q.cfg.Store.NoteRegisterChanges(ctx, note)
}

// unreflected returns the first row whose col does not carry the value of
// hash expected.
func (q *Quality) unreflected(rows []store.StateRow, col, field, expected string) (store.StateRow, bool) {
	for _, r := range rows {
		if _, v := rowString(r.Row, col); q.valueHash(field, v) != expected {
			return r, true
		}
	}
	return store.StateRow{}, false
}

// sweepUnreflected turns the register changes noted more than
// ReflectWithin ago that a dataset's current rows still do not carry into
// alive findings. Several instances may sweep the same change: the
// finding's event id makes it, and counts it, once.
func (q *Quality) sweepUnreflected(ctx context.Context) error {
	now := q.cfg.Now()
	if !q.lastSweep.IsZero() && now.Sub(q.lastSweep) < reflectSweepEvery {
		return nil
	}
	q.lastSweep = now
	const page = 500
	for ctx.Err() == nil {
		due, err := q.cfg.Store.DueRegisterChanges(ctx, now.Add(-q.cfg.ReflectWithin), page)
		if err != nil {
			return err
		}
		for _, ch := range due {
			if err := q.settleDue(ctx, ch, now); err != nil {
				return err
			}
		}
		if len(due) < page {
			return nil
		}
	}
	return ctx.Err()
}

// settleDue makes the finding of one due change, if a current row still
// does not carry it, and forgets the change.
func (q *Quality) settleDue(ctx context.Context, ch store.RegisterChange, now time.Time) error {
	d := q.datasets[ch.Dataset]
	if col := q.reflectColumns(d)[ch.Field]; col != "" {
		rows, err := q.cfg.Store.StateByCitizen(ctx, d.Name, ch.CitizenKey, 100)
		if err != nil {
			return err
		}
		if r, ok := q.unreflected(rows, col, ch.Field, ch.Expected); ok {
			row, _ := rowString(r.Row, col)
			rec, _ := json.Marshal(map[string]any{"dataset": d.Name, "op": "r", "after": row})
			days := int(now.Sub(ch.Changed).Hours() / 24)
			it := store.QualityItem{EventID: "reflect:" + d.Name + ":" + ch.Field + ":" + ch.CitizenKey + ":" + strconv.FormatInt(ch.Changed.UnixMilli(), 10),
				Source: d.Owner, Connector: d.Owner, Dataset: d.Name, Kind: KindRegisterChangeNotReflected, Path: "$.after." + col,
				Reason: fmt.Sprintf("the register changed this citizen's %s on %s; on %s, %d days later, this record still does not carry it: update it at the source",
					ch.Field, ch.Changed.In(q.cfg.Zone).Format(time.DateOnly), now.In(q.cfg.Zone).Format(time.DateOnly), days),
				Record: rec, EntityKey: r.Key, CitizenKey: ch.CitizenKey}
			added, err := q.cfg.Store.AddQualityItems(ctx, []store.QualityItem{it}, now)
			if err != nil {
				return err
			}
			if added == 1 {
				q.cfg.Metrics.ItemsCreated(1)
				q.mu.Lock()
				q.agg(aggKey{d.Owner, d.Name, q.Day(now)}, d).c.Unreflected++
				q.mu.Unlock()
			}
		}
	}
	return q.cfg.Store.ResolveRegisterChanges(ctx, []store.RegisterChange{ch})
}
