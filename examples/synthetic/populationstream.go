package synthetic

import (
	"github.com/lgsp-bus/lgsp/connectors"
	"github.com/lgsp-bus/lgsp/connectors/contract"
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
		k := r.intn(n)
		c := Citizen(seed, k)
		c.Deceased = true
		// a change carries the whole row: the residence too, or it is lost
		c.Residence = Residence(seed, k).Line
		return connectors.OpUpdate, citizenRow(c)
	}
	c := Citizen(seed, n+int(i))
	c.Residence = Residence(seed, n+int(i)).Line
	return connectors.OpCreate, citizenRow(c)
}

func citizenRow(c contract.Citizen) map[string]any {
	row := map[string]any{"personal_id": c.ID, "full_name": c.FullName, "dob": c.DOB, "sex": c.Sex,
		"birth_province": c.BirthProvince, "deceased": c.Deceased, "old_cmnd": nil}
	if c.OldID != "" {
		row["old_cmnd"] = c.OldID
	}
	if c.Residence != "" {
		row["residence"] = c.Residence
	}
	return row
}
