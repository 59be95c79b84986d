package store

import "fmt"

// PageSize is the effective page size of ListAudit for q (100 when unset).
func (q AuditQuery) PageSize() int {
	if q.Limit <= 0 {
		return 100
	}
	return q.Limit
}

// CheckAuditBatch rejects a batch whose Seq values are not consecutive (a
// duplicate or a gap inside the batch) before a backend writes anything.
func CheckAuditBatch(entries []AuditEntry) error {
	first := entries[0].Seq
	if first < 1 {
		return fmt.Errorf("first entry has seq %d; seq starts at 1", first)
	}
	for i := range entries {
		if want := first + int64(i); entries[i].Seq != want {
			return fmt.Errorf("entry %d of the batch has seq %d, want %d: seq must be consecutive without duplicates or gaps; nothing was stored", i, entries[i].Seq, want)
		}
	}
	return nil
}

// CheckCitizens rejects a batch with an empty ID. Its messages give the
// position in the batch, never a personal number.
func CheckCitizens(cs []Citizen) error {
	for i := range cs {
		if cs[i].ID == "" {
			return fmt.Errorf("citizen #%d of the batch has an empty ID; nothing was stored", i)
		}
	}
	return nil
}
