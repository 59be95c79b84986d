package pgcdc

import (
	"github.com/jackc/pglogrepl"
	"github.com/lgsp-bus/lgsp/connectors"
	"github.com/lgsp-bus/lgsp/connectors/internal/pgvalue"
)

// rowPlan says where each column of a result (or of a replicated
// relation) lands in the record: the dataset field, unless the mapping
// drops the column. With it a row decodes straight into the record's map,
// instead of into a map by column name that ColumnMapping.Apply then
// copies; that copy was a third of the connector's time per row. A mapping
// that recodes values or sets fields keeps the general path (direct is
// false): the row by column name, then Apply.
type rowPlan struct {
	names  []string // the columns, in order
	fields []string // the field each column becomes
	keep   []bool   // false: the mapping drops the column
	size   int      // fields of a mapped row, for the map's size hint
	direct bool
}

func newRowPlan(m connectors.ColumnMapping, names []string) *rowPlan {
	p := &rowPlan{names: names, fields: make([]string, len(names)), keep: make([]bool, len(names)), direct: len(m.Values) == 0 && len(m.Set) == 0}
	for i, n := range names {
		if len(m.Columns) == 0 {
			p.fields[i], p.keep[i] = n, true
		} else {
			p.fields[i], p.keep[i] = m.Columns[n]
		}
		if p.keep[i] {
			p.size++
		}
	}
	return p
}

// relationPlan is the plan of a replicated relation's columns.
func relationPlan(info *tableInfo, rel *pglogrepl.RelationMessage) *rowPlan {
	names := make([]string, len(rel.Columns))
	for i, c := range rel.Columns {
		names[i] = c.Name
	}
	return newRowPlan(info.mapping, names)
}

// newRow is the map column values are decoded into: by field when the
// plan is direct, else by column name (for Apply).
func (p *rowPlan) newRow() map[string]any {
	if p.direct {
		return make(map[string]any, p.size)
	}
	return make(map[string]any, len(p.names))
}

// set puts column i's value into a row made by newRow.
func (p *rowPlan) set(row map[string]any, i int, v any) {
	if !p.direct {
		row[p.names[i]] = v
	} else if p.keep[i] {
		row[p.fields[i]] = v
	}
}

// wants reports whether column i is needed, so that a dropped column is
// not decoded at all.
func (p *rowPlan) wants(i int) bool { return !p.direct || p.keep[i] }

// record is the mapped record of a row made by newRow and filled by set.
func (p *rowPlan) record(m connectors.ColumnMapping, row map[string]any) map[string]any {
	if p.direct {
		return row
	}
	return m.Apply(row)
}

// tupleRecord decodes a replicated tuple that needs no old row (an insert,
// or an update without the old row) straight into its mapped record: the
// same as mapping.Apply(tupleRow(rel, t, false, nil)).
func tupleRecord(rel *pglogrepl.RelationMessage, plan *rowPlan, m connectors.ColumnMapping, t *pglogrepl.TupleData) map[string]any {
	if rel == nil || t == nil {
		return nil
	}
	row := plan.newRow()
	for i, col := range t.Columns {
		if i >= len(rel.Columns) {
			break
		}
		if !plan.wants(i) {
			continue
		}
		switch col.DataType {
		case pglogrepl.TupleDataTypeNull:
			plan.set(row, i, nil)
		case pglogrepl.TupleDataTypeText:
			plan.set(row, i, pgvalue.Decode(rel.Columns[i].DataType, col.Data))
		}
	}
	return plan.record(m, row)
}
