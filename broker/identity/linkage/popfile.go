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
// province_code; a missing birth province is taken from the number;
// residence (the registered address) is optional. A file may have more
// columns, which a mapping's extra fields can name (ScanPopulationRows).
var PopulationColumns = []string{"personal_id", "old_cmnd", "full_name", "dob", "sex", "birth_province", "deceased", "residence"}

// CitizenColumn is a citizen's value of one of PopulationColumns ("" for
// another column): the extra values of a register that keeps only these
// columns, such as the bus's store (which keeps the residence since
// migration 0007).
func CitizenColumn(c store.Citizen, col string) string {
	switch col {
	case "personal_id":
		return c.ID
	case "old_cmnd":
		return c.OldID
	case "full_name":
		return c.FullName
	case "dob":
		return c.DOB
	case "sex":
		return c.Sex
	case "birth_province", "province_code":
		return c.BirthProvince
	case "residence":
		return c.Residence
	}
	return ""
}

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
	return ScanPopulationRows(in, f, nil, func(c store.Citizen, _ []string) bool { return fn(c) })
}

// ndjsonColumnRows: an NDJSON population file has no header, so a column
// that none of its first ndjsonColumnRows objects has is taken as missing.
const ndjsonColumnRows = 10_000

// ScanPopulationRows is ScanPopulation also reading the named columns of
// each row (a mapping's PopulationColumns) into extra, in their order; fn
// must not keep the slice. It fails at the start when a CSV header lacks
// one of them, and after the first rows of NDJSON when none of them has the
// key, naming the column.
func ScanPopulationRows(in io.Reader, f Format, columns []string, fn func(c store.Citizen, extra []string) bool) (PopulationScan, error) {
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
		for _, c := range columns {
			if !have[c] {
				return st, fmt.Errorf("linkage: the mapping compares with population column %q, which the population file does not have", c)
			}
		}
		if !have[prov] && have["province_code"] {
			prov = "province_code"
		}
	}
	jr, _ := rows.(*jsonRows)
	if jr != nil && len(columns) > 0 {
		jr.seen = map[string]bool{}
	}
	extra := make([]string, len(columns))
	for {
		if jr != nil && jr.seen != nil && st.Rows == ndjsonColumnRows {
			if err := checkSeen(jr.seen, columns, st.Rows); err != nil {
				return st, err
			}
			jr.seen = nil
		}
		get, err := rows.next()
		if errors.Is(err, io.EOF) {
			if jr != nil && jr.seen != nil && st.Rows > 0 {
				return st, checkSeen(jr.seen, columns, st.Rows)
			}
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
			Residence:     strings.TrimSpace(get("residence")),
		}
		for k, col := range columns {
			extra[k] = strings.TrimSpace(get(col))
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
		if !fn(c, extra) {
			return st, nil
		}
	}
}

func checkSeen(seen map[string]bool, columns []string, rows int) error {
	for _, c := range columns {
		if !seen[c] {
			return fmt.Errorf("linkage: the mapping compares with population column %q, which none of the first %d objects of the population file has", c, rows)
		}
	}
	return nil
}
