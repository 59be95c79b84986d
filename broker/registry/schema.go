package registry

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"

	"github.com/hamba/avro/v2"
	"github.com/xeipuuv/gojsonreference"
	"github.com/xeipuuv/gojsonschema"
)

// Schema types, spelled as Confluent spells them.
const (
	TypeAvro = "AVRO"
	TypeJSON = "JSON"
)

// prepared is a schema that passed validation: its type, its normalised
// text (what the store deduplicates on) and the parsed form, which the
// registry caches once it knows the id.
type prepared struct {
	typ    string
	text   string
	parsed any // avro.Schema or *gojsonschema.Schema
}

// prepare validates and normalises a schema. Every failure is an
// ErrInvalidSchema carrying the reason.
func prepare(schemaType, text string) (prepared, error) {
	return prepareRefs(schemaType, text, nil)
}

// prepareRefs is prepare for a schema whose references resolve to deps.
func prepareRefs(schemaType, text string, deps []dep) (prepared, error) {
	typ := strings.ToUpper(strings.TrimSpace(schemaType))
	if typ == "" {
		typ = TypeAvro // Confluent's default when schemaType is absent
	}
	if typ != TypeAvro && typ != TypeJSON {
		return prepared{}, invalidSchema(fmt.Errorf("schema type %q is not supported (AVRO, JSON)", schemaType))
	}
	if strings.TrimSpace(text) == "" {
		return prepared{}, invalidSchema(errors.New("empty schema"))
	}
	norm, err := normalizeJSON(text)
	if err != nil {
		return prepared{}, invalidSchema(err)
	}
	var parsed any
	parsed, err = parseWithDeps(typ, norm, deps)
	if err != nil {
		if typ == TypeJSON {
			if p := schemaErrorPath(norm, deps); p != "" {
				err = fmt.Errorf("at %s: %w", p, err)
			}
		}
		return prepared{}, invalidSchema(err)
	}
	return prepared{typ: typ, text: norm, parsed: parsed}, nil
}

func invalidSchema(err error) error {
	return &Error{Code: ErrInvalidSchema.Code, Message: ErrInvalidSchema.Message, Err: err}
}

// normalizeJSON re-encodes a JSON document compactly with object keys
// sorted (encoding/json sorts map keys), so whitespace and key order never
// make a new schema id. Numbers stay as written (UseNumber): a schema's
// "maximum": 1e400 or a 20-digit default must not be rounded through
// float64. This is deliberately not Avro's Parsing Canonical Form, which
// drops doc, aliases and defaults: two schemas differing in a default are
// different schemas to a reader.
func normalizeJSON(text string) (string, error) {
	dec := json.NewDecoder(strings.NewReader(text))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return "", fmt.Errorf("schema is not valid JSON: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return "", errors.New("schema is not valid JSON: data after the top-level value")
	}
	return marshalCompact(v)
}

// marshalCompact encodes v without HTML escaping: a schema's "<" must stay
// "<" in the text clients read back.
func marshalCompact(v any) (string, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "", err
	}
	return strings.TrimSuffix(buf.String(), "\n"), nil
}

// parseAvro parses with a fresh name cache. hamba's avro.Parse registers
// every named type in a process-wide cache, so a schema referring to a type
// it never defines would be accepted if any earlier schema had defined it,
// and would then fail for every client that reads it alone.
func parseAvro(text string) (s avro.Schema, err error) {
	defer recoverParser(&err)
	return avro.ParseWithCache(text, "", &avro.SchemaCache{})
}

// parseJSONSchema compiles a JSON Schema with remote references disabled.
// gojsonschema would otherwise resolve a "$ref" to an http(s) or file URL
// by fetching it: a registry that accepts schemas from the network must not
// make requests or read local files on their behalf. References inside the
// document ("#/definitions/x") still work.
func parseJSONSchema(text string) (s *gojsonschema.Schema, err error) {
	defer recoverParser(&err)
	s, err = gojsonschema.NewSchemaLoader().Compile(offlineLoader{source: text})
	if err != nil {
		return nil, err
	}
	if err := checkRefLoops(s); err != nil {
		return nil, err
	}
	return s, nil
}

