// Package gen writes what lgsp gen makes for trying and measuring lgsp
// reconcile: a synthetic population register, a ministry extract that
// describes some of its people with controlled corruption, and the
// extract's ground truth (record → personal number of the person it
// describes). Every file is a pure function of the options.
package gen

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/lgsp-bus/lgsp/connectors/atomicfile"
	"github.com/lgsp-bus/lgsp/connectors/synthetic"
)

// Files describes the files Generate writes, for lgsp gen -h (the
// corruption rates, Rates, follow it).
const Files = `Writes DIR/population.<ext> (personal_id, old_cmnd, full_name, dob, sex,
birth_province, deceased; with --extras also residence, postcode,
insurance_number), DIR/records.<ext> (record_id, personal_id, old_cmnd,
full_name, dob, sex, province_code: the columns lgsp reconcile reads without
a mapping; with --extras also dia_chi, ma_buu_chinh, so_bhxh, which a
mapping's extra fields compare) and DIR/truth.<ext> (record_id, personal_id
of the person the record describes, "" if not in the register, and the
errors applied). Each corruption is drawn independently per record at its
rate:

`

// Options are the settings of one run; the corruption rates are those of
// synthetic.LegacyOptions, plus how many records carry a personal number.
type Options struct {
	Dir      string
	Citizens int
	Records  int
	Seed     int64
	Format   string // csv or ndjson
	// WithNumber is the share of records that carry their 12-digit
	// personal number; NumberTypo the share of those with one digit changed.
	WithNumber, NumberTypo float64
	Legacy                 synthetic.LegacyOptions
	// Extras writes the registered residence, its postcode and the
	// social-insurance number (population: residence, postcode,
	// insurance_number; extract: dia_chi, ma_buu_chinh, so_bhxh).
	Extras bool
}

// DefaultOptions are the documented defaults and corruption levels
// (synthetic.DefaultLegacyOptions).
func DefaultOptions() Options {
	return Options{Dir: "lgsp-gen", Citizens: 100_000, Records: 10_000, Seed: 42, Format: "csv",
		WithNumber: 0.5, NumberTypo: 0.02, Legacy: synthetic.DefaultLegacyOptions(), Extras: true}
}

// Rate is one rate of the options, named as its flag.
type Rate struct {
	Name string
	P    *float64
	Doc  string
}

// Rates lists the rates of o (pointers into o), for flags and checks.
func (o *Options) Rates() []Rate {
	l := &o.Legacy
	return []Rate{
		{"with-number", &o.WithNumber, "share of records carrying their 12-digit personal number (the others carry none; some of those an old CMND)"},
		{"number-typo", &o.NumberTypo, "of the records carrying a number, share with one digit of it changed"},
		{"outsiders", &l.Outsiders, "share of people not in the register"},
		{"typo", &l.Typo, "one letter of the name changed"},
		{"diacritics", &l.Diacritics, "all diacritics dropped, đ written d"},
		{"retone", &l.Retone, "old/new tone placement swapped (hoà / hòa)"},
		{"reorder", &l.Reorder, "surname written last"},
		{"drop-middle", &l.DropMiddle, "a middle name left out (names of 3+ words)"},
		{"swap-date", &l.SwapDate, "day and month of the date of birth exchanged (when both ≤ 12 and differ)"},
		{"digit-date", &l.DigitDate, "one digit of the date of birth changed"},
		{"no-date", &l.NoDate, "date of birth missing"},
		{"no-sex", &l.NoSex, "sex missing"},
		{"wrong-sex", &l.WrongSex, "sex wrong"},
		{"new-province", &l.NewProvince, "of the provinces written, share written with the post-2025 merged code"},
		{"no-province", &l.NoProvince, "province missing"},
		{"keep-cmnd", &l.KeepCMND, "share of old CMND holders whose CMND is written"},
		{"typo-cmnd", &l.TypoCMND, "of the CMND numbers written, share with one digit changed"},
		{"no-address", &l.NoAddress, "address missing (--extras)"},
		{"moved", &l.Moved, "the address written is an old one: the person moved since"},
		{"address-abbrev", &l.AddressAbbrev, "administrative words abbreviated: P. Q. TP. H. X. TX. TT., TP.HCM"},
		{"address-diacritics", &l.AddressDiacritics, "all diacritics of the address dropped"},
		{"house-number", &l.HouseNumber, "house number written another way: 12, SN 12, số nhà 12 for Số 12"},
		{"address-partial", &l.AddressPartial, "province left out of the address (for half of those, the district too)"},
		{"address-typo", &l.AddressTypo, "one letter of the street or hamlet changed"},
		{"postcode", &l.KeepPostcode, "share of records with the postcode of the address written"},
		{"postcode-typo", &l.PostcodeTypo, "of the postcodes written, share with one digit changed"},
		{"insurance", &l.KeepInsurance, "share of social-insurance number holders (80% of citizens) whose number is written"},
		{"insurance-typo", &l.TypoInsurance, "of the social-insurance numbers written, share with one digit changed"},
	}
}

