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
	return ScanPopulationMapped(in, f, nil, columns, fn)
}

// populationCheckRows: a mapped population file's first rows are checked
// together (CheckSample) before the rest is read.
const populationCheckRows = 1000

// ScanPopulationMapped is ScanPopulationRows for a register with columns of
// its own, such as another ministry's file: pm says which columns hold the
// personal number (12 digits; the index and the blocking key on it), the
// CMND, the name or its parts, the date of birth and its layouts, the sex
// (M/F, Nam/Nữ, …) and the province of birth, as a Mapping does for the
// records (its record_id is not read). nil reads PopulationColumns. It
// fails at the start when the mapping names a column the file lacks or
// leaves out the number, the name, the date or the sex, and after the
// first rows when no date is read by the layouts, no number has 12 digits,
// or the names are in another encoding (see CheckSample). A "deceased"
// column, when the file has one, is read as in PopulationColumns.
func ScanPopulationMapped(in io.Reader, f Format, pm *Mapping, columns []string, fn func(c store.Citizen, extra []string) bool) (PopulationScan, error) {
	var st PopulationScan
	rows, err := newRowReader(in, f)
	if err != nil {
		return st, err
	}
	if pm != nil {
		switch {
		case pm.PersonalID == "":
			return st, errors.New("linkage: the population mapping names no personal_id column: the register is keyed by the 12-digit personal number")
		case pm.FullName == "" && pm.Given == "":
			return st, errors.New("linkage: the population mapping names no name column (full_name or given_name)")
		case pm.DOB == "":
			return st, errors.New("linkage: the population mapping names no dob column: the register's blocking keys on the date of birth")
		case pm.Sex == "":
			return st, errors.New("linkage: the population mapping names no sex column: the register's index keeps every citizen's sex (a file without one cannot be the population side; reconcile it as the records instead)")
		}
		if h := rows.header(); h != nil {
			if err := pm.Check(h, true); err != nil {
				return st, fmt.Errorf("%w (population file)", err)
			}
			have := map[string]bool{}
			for _, c := range h {
				have[strings.TrimSpace(strings.TrimPrefix(c, "\uFEFF"))] = true
			}
			for _, c := range columns {
				if !have[c] {
					return st, fmt.Errorf("linkage: the mapping compares with population column %q, which the population file does not have", c)
				}
			}
		}
		return scanMapped(rows, *pm, columns, fn)
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

// scanMapped reads a population file through a mapping; the first rows are
// held back until CheckSample has seen them.
func scanMapped(rows rowReader, pm Mapping, columns []string, fn func(c store.Citizen, extra []string) bool) (PopulationScan, error) {
	var st PopulationScan
	type row struct {
		c     store.Citizen
		extra []string
	}
	var held []row
	var sample []Record
	checked := false
	emit := func(r row) bool { return fn(r.c, r.extra) }
	check := func() error {
		checked = true
		if err := CheckSample(sample, pm); err != nil {
			return fmt.Errorf("%w (population file)", err)
		}
		for _, r := range held {
			if !emit(r) {
				return errStopScan
			}
		}
		held, sample = nil, nil
		return nil
	}
	for {
		get, err := rows.next()
		if errors.Is(err, io.EOF) {
			break
		}
		st.Rows++
		if err != nil {
			if !isRowError(err) {
				return st, fmt.Errorf("linkage: reading the population file: %w", err)
			}
			st.Unreadable++
			continue
		}
		rec := pm.Record(get)
		c := store.Citizen{ID: rec.PersonalID, OldID: rec.OldID, FullName: rec.Name, DOB: rec.DOB, Sex: normSex(rec.Sex), BirthProvince: rec.Province}
		if c.BirthProvince == "" && len(c.ID) == 12 {
			c.BirthProvince = c.ID[:3]
		}
		switch strings.ToLower(strings.TrimSpace(get("deceased"))) {
		case "true", "1", "yes", "y", "t":
			c.Deceased = true
		}
		r := row{c: c, extra: make([]string, len(columns))}
		for k, col := range columns {
			r.extra[k] = strings.TrimSpace(get(col))
		}
		if !checked {
			held, sample = append(held, r), append(sample, rec)
			if len(sample) == populationCheckRows {
				if err := check(); err != nil {
					if errors.Is(err, errStopScan) {
						return st, nil
					}
					return st, err
				}
			}
			continue
		}
		if !emit(r) {
			return st, nil
		}
	}
	if !checked {
		if err := check(); err != nil && !errors.Is(err, errStopScan) {
			return st, err
		}
	}
	return st, nil
}

var errStopScan = errors.New("stop")
