package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/lgsp-bus/lgsp/examples/synthetic"
)

// genOptions are the settings of `lgsp gen`; the corruption rates are those
// of synthetic.LegacyOptions, plus how many records carry a personal number.
type genOptions struct {
	dir      string
	citizens int
	records  int
	seed     int64
	format   string
	// WithNumber is the share of records that carry their 12-digit
	// personal number; NumberTypo the share of those with one digit changed.
	withNumber, numberTypo float64
	legacy                 synthetic.LegacyOptions
	// extras writes the registered residence, its postcode and the
	// social-insurance number (population: residence, postcode,
	// insurance_number; extract: dia_chi, ma_buu_chinh, so_bhxh).
	extras bool
}

// genFlags declares the flags of `lgsp gen`, their defaults being the
// documented corruption levels (synthetic.DefaultLegacyOptions).
func genFlags(fs *flag.FlagSet) *genOptions {
	o := &genOptions{legacy: synthetic.DefaultLegacyOptions()}
	fs.StringVar(&o.dir, "dir", "lgsp-gen", "directory to write population, records and truth files into")
	fs.IntVar(&o.citizens, "citizens", 100_000, "size of the synthetic population register")
	fs.IntVar(&o.records, "records", 10_000, "records of the ministry extract (at most --citizens: one row per person)")
	fs.Int64Var(&o.seed, "seed", 42, "seed: the same seed and sizes give the same files")
	fs.StringVar(&o.format, "format", "csv", "csv or ndjson")
	fs.Float64Var(&o.withNumber, "with-number", 0.5, "share of records carrying their 12-digit personal number (the others carry none; some of those an old CMND)")
	fs.Float64Var(&o.numberTypo, "number-typo", 0.02, "of the records carrying a number, share with one digit of it changed")
	fs.BoolVar(&o.extras, "extras", true, "write the address, postcode and social-insurance columns (population: residence, postcode, insurance_number; records: dia_chi, ma_buu_chinh, so_bhxh), for a mapping with extra fields")
	l := &o.legacy
	for _, f := range []struct {
		name string
		p    *float64
		doc  string
	}{
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
	} {
		fs.Float64Var(f.p, f.name, *f.p, f.doc)
	}
	return o
}

// genSummary is what `lgsp gen` prints.
type genSummary struct {
	Population string         `json:"population"`
	Citizens   int            `json:"citizens"`
	Records    string         `json:"records"`
	RecordRows int            `json:"record_rows"`
	Truth      string         `json:"truth"`
	InRegister int            `json:"in_register"`
	WithNumber int            `json:"with_number"`
	Errors     map[string]int `json:"errors"` // records per kind of corruption
}

