package synthetic

import (
	"github.com/lgsp-bus/lgsp/broker/store"
	"github.com/lgsp-bus/lgsp/connectors"
)

// PopulationSource is the source name of the population register's own
// change stream, which keeps the bus's reconciliation index current.
const PopulationSource = "population"

// PopulationDataset is its catalog dataset.
const PopulationDataset = "population.citizen"

// PopulationChange returns record i of the population change stream of a
// register that started with n citizens: every tenth record is the death of
// an existing citizen (an update with deceased true), the others register a
// new citizen (citizen n+i of the same seed, so numbers stay unique). It is a
// pure function of (seed, n, i), like Stream.
func PopulationChange(seed int64, n int, i uint64) (op connectors.Op, row map[string]any) {
	if i%10 == 9 {
		r := newRNG(seed, strHash(PopulationSource), i)
		c := Citizen(seed, r.intn(n))
		c.Deceased = true
		return connectors.OpUpdate, citizenRow(c)
	}
	return connectors.OpCreate, citizenRow(Citizen(seed, n+int(i)))
}

func citizenRow(c store.Citizen) map[string]any {
	row := map[string]any{"personal_id": c.ID, "full_name": c.FullName, "dob": c.DOB, "sex": c.Sex,
		"birth_province": c.BirthProvince, "deceased": c.Deceased, "old_cmnd": nil}
	if c.OldID != "" {
		row["old_cmnd"] = c.OldID
	}
	return row
}
