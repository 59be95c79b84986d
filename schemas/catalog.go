// Package schemas owns the shared schema files of every dataset exchanged on
// the bus and the catalog that names them. The files are embedded in the
// binary and loaded into the schema registry at start.
package schemas

import (
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

//go:embed catalog.yaml */*.json */*.avsc
var files embed.FS

// Format is how a dataset's rows are described and encoded.
type Format string

const (
	FormatAvro Format = "avro"
	FormatJSON Format = "json"
)

// Identity names the row fields that hold the person to reconcile. It names
// one person per row; a dataset about two people (a marriage, a transfer)
// picks the one to reconcile. The zero Identity means the dataset names no
// person (a land parcel): its rows carry no claim to reconcile.
type Identity struct {
	ID   string `yaml:"id"`   // personal number (12-digit CCCD or 9-digit CMND)
	Name string `yaml:"name"` // full name
	DOB  string `yaml:"dob"`  // date of birth, YYYY-MM-DD
	Sex  string `yaml:"sex"`  // M or F
}

// Linkage are a dataset's identity-linkage settings.
type Linkage struct {
	// Cardinality: one_to_one (default; a person appears once: a register,
	// a roll) or many_to_one (a person may appear in several rows: land
	// certificates, tax or insurance registrations).
	Cardinality string `yaml:"cardinality"`
	// LinkProbability and ReviewProbability: at or above, a record is
	// linked / sent to review (0: the linker's defaults, 0.9 and 0.05).
	LinkProbability   float64 `yaml:"link_probability"`
	ReviewProbability float64 `yaml:"review_probability"`
	// DateWithinDays: dates of birth at most this many days apart agree
	// at the linker's within_days level (0: 7; at most 366).
	DateWithinDays int `yaml:"date_within_days"`
	// Blocking are the dataset's blocking rules, besides the linker's
	// built-in ones: for lgsp reconcile --dataset (unless its --mapping
	// has rules) and for the bus's streaming linker. A key part is a
	// field of the identity, with an optional transform after a colon
	// (linkage.BlockingRule): surname, given, middle, name (":N" first
	// letters, ":soundex"), dob, dob_year, dob_month, dob_day, sex,
	// personal_id (":N" first digits).
	Blocking []BlockingRule `yaml:"blocking"`
}

// BlockingRule is one blocking rule of a dataset: the records and citizens
// whose keys agree on every part are compared.
type BlockingRule struct {
	Name string   `yaml:"name"`
	Keys []string `yaml:"keys"`
}

// blockingFields are the key parts a catalog rule may use, each with the
// identity field it needs.
var blockingFields = map[string]func(Identity) string{
	"surname": func(i Identity) string { return i.Name }, "given": func(i Identity) string { return i.Name },
	"middle": func(i Identity) string { return i.Name }, "name": func(i Identity) string { return i.Name },
	"dob": func(i Identity) string { return i.DOB }, "dob_year": func(i Identity) string { return i.DOB },
	"dob_month": func(i Identity) string { return i.DOB }, "dob_day": func(i Identity) string { return i.DOB },
	"sex": func(i Identity) string { return i.Sex }, "personal_id": func(i Identity) string { return i.ID },
}

// checkBlocking reports a dataset's rules that name no field of its
// identity, or that repeat a name.
func checkBlocking(where string, d Dataset) []error {
	var errs []error
	seen := map[string]bool{}
	for _, r := range d.Linkage.Blocking {
		if r.Name == "" || len(r.Keys) == 0 || seen[r.Name] {
			errs = append(errs, fmt.Errorf("%s: linkage blocking rule %q: give each rule its own name and at least one key", where, r.Name))
			continue
		}
		seen[r.Name] = true
		for _, k := range r.Keys {
			f, _, _ := strings.Cut(strings.TrimSpace(k), ":")
			need, ok := blockingFields[f]
			switch {
			case !ok:
				errs = append(errs, fmt.Errorf("%s: linkage blocking rule %q: key %q is not one of surname, given, middle, name, dob, dob_year, dob_month, dob_day, sex, personal_id", where, r.Name, k))
			case need(d.Identity) == "":
				errs = append(errs, fmt.Errorf("%s: linkage blocking rule %q: key %q needs a field the identity does not name", where, r.Name, k))
			}
		}
	}
	return errs
}

// Dataset is one shared dataset.
type Dataset struct {
	Name     string   `yaml:"name"`    // "<domain>.<dataset>"
	Version  int      `yaml:"version"` // major version, part of the topic name
	Format   Format   `yaml:"format"`
	File     string   `yaml:"file"`  // schema file, relative to this folder
	Owner    string   `yaml:"owner"` // the source (ministry) that publishes it
	Key      []string `yaml:"key"`
	Identity Identity `yaml:"identity"`
	// Register marks the population register's own stream: its rows are
	// not reconciled (they are what the index is built from), but the
	// identity mapping still keys the audit log by citizen.
	Register bool `yaml:"register"`
	// Linkage are the dataset's identity-linkage settings (lgsp reconcile
	// --dataset); zero values take the linker's defaults.
	Linkage Linkage `yaml:"linkage"`
	// Schema is the row schema text, read from File.
	Schema string `yaml:"-"`
}

// Topic is the dataset's canonical Kafka topic, "<domain>.<dataset>.v<N>".
func (d Dataset) Topic() string { return fmt.Sprintf("%s.v%d", d.Name, d.Version) }

// Subject is the registry subject of the topic's values (TopicNameStrategy).
func (d Dataset) Subject() string { return d.Topic() + "-value" }

// Domain is the part of the name before the dot.
func (d Dataset) Domain() string { return strings.SplitN(d.Name, ".", 2)[0] }

// Catalog is the set of datasets, by name.
type Catalog struct {
	byName map[string]Dataset
}

// Load reads the embedded catalog and schema files.
func Load() (*Catalog, error) { return load(files) }

// load reads catalog.yaml and the schema files it names from fsys, and
// checks that every key and identity field is a field of the row schema.
func load(fsys fs.FS) (*Catalog, error) {
	raw, err := fs.ReadFile(fsys, "catalog.yaml")
	if err != nil {
		return nil, err
	}
	var doc struct {
		Datasets []Dataset `yaml:"datasets"`
	}
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("schemas/catalog.yaml: %w", err)
	}
	c := &Catalog{byName: map[string]Dataset{}}
	var errs []error
	for i, d := range doc.Datasets {
		where := fmt.Sprintf("schemas/catalog.yaml: datasets[%d] (%s)", i, d.Name)
		if strings.Count(d.Name, ".") != 1 {
			errs = append(errs, fmt.Errorf("%s: name must be <domain>.<dataset>", where))
		}
		if d.Version < 1 {
			errs = append(errs, fmt.Errorf("%s: version must be >= 1", where))
		}
		if d.Format != FormatAvro && d.Format != FormatJSON {
			errs = append(errs, fmt.Errorf("%s: format must be avro or json", where))
		}
		if len(d.Key) == 0 {
			errs = append(errs, fmt.Errorf("%s: key must name at least one field", where))
		}
		if _, dup := c.byName[d.Name]; dup {
			errs = append(errs, fmt.Errorf("%s: dataset listed twice", where))
		}
		text, err := fs.ReadFile(fsys, d.File)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", where, err))
			continue
		}
		d.Schema = string(text)
		errs = append(errs, checkFields(where, d)...)
		c.byName[d.Name] = d
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return c, nil
}