// Summary is what a run wrote.
type Summary struct {
	Population string         `json:"population"`
	Citizens   int            `json:"citizens"`
	Records    string         `json:"records"`
	RecordRows int            `json:"record_rows"`
	Truth      string         `json:"truth"`
	InRegister int            `json:"in_register"`
	WithNumber int            `json:"with_number"`
	Errors     map[string]int `json:"errors"` // records per kind of corruption
}

// Check reports the first option out of range.
func (o *Options) Check() error {
	if o.Format != "csv" && o.Format != "ndjson" {
		return fmt.Errorf("--format must be csv or ndjson, got %q", o.Format)
	}
	if o.Citizens < 1 || o.Citizens > synthetic.MaxPopulation {
		return fmt.Errorf("--citizens must be 1…%d, got %d", synthetic.MaxPopulation, o.Citizens)
	}
	if o.Records < 0 || o.Records > o.Citizens {
		return fmt.Errorf("--records must be 0…--citizens (%d): an extract has one row per person, got %d", o.Citizens, o.Records)
	}
	rates := o.Rates()
	slices.SortFunc(rates, func(a, b Rate) int { return strings.Compare(a.Name, b.Name) })
	for _, r := range rates {
		if v := *r.P; !(v >= 0 && v <= 1) {
			return fmt.Errorf("--%s is a rate between 0 and 1, got %v", r.Name, v)
		}
	}
	return nil
}

// Generate writes the population, the extract and its truth into o.Dir.
func Generate(ctx context.Context, o Options) (Summary, error) {
	if err := o.Check(); err != nil {
		return Summary{}, err
	}
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return Summary{}, err
	}
	sum := Summary{
		Population: filepath.Join(o.Dir, "population."+o.Format),
		Records:    filepath.Join(o.Dir, "records."+o.Format),
		Truth:      filepath.Join(o.Dir, "truth."+o.Format),
		Citizens:   o.Citizens, RecordRows: o.Records, Errors: map[string]int{},
	}
	ndjson := o.Format == "ndjson"
	err := writeFile(sum.Population, func(w io.Writer) error {
		if !ndjson {
			io.WriteString(w, "personal_id,old_cmnd,full_name,dob,sex,birth_province,deceased")
			if o.Extras {
				io.WriteString(w, ",residence,postcode,insurance_number")
			}
			io.WriteString(w, "\n")
		}
		return writeOrdered(ctx, []io.Writer{w}, o.Citizens, func(lo, hi int, bs []*bytes.Buffer) {
			b := bs[0]
			cw := csv.NewWriter(b)
			for i := lo; i < hi; i++ {
				c := synthetic.Citizen(o.Seed, i)
				row := []string{c.ID, c.OldID, c.FullName, c.DOB, c.Sex, c.BirthProvince, strconv.FormatBool(c.Deceased)}
				switch {
				case ndjson && o.Extras:
					a := synthetic.Residence(o.Seed, i)
					writeJSONLine(b, citizenExtrasLine{citizenLine{c.ID, c.OldID, c.FullName, c.DOB, c.Sex, c.BirthProvince, c.Deceased},
						a.Line, a.Postcode, synthetic.InsuranceNumber(o.Seed, i)})
				case ndjson:
					writeJSONLine(b, citizenLine{c.ID, c.OldID, c.FullName, c.DOB, c.Sex, c.BirthProvince, c.Deceased})
				case o.Extras:
					a := synthetic.Residence(o.Seed, i)
					cw.Write(append(row, a.Line, a.Postcode, synthetic.InsuranceNumber(o.Seed, i)))
				default:
					cw.Write(row)
				}
			}
			cw.Flush()
		})
	})
	if err != nil {
		return sum, err
	}
	view := synthetic.NewPop(o.Seed, o.Citizens)
	lo := o.Legacy
	if !o.Extras {
		lo.NoAddress, lo.Moved, lo.AddressAbbrev, lo.AddressDiacritics, lo.HouseNumber, lo.AddressPartial = 0, 0, 0, 0, 0, 0
		lo.AddressTypo, lo.KeepPostcode, lo.PostcodeTypo, lo.KeepInsurance, lo.TypoInsurance = 0, 0, 0, 0, 0
	}
	var mu sync.Mutex
	tf, err := os.Create(sum.Truth)
	if err != nil {
		return sum, err
	}
	defer tf.Close()
	err = writeFile(sum.Records, func(w io.Writer) error {
		if !ndjson {
			io.WriteString(w, "record_id,personal_id,old_cmnd,full_name,dob,sex,province_code")
			if o.Extras {
				io.WriteString(w, ",dia_chi,ma_buu_chinh,so_bhxh")
			}
			io.WriteString(w, "\n")
			io.WriteString(tf, "record_id,personal_id,errors\n")
		}
		return writeOrdered(ctx, []io.Writer{w, tf}, o.Records, func(from, to int, bs []*bytes.Buffer) {
			b, tb := bs[0], bs[1]
			cw, tw := csv.NewWriter(b), csv.NewWriter(tb)
			errs := map[string]int{}
			in, withNumber := 0, 0
			for i := from; i < to; i++ {
				r := synthetic.ExtractRecord(o.Seed, view, lo, o.WithNumber, o.NumberTypo, uint64(i))
				if r.Truth != "" {
					in++
				}
				if r.PersonalID != "" {
					withNumber++
				}
				for _, e := range r.Errors {
					errs[e]++
				}
				row := []string{r.RecordID, r.PersonalID, r.OldID, r.FullName, r.DOB, r.Sex, r.Province}
				switch {
				case ndjson && o.Extras:
					writeJSONLine(b, recordExtrasLine{recordLine{r.RecordID, r.PersonalID, r.OldID, r.FullName, r.DOB, r.Sex, r.Province},
						r.Address, r.Postcode, r.InsuranceNumber})
				case ndjson:
					writeJSONLine(b, recordLine{r.RecordID, r.PersonalID, r.OldID, r.FullName, r.DOB, r.Sex, r.Province})
				case o.Extras:
					cw.Write(append(row, r.Address, r.Postcode, r.InsuranceNumber))
				default:
					cw.Write(row)
				}
				if ndjson {
					writeJSONLine(tb, truthLine{r.RecordID, r.Truth, r.Errors})
				} else {
					tw.Write([]string{r.RecordID, r.Truth, strings.Join(r.Errors, "|")})
				}
			}
			cw.Flush()
			tw.Flush()
			mu.Lock()
			defer mu.Unlock()
			sum.InRegister += in
			sum.WithNumber += withNumber
			for k, n := range errs {
				sum.Errors[k] += n
			}
		})
	})
	if err != nil {
		return sum, err
	}
	if err := tf.Close(); err != nil {
		return sum, fmt.Errorf("writing %s: %w", sum.Truth, err)
	}
	return sum, nil
}