// runGen writes a synthetic population register, a ministry extract
// describing some of its people with controlled corruption, and the ground
// truth of the extract (record → personal number of the person it
// describes), for trying `lgsp reconcile` and measuring it.
func runGen(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("gen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, `usage: lgsp gen [--dir DIR] [--citizens N] [--records N] [--seed S] [--format csv|ndjson] [rates]

Writes DIR/population.<ext> (personal_id, old_cmnd, full_name, dob, sex,
birth_province, deceased; with --extras also residence, postcode,
insurance_number), DIR/records.<ext> (record_id, personal_id, old_cmnd,
full_name, dob, sex, province_code: the columns lgsp reconcile reads without
a mapping; with --extras also dia_chi, ma_buu_chinh, so_bhxh, which a
mapping's extra fields compare) and DIR/truth.<ext> (record_id, personal_id
of the person the record describes, "" if not in the register, and the
errors applied). Each corruption is drawn independently per record at its
rate:

`)
		fs.PrintDefaults()
	}
	o := genFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := o.check(); err != nil {
		return err
	}
	sum, err := generate(ctx, o)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(sum)
}

func (o *genOptions) check() error {
	if o.format != "csv" && o.format != "ndjson" {
		return fmt.Errorf("--format must be csv or ndjson, got %q", o.format)
	}
	if o.citizens < 1 || o.citizens > synthetic.MaxPopulation {
		return fmt.Errorf("--citizens must be 1…%d, got %d", synthetic.MaxPopulation, o.citizens)
	}
	if o.records < 0 || o.records > o.citizens {
		return fmt.Errorf("--records must be 0…--citizens (%d): an extract has one row per person, got %d", o.citizens, o.records)
	}
	rates := map[string]float64{"with-number": o.withNumber, "number-typo": o.numberTypo, "outsiders": o.legacy.Outsiders,
		"typo": o.legacy.Typo, "diacritics": o.legacy.Diacritics, "retone": o.legacy.Retone, "reorder": o.legacy.Reorder,
		"drop-middle": o.legacy.DropMiddle, "swap-date": o.legacy.SwapDate, "digit-date": o.legacy.DigitDate,
		"no-date": o.legacy.NoDate, "no-sex": o.legacy.NoSex, "wrong-sex": o.legacy.WrongSex,
		"new-province": o.legacy.NewProvince, "no-province": o.legacy.NoProvince, "keep-cmnd": o.legacy.KeepCMND, "typo-cmnd": o.legacy.TypoCMND,
		"no-address": o.legacy.NoAddress, "moved": o.legacy.Moved, "address-abbrev": o.legacy.AddressAbbrev,
		"address-diacritics": o.legacy.AddressDiacritics, "house-number": o.legacy.HouseNumber, "address-partial": o.legacy.AddressPartial,
		"address-typo": o.legacy.AddressTypo, "postcode": o.legacy.KeepPostcode, "postcode-typo": o.legacy.PostcodeTypo,
		"insurance": o.legacy.KeepInsurance, "insurance-typo": o.legacy.TypoInsurance}
	names := make([]string, 0, len(rates))
	for k := range rates {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if v := rates[k]; !(v >= 0 && v <= 1) {
			return fmt.Errorf("--%s is a rate between 0 and 1, got %v", k, v)
		}
	}
	return nil
}

func generate(ctx context.Context, o *genOptions) (genSummary, error) {
	if err := os.MkdirAll(o.dir, 0o755); err != nil {
		return genSummary{}, err
	}
	sum := genSummary{
		Population: filepath.Join(o.dir, "population."+o.format),
		Records:    filepath.Join(o.dir, "records."+o.format),
		Truth:      filepath.Join(o.dir, "truth."+o.format),
		Citizens:   o.citizens, RecordRows: o.records, Errors: map[string]int{},
	}
	ndjson := o.format == "ndjson"
	err := writeFile(sum.Population, func(w io.Writer) error {
		if !ndjson {
			io.WriteString(w, "personal_id,old_cmnd,full_name,dob,sex,birth_province,deceased")
			if o.extras {
				io.WriteString(w, ",residence,postcode,insurance_number")
			}
			io.WriteString(w, "\n")
		}
		return writeOrdered(ctx, []io.Writer{w}, o.citizens, func(lo, hi int, bs []*bytes.Buffer) {
			b := bs[0]
			cw := csv.NewWriter(b)
			for i := lo; i < hi; i++ {
				c := synthetic.Citizen(o.seed, i)
				row := []string{c.ID, c.OldID, c.FullName, c.DOB, c.Sex, c.BirthProvince, strconv.FormatBool(c.Deceased)}
				switch {
				case ndjson && o.extras:
					a := synthetic.Residence(o.seed, i)
					writeJSONLine(b, citizenExtrasLine{citizenLine{c.ID, c.OldID, c.FullName, c.DOB, c.Sex, c.BirthProvince, c.Deceased},
						a.Line, a.Postcode, synthetic.InsuranceNumber(o.seed, i)})
				case ndjson:
					writeJSONLine(b, citizenLine{c.ID, c.OldID, c.FullName, c.DOB, c.Sex, c.BirthProvince, c.Deceased})
				case o.extras:
					a := synthetic.Residence(o.seed, i)
					cw.Write(append(row, a.Line, a.Postcode, synthetic.InsuranceNumber(o.seed, i)))
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
	view := synthetic.NewPop(o.seed, o.citizens)
	lo := o.legacy
	lo.WithNumber = true
	if !o.extras {
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
			if o.extras {
				io.WriteString(w, ",dia_chi,ma_buu_chinh,so_bhxh")
			}
			io.WriteString(w, "\n")
			io.WriteString(tf, "record_id,personal_id,errors\n")
		}
		return writeOrdered(ctx, []io.Writer{w, tf}, o.records, func(from, to int, bs []*bytes.Buffer) {
			b, tb := bs[0], bs[1]
			cw, tw := csv.NewWriter(b), csv.NewWriter(tb)
			errs := map[string]int{}
			in, withNumber := 0, 0
			for i := from; i < to; i++ {
				r := genRecord(o, view, lo, uint64(i))
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
				case ndjson && o.extras:
					writeJSONLine(b, recordExtrasLine{recordLine{r.RecordID, r.PersonalID, r.OldID, r.FullName, r.DOB, r.Sex, r.Province},
						r.Address, r.Postcode, r.InsuranceNumber})
				case ndjson:
					writeJSONLine(b, recordLine{r.RecordID, r.PersonalID, r.OldID, r.FullName, r.DOB, r.Sex, r.Province})
				case o.extras:
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

// genRecord is record i of the extract: synthetic.Legacy with the number
// kept, then, drawn per record, the number dropped (the record then has no
// number, or only its old CMND) or given with one digit changed.
func genRecord(o *genOptions, view *synthetic.Pop, lo synthetic.LegacyOptions, i uint64) synthetic.LegacyRecord {
	r := synthetic.Legacy(o.seed, view, i, lo)
	h := splitmix(uint64(o.seed) ^ 0x6e756d626572 ^ i*0x9e3779b97f4a7c15)
	if unit(h) >= o.withNumber {
		r.PersonalID = ""
		if r.OldID != "" {
			r.Errors = append(r.Errors, "cmnd_only")
		} else {
			r.Errors = append(r.Errors, "no_number")
		}
		return r
	}
	h = splitmix(h)
	if unit(h) < o.numberTypo {
		h = splitmix(h)
		b := []byte(r.PersonalID)
		k := int(h % 12)
		b[k] = '0' + (b[k]-'0'+byte(1+h/12%9))%10
		r.PersonalID = string(b)
		r.Errors = append(r.Errors, "typo_number")
	}
	return r
}

func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

// unit maps a hash to [0, 1).
func unit(h uint64) float64 { return float64(h>>11) / (1 << 53) }

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

// writeFile creates path and fills it with fill, through a buffer.
func writeFile(path string, fill func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	err = fill(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
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