// checkFields reports key and identity fields that the row schema of d does
// not have, so a typo in catalog.yaml stops the start instead of silently
// keying or reconciling on an absent field.
func checkFields(where string, d Dataset) []error {
	fields, err := rowFields(d)
	if err != nil {
		return []error{fmt.Errorf("%s: schema %s: %w", where, d.File, err)}
	}
	var errs []error
	for _, k := range d.Key {
		if !fields[k] {
			errs = append(errs, fmt.Errorf("%s: key field %q is not a field of %s", where, k, d.File))
		}
	}
	switch lk := d.Linkage; {
	case lk.Cardinality != "" && lk.Cardinality != "one_to_one" && lk.Cardinality != "many_to_one":
		errs = append(errs, fmt.Errorf("%s: linkage cardinality %q: one_to_one or many_to_one", where, lk.Cardinality))
	case lk.LinkProbability < 0 || lk.LinkProbability > 1 || lk.ReviewProbability < 0 || lk.ReviewProbability > 1 ||
		(lk.LinkProbability > 0 && lk.ReviewProbability > lk.LinkProbability):
		errs = append(errs, fmt.Errorf("%s: linkage probabilities must lie in [0, 1] with review_probability ≤ link_probability", where))
	case lk.DateWithinDays < 0 || lk.DateWithinDays > 366:
		errs = append(errs, fmt.Errorf("%s: linkage date_within_days %d: give 0 to 366 (0: 7)", where, lk.DateWithinDays))
	}
	errs = append(errs, checkBlocking(where, d)...)
	id := d.Identity
	if id.ID == "" && id != (Identity{}) {
		errs = append(errs, fmt.Errorf("%s: identity names no id field; name the personal number field or drop identity", where))
	}
	for _, f := range []struct{ role, name string }{{"id", id.ID}, {"name", id.Name}, {"dob", id.DOB}, {"sex", id.Sex}} {
		if f.name != "" && !fields[f.name] {
			errs = append(errs, fmt.Errorf("%s: identity %s field %q is not a field of %s", where, f.role, f.name, d.File))
		}
	}
	return errs
}

// rowFields lists the top-level fields of a row schema: the properties of a
// JSON Schema object or the fields of an Avro record.
func rowFields(d Dataset) (map[string]bool, error) {
	var doc struct {
		Properties map[string]json.RawMessage `json:"properties"`
		Fields     []struct {
			Name string `json:"name"`
		} `json:"fields"`
	}
	if err := json.Unmarshal([]byte(d.Schema), &doc); err != nil {
		return nil, fmt.Errorf("cannot read its fields (want a JSON Schema object or an Avro record): %w", err)
	}
	out := map[string]bool{}
	switch d.Format {
	case FormatJSON:
		for name := range doc.Properties {
			out[name] = true
		}
	case FormatAvro:
		for _, f := range doc.Fields {
			out[f.Name] = true
		}
	}
	return out, nil
}

// MustLoad is Load for the embedded, tested catalog.
func MustLoad() *Catalog {
	c, err := Load()
	if err != nil {
		panic(err)
	}
	return c
}

// Dataset returns the dataset with this name.
func (c *Catalog) Dataset(name string) (Dataset, bool) {
	d, ok := c.byName[name]
	return d, ok
}

// Datasets lists all datasets sorted by name.
func (c *Catalog) Datasets() []Dataset {
	out := make([]Dataset, 0, len(c.byName))
	for _, d := range c.byName {
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