// dep is a schema a reference resolves to: the reference's name and the
// referenced schema's text. Dependencies come before what depends on them.
type dep struct {
	name string
	text string
}

// parseWithDeps parses text after the schemas its references resolve to:
// Avro named types defined there become known by name; JSON documents are
// added to the loader under the reference name, which is what "$ref" uses.
func parseWithDeps(typ, text string, deps []dep) (s any, err error) {
	if len(deps) == 0 {
		if typ == TypeAvro {
			return parseAvro(text)
		}
		return parseJSONSchema(text)
	}
	defer recoverParser(&err)
	if typ == TypeAvro {
		cache := &avro.SchemaCache{}
		for _, d := range deps {
			if _, err := avro.ParseWithCache(d.text, "", cache); err != nil {
				return nil, fmt.Errorf("reference %q: %w", d.name, err)
			}
		}
		return avro.ParseWithCache(text, "", cache)
	}
	sl := gojsonschema.NewSchemaLoader()
	for _, d := range deps {
		if err := sl.AddSchema(refURL(d.name), offlineLoader{source: d.text, base: refURL(d.name)}); err != nil {
			return nil, fmt.Errorf("reference %q: %w", d.name, err)
		}
	}
	// Compile looks a root with a URL up in the pool: add it there first.
	root := offlineLoader{source: text, base: refBase + "schema.json"}
	if err := sl.AddSchema(root.base, root); err != nil {
		return nil, err
	}
	js, err := sl.Compile(root)
	if err != nil {
		return nil, err
	}
	if err := checkRefLoops(js); err != nil {
		return nil, err
	}
	return js, nil
}

// recoverParser turns a panic in a third-party parser into an error. The
// text comes from clients, and a parser bug must cost one request, not the
// bus.
func recoverParser(err *error) {
	if p := recover(); p != nil {
		*err = fmt.Errorf("schema parser failed: %v", p)
	}
}

// offlineLoader is the root loader of a JSON Schema whose factory refuses
// to load anything else (see parseJSONSchema).
type offlineLoader struct {
	source string
	base   string // the document's URL; "" is "#"
}

func (l offlineLoader) JsonSource() any { return l.source }

func (l offlineLoader) LoadJSON() (any, error) {
	dec := json.NewDecoder(strings.NewReader(l.source))
	dec.UseNumber() // gojsonschema expects json.Number, as its own loaders produce
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}

func (l offlineLoader) JsonReference() (gojsonreference.JsonReference, error) {
	if l.base != "" {
		return gojsonreference.NewJsonReference(l.base)
	}
	return gojsonreference.NewJsonReference("#")
}

// refBase is the URL a JSON Schema with references is loaded under, so
// that a relative "$ref": "cccd.json" (a reference name, as Confluent
// clients write them) resolves to refBase+"cccd.json", where the
// referenced schema is added. gojsonschema only pools documents under
// absolute URLs. The .invalid domain never resolves: nothing is fetched.
const refBase = "https://schemas.lgsp.invalid/"

// refURL is the URL a reference named name is added to the loader under.
func refURL(name string) string {
	if u, err := url.Parse(name); err == nil && u.IsAbs() {
		return name
	}
	return refBase + strings.TrimPrefix(name, "/")
}

func (l offlineLoader) LoaderFactory() gojsonschema.JSONLoaderFactory { return offlineFactory{} }

type offlineFactory struct{}

func (offlineFactory) New(source string) gojsonschema.JSONLoader { return refusedLoader{ref: source} }

// refusedLoader stands for a remote reference; loading it fails.
type refusedLoader struct{ ref string }

func (l refusedLoader) JsonSource() any { return l.ref }

func (l refusedLoader) LoadJSON() (any, error) {
	return nil, fmt.Errorf("reference %q is outside the schema; remote references are not supported", l.ref)
}

func (l refusedLoader) JsonReference() (gojsonreference.JsonReference, error) {
	return gojsonreference.NewJsonReference(l.ref)
}

func (l refusedLoader) LoaderFactory() gojsonschema.JSONLoaderFactory { return offlineFactory{} }