type citizenLine struct {
	ID       string `json:"personal_id"`
	OldID    string `json:"old_cmnd"`
	Name     string `json:"full_name"`
	DOB      string `json:"dob"`
	Sex      string `json:"sex"`
	Province string `json:"birth_province"`
	Deceased bool   `json:"deceased"`
}

type recordLine struct {
	RecordID   string `json:"record_id"`
	PersonalID string `json:"personal_id"`
	OldID      string `json:"old_cmnd"`
	Name       string `json:"full_name"`
	DOB        string `json:"dob"`
	Sex        string `json:"sex"`
	Province   string `json:"province_code"`
}

// citizenExtrasLine and recordExtrasLine are the lines with --extras.
type citizenExtrasLine struct {
	citizenLine
	Residence string `json:"residence"`
	Postcode  string `json:"postcode"`
	Insurance string `json:"insurance_number"`
}

type recordExtrasLine struct {
	recordLine
	Address   string `json:"dia_chi"`
	Postcode  string `json:"ma_buu_chinh"`
	Insurance string `json:"so_bhxh"`
}

type truthLine struct {
	RecordID   string   `json:"record_id"`
	PersonalID string   `json:"personal_id"`
	Errors     []string `json:"errors"`
}

func writeJSONLine(b *bytes.Buffer, v any) {
	enc := json.NewEncoder(b)
	enc.SetEscapeHTML(false)
	enc.Encode(v) // plain structs of strings: cannot fail
}

// writeFile replaces path with what fill writes.
func writeFile(path string, fill func(io.Writer) error) error {
	return atomicfile.Write(path, 0o644, fill)
}

// writeOrdered generates rows [0, n) in chunks on every core, each chunk
// into one buffer per writer, and writes the chunks to the writers in order.
func writeOrdered(ctx context.Context, ws []io.Writer, n int, gen func(lo, hi int, bs []*bytes.Buffer)) error {
	const chunk = 16 << 10
	workers := runtime.GOMAXPROCS(0)
	type job struct {
		lo, hi int
		out    chan []*bytes.Buffer
	}
	jobs := make(chan job)
	order := make(chan chan []*bytes.Buffer, 2*workers)
	go func() {
		defer close(jobs)
		defer close(order)
		for lo := 0; lo < n; lo += chunk {
			if ctx.Err() != nil {
				return
			}
			j := job{lo, min(lo+chunk, n), make(chan []*bytes.Buffer, 1)}
			order <- j.out
			jobs <- j
		}
	}()
	for range workers {
		go func() {
			for j := range jobs {
				bs := make([]*bytes.Buffer, len(ws))
				for k := range bs {
					bs[k] = new(bytes.Buffer)
				}
				gen(j.lo, j.hi, bs)
				j.out <- bs
			}
		}()
	}
	var err error
	for out := range order {
		bs := <-out
		for k, b := range bs {
			if err == nil {
				_, err = ws[k].Write(b.Bytes())
			}
		}
	}
	if err == nil {
		err = ctx.Err()
	}
	return err
}
