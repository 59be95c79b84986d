package linkage

import (
	"errors"
	"fmt"
	"io"
	"strconv"
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
	// Skipped counts the rows of a mapped file left out because a value
	// the population needs cannot be read, by reason (naming the column,
	// never the value: it is personal data).
	Skipped map[string]int `json:"skipped,omitempty"`
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
// id (a 12-digit personal number, or another format: Mapping.IDFormat),
// the CMND, the name or its parts, the date of birth and its layouts, the
// sex (M/F, Nam/Nữ, …) and the province of birth, as a Mapping does for
// the records. nil reads PopulationColumns. Without a personal_id column a
// row is named by its record_id column, or else "row:N" (its row number).
// For a population in the packed form (pm.GeneralPopulation) a row needs
// a 12-digit number, a date and a sex; in the general form a name and an
// id, and its date and sex, when given, must be read. Other rows are
// skipped and counted in PopulationScan.Skipped by reason, naming the
// column. It fails at the start when the mapping names a column the file
// lacks or leaves out the name or the date, and after the first rows when
// no date is read by the layouts, no id is in its format, or the names are
// in another encoding (see CheckSample). A "deceased" column, when the
// file has one, is read as in PopulationColumns.
func ScanPopulationMapped(in io.Reader, f Format, pm *Mapping, columns []string, fn func(c store.Citizen, extra []string) bool) (PopulationScan, error) {
	var st PopulationScan
	rows, err := newRowReader(in, f)
	if err != nil {
		return st, err
	}
	if pm != nil {
		switch {
		case pm.FullName == "" && pm.Given == "":
			return st, errors.New("linkage: the population mapping names no name column (full_name or given_name)")
		case pm.DOB == "":
			return st, errors.New("linkage: the population mapping names no dob column: the register's blocking keys on the date of birth")
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
		skip  string // why the row is left out, "" = kept
	}
	form := pm.GeneralPopulation()
	var held []row
	var sample []Record
	checked := false
	emit := func(r row) bool {
		if r.skip != "" {
			if st.Skipped == nil {
				st.Skipped = map[string]int{}
			}
			st.Skipped[r.skip]++
			return true
		}
		return fn(r.c, r.extra)
	}
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
		if pm.PersonalID == "" {
			c.ID = rec.ID
			if pm.RecordID == "" {
				c.ID = "row:" + strconv.Itoa(st.Rows)
			}
		}
		if c.BirthProvince == "" && len(c.ID) == 12 && form.CCCD {
			c.BirthProvince = c.ID[:3]
		}
		switch strings.ToLower(strings.TrimSpace(get("deceased"))) {
		case "true", "1", "yes", "y", "t":
			c.Deceased = true
		}
		r := row{c: c, extra: make([]string, len(columns)), skip: skipReason(pm, form, rec, get)}
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

// skipReason says why a population row read through pm cannot be a
// citizen of a population in the given form, naming the column ("" when
// it can).
func skipReason(pm Mapping, form PopulationOptions, rec Record, get func(string) string) string {
	nameCol := pm.FullName
	if nameCol == "" {
		nameCol = pm.Given
	}
	_, dateOK := packableDate(rec.DOB) // a date the population can keep
	switch {
	case rec.Name == "":
		return fmt.Sprintf("no name (column %q)", nameCol)
	// the id first: it names the row
	case pm.PersonalID != "" && !form.General && len(rec.PersonalID) != 12:
		return fmt.Sprintf("personal number not 12 digits (column %q)", pm.PersonalID)
	case rec.badID && pm.PersonalID != "":
		return fmt.Sprintf("id not in the format %s (column %q)", pm.idFormat(), pm.PersonalID)
	case pm.PersonalID != "" && rec.PersonalID == "":
		return fmt.Sprintf("no id (column %q)", pm.PersonalID)
	case pm.PersonalID == "" && pm.RecordID != "" && rec.ID == "":
		return fmt.Sprintf("no id (column %q)", pm.RecordID)
	case rec.badDOB || (rec.DOB != "" && !dateOK):
		return fmt.Sprintf("date of birth missing or not read (column %q)", pm.DOB)
	case pm.Sex != "" && rec.Sex == "" && strings.TrimSpace(get(pm.Sex)) != "":
		return fmt.Sprintf("sex missing or not M/F (column %q)", pm.Sex)
	case form.General:
		return ""
	case rec.DOB == "":
		return fmt.Sprintf("date of birth missing or not read (column %q)", pm.DOB)
	case rec.Sex == "":
		return fmt.Sprintf("sex missing or not M/F (column %q)", pm.Sex)
	}
	return ""
}
