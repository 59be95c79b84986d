package linkage

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/lgsp-bus/lgsp/broker/store"
)

// PopulationColumns are the columns of a population snapshot file (CSV
// with a header, or NDJSON objects with these keys), the same as the rows
// of the population change stream. birth_province may also be called
// province_code; a missing birth province is taken from the number.
var PopulationColumns = []string{"personal_id", "old_cmnd", "full_name", "dob", "sex", "birth_province", "deceased"}

// PopulationScan counts what ScanPopulation read.
type PopulationScan struct {
	Rows       int `json:"rows"`
	Unreadable int `json:"unreadable"` // rows that are not CSV / JSON
}

// ScanPopulation reads a population snapshot file and calls fn with each
// citizen, in file order, until fn returns false. It fails at the start
// when a CSV header lacks personal_id, full_name or dob. Rows that cannot be
// read are counted and skipped; whether a citizen is well-formed is for fn
// to decide (identity.Index.Add and NewPopulation say why they refuse one).
func ScanPopulation(in io.Reader, f Format, fn func(store.Citizen) bool) (PopulationScan, error) {
	var st PopulationScan
	rows, err := newRowReader(in, f)
	if err != nil {
		return st, err
	}
	prov := "birth_province"
	if h := rows.header(); h != nil {
		have := map[string]bool{}
		for _, c := range h {
			have[strings.TrimSpace(strings.TrimPrefix(c, "\uFEFF"))] = true
		}
		for _, c := range []string{"personal_id", "full_name", "dob"} {
			if !have[c] {
				return st, fmt.Errorf("linkage: the population file has no column %q (columns: %s)", c, strings.Join(PopulationColumns, ", "))
			}
		}
		if !have[prov] && have["province_code"] {
			prov = "province_code"
		}
	}
	for {
		get, err := rows.next()
		if errors.Is(err, io.EOF) {
			return st, nil
		}
		st.Rows++
		if err != nil {
			if !isRowError(err) {
				return st, fmt.Errorf("linkage: reading the population file: %w", err)
			}
			st.Unreadable++
			continue
		}
		c := store.Citizen{
			ID:            strings.TrimSpace(get("personal_id")),
			OldID:         strings.TrimSpace(get("old_cmnd")),
			FullName:      strings.TrimSpace(get("full_name")),
			DOB:           strings.TrimSpace(get("dob")),
			Sex:           normSex(get("sex")),
			BirthProvince: strings.TrimSpace(get(prov)),
		}
		if c.BirthProvince == "" && f == NDJSON {
			c.BirthProvince = strings.TrimSpace(get("province_code"))
		}
		if c.BirthProvince == "" && len(c.ID) == 12 {
			c.BirthProvince = c.ID[:3]
		}
		switch strings.ToLower(strings.TrimSpace(get("deceased"))) {
		case "true", "1", "yes", "y", "t":
			c.Deceased = true
		}
		if !fn(c) {
			return st, nil
		}
	}
}
