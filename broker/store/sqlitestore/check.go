package sqlitestore

import (
	"fmt"

	"github.com/lgsp-bus/lgsp/broker/store"
)

// defaultAuditLimit is the page size of ListAudit when the query gives none.
const defaultAuditLimit = 100

func auditLimit(n int) int {
	if n <= 0 {
		return defaultAuditLimit
	}
	return n
}

// checkAuditBatch rejects a batch whose Seq values are not consecutive
// (a duplicate or a gap inside the batch) before anything touches the file.
func checkAuditBatch(entries []store.AuditEntry) error {
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

// checkCitizens rejects a batch with an empty ID. Its messages give the
// position in the batch, never a personal number.
func checkCitizens(cs []store.Citizen) error {
	for i := range cs {
		if cs[i].ID == "" {
			return fmt.Errorf("citizen #%d of the batch has an empty ID; nothing was stored", i)
		}
	}
	return nil
}
