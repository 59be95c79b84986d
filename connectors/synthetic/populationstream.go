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
		// a change carries the whole row: the residence too, or it is lost
		c := RegisteredCitizen(seed, r.intn(n))
		c.Deceased = true
		return connectors.OpUpdate, citizenRow(c)
	}
	return connectors.OpCreate, citizenRow(RegisteredCitizen(seed, n+int(i)))
}

// RegisteredCitizen is citizen i with the registered residence of the
// synthetic geography (the address lgsp gen's extracts are corrupted
// from): the row the register holds. lgsp dev seeds the bus's register
// with citizens 0…n-1 of it.
func RegisteredCitizen(seed int64, i int) contract.Citizen {
	c := Citizen(seed, i)
	c.Residence = Residence(seed, i).Line
	return c
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
