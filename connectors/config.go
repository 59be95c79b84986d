package connectors

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// ErrConfig marks an invalid connector config: the operator must fix the
// config; retrying does not help.
var ErrConfig = errors.New("connector: invalid config")

// Config structs declare their rules in tags, the one place they are
// written; the decoder enforces them and `lgsp connector spec` documents
// them:
//
//   - field names come from the `yaml` tag, else `json`, else the Go field
//     name in lower case; `doc:"..."` is the field's documentation;
//   - `default:"..."` is the value when the key is absent (YAML syntax:
//     1000, 10s, true, auto); see Defaults;
//   - `required:"true"`: the value must be given and not empty;
//   - `min:"1"`, `max:"100000"`: bounds of a number or duration (10ms);
//   - `enum:"a,b,c"`: the allowed strings (of a string, or of every element
//     of a list or value of a map of strings); a leading comma allows "";
//   - `pattern:"^...$"` with `patternmsg:"..."`: a regular expression the
//     string must match (when not empty) and what it means, for the error.
//
// Validate (a Validator) is left with the rules tags cannot say.

// DecodeConfig builds the config of the adapter: NewConfig's defaults, then
// the values in raw (a map decoded from YAML or JSON), then the tag rules
// and the struct's Validate. Every problem is reported at once, wrapped in
// ErrConfig.
func (s Spec) DecodeConfig(raw map[string]any) (any, error) {
	cfg := s.NewConfig()
	if err := DecodeInto(raw, cfg); err != nil {
		return nil, fmt.Errorf("%s: %w", s.Name, err)
	}
	return cfg, nil
}

// Build decodes raw into the adapter's config and constructs the source.
func (s Spec) Build(env Env, raw map[string]any) (Source, error) {
	cfg, err := s.DecodeConfig(raw)
	if err != nil {
		return nil, err
	}
	return s.New(env, cfg)
}

// HashConfig identifies a decoded config: the SHA-256 of its JSON form. The
// runtime keeps it next to the connector's position to call OnUpdate when
// the config changed since the last run.
func HashConfig(cfg any) []byte {
	b, err := json.Marshal(cfg)
	if err != nil {
		b = []byte(fmt.Sprintf("%#v", cfg))
	}
	sum := sha256.Sum256(b)
	return sum[:]
}

// DecodeYAMLConfig is DecodeInto for a YAML document.
func DecodeYAMLConfig(doc []byte, dst any) error {
	var raw map[string]any
	if err := yaml.Unmarshal(doc, &raw); err != nil {
		return fmt.Errorf("%w: not a YAML mapping: %w", ErrConfig, err)
	}
	return DecodeInto(raw, dst)
}

// DecodeInto overwrites the fields of *dst (a pointer to a struct holding
// the defaults) with the values in raw, then checks the tag rules and, if
// every value decoded, calls dst's Validate if it has one. Unknown keys, wrong types, missing
// required fields, values out of range and validation problems are all
// reported together, each with its path.
func DecodeInto(raw map[string]any, dst any) error {
	rv := reflect.ValueOf(dst)
	if rv.Kind() != reflect.Pointer || rv.Elem().Kind() != reflect.Struct {
		return fmt.Errorf("%w: DecodeInto needs a pointer to a struct, got %T", ErrConfig, dst)
	}
	d := &decoder{failed: map[string]bool{}}
	d.decodeStruct(raw, rv.Elem(), "")
	return d.finish(dst)
}

// CheckConfig checks a config built in Go (not decoded): the tag rules and
// Validate. Adapters' constructors call it, so a config that did not
// come through DecodeInto is held to the same rules.
func CheckConfig(cfg any) error {
	rv := reflect.ValueOf(cfg)
	if rv.Kind() == reflect.Pointer {
		rv = rv.Elem()
	}
	if rv.Kind() != reflect.Struct {
		return fmt.Errorf("%w: CheckConfig needs a struct, got %T", ErrConfig, cfg)
	}
	return (&decoder{failed: map[string]bool{}}).finish(cfg)
}

type decoder struct {
	errs   []error
	failed map[string]bool // paths with a decode error: no rule is checked there
}

func (d *decoder) fail(path string, err error) {
	d.failed[path] = true
	d.errs = append(d.errs, err)
}

func (d *decoder) finish(cfg any) error {
	rv := reflect.ValueOf(cfg)
	for rv.Kind() == reflect.Pointer {
		rv = rv.Elem()
	}
	decodeErrs := len(d.errs)
	d.checkStruct(rv, "")
	// Validate runs on every config that decoded (its cross-field rules are
	// reported along with the tag rules), not on one with wrong types.
	if decodeErrs == 0 {
		if v, ok := cfg.(Validator); ok {
			if err := v.Validate(); err != nil {
				d.errs = append(d.errs, err)
			}
		}
	}
	if len(d.errs) > 0 {
		return fmt.Errorf("%w: %w", ErrConfig, errors.Join(d.errs...))
	}
	return nil
}

// fieldName is the config key of a struct field; "" for an unexported or
// ignored field.
func fieldName(f reflect.StructField) string {
	if !f.IsExported() {
		return ""
	}
	for _, tag := range []string{"yaml", "json", "mapstructure"} {
		if t, ok := f.Tag.Lookup(tag); ok {
			name := strings.Split(t, ",")[0]
			if name == "-" {
				return ""
			}
			if name != "" {
				return name
			}
		}
	}
	return strings.ToLower(f.Name)
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

var durationType = reflect.TypeOf(time.Duration(0))

type fieldInfo struct {
	name  string
	index []int
	f     reflect.StructField
}

// fields lists the config fields of struct type t; embedded structs and
// fields tagged ",inline" contribute their fields at the same level.
func fields(t reflect.Type) []fieldInfo {
	var out []fieldInfo
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		inline := strings.Contains(f.Tag.Get("yaml"), ",inline") || f.Anonymous && f.Tag.Get("yaml") == ""
		if inline && f.Type.Kind() == reflect.Struct {
			for _, sub := range fields(f.Type) {
				sub.index = append([]int{i}, sub.index...)
				out = append(out, sub)
			}
			continue
		}
		if name := fieldName(f); name != "" {
			out = append(out, fieldInfo{name: name, index: []int{i}, f: f})
		}
	}
	return out
}

func (d *decoder) decodeStruct(raw map[string]any, v reflect.Value, path string) {
	known := map[string]bool{}
	for _, fi := range fields(v.Type()) {
		name := fi.name
		known[name] = true
		val, ok := raw[name]
		if !ok {
			continue // the default stays; required is checked on the result
		}
		d.decodeValue(val, v.FieldByIndex(fi.index), join(path, name))
	}
	var unknown []string
	for k := range raw {
		if !known[k] {
			unknown = append(unknown, k)
		}
	}
	sort.Strings(unknown)
	for _, k := range unknown {
		d.fail(join(path, k), fmt.Errorf("%s: unknown field", join(path, k)))
	}
}

func typeErr(path string, want string, got any) error {
	return fmt.Errorf("%s: want %s, got %T (%v)", path, want, got, got)
}

func toMap(val any) (map[string]any, bool) {
	switch m := val.(type) {
	case map[string]any:
		return m, true
	case map[any]any:
		out := make(map[string]any, len(m))
		for k, v := range m {
			out[fmt.Sprint(k)] = v
		}
		return out, true
	}
	return nil, false
}

func (d *decoder) decodeValue(val any, v reflect.Value, path string) {
	if val == nil {
		v.Set(reflect.Zero(v.Type()))
		return
	}
	if v.Type() == durationType {
		switch x := val.(type) {
		case string:
			dur, err := time.ParseDuration(x)
			if err != nil {
				d.fail(path, fmt.Errorf("%s: want a duration like 10s or 1m30s, got %q", path, x))
				return
			}
			v.SetInt(int64(dur))
		default:
			d.fail(path, typeErr(path, "a duration like 10s", val))
		}
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		d.decodeValue(val, p.Elem(), path)
		v.Set(p)
	case reflect.String:
		s, ok := val.(string)
		if !ok {
			d.fail(path, typeErr(path, "a string", val))
			return
		}
		v.SetString(s)
	case reflect.Bool:
		b, ok := val.(bool)
		if !ok {
			d.fail(path, typeErr(path, "true or false", val))
			return
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, ok := asInt(val)
		if !ok || v.OverflowInt(n) {
			d.fail(path, typeErr(path, "an integer", val))
			return
		}
		v.SetInt(n)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n, ok := asInt(val)
		if !ok || n < 0 || v.OverflowUint(uint64(n)) {
			d.fail(path, typeErr(path, "an integer ≥ 0", val))
			return
		}
		v.SetUint(uint64(n))
	case reflect.Float32, reflect.Float64:
		f, ok := asFloat(val)
		if !ok {
			d.fail(path, typeErr(path, "a number", val))
			return
		}
		v.SetFloat(f)
	case reflect.Slice:
		items, ok := val.([]any)
		if !ok {
			d.fail(path, typeErr(path, "a list", val))
			return
		}
		s := reflect.MakeSlice(v.Type(), len(items), len(items))
		for i, it := range items {
			d.decodeValue(it, s.Index(i), fmt.Sprintf("%s[%d]", path, i))
		}
		v.Set(s)
	case reflect.Map:
		m, ok := toMap(val)
		if !ok || v.Type().Key().Kind() != reflect.String {
			d.fail(path, typeErr(path, "a mapping", val))
			return
		}
		out := reflect.MakeMapWithSize(v.Type(), len(m))
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			e := reflect.New(v.Type().Elem()).Elem()
			d.decodeValue(m[k], e, path+"."+k)
			out.SetMapIndex(reflect.ValueOf(k).Convert(v.Type().Key()), e)
		}
		v.Set(out)
	case reflect.Struct:
		m, ok := toMap(val)
		if !ok {
			d.fail(path, typeErr(path, "a mapping", val))
			return
		}
		if v.IsZero() {
			// A new element (of a list or map) starts from the tag defaults.
			applyDefaults(v, path, d)
		}
		d.decodeStruct(m, v, path)
	case reflect.Interface:
		v.Set(reflect.ValueOf(val))
	default:
		d.fail(path, fmt.Errorf("%s: unsupported config type %s", path, v.Type()))
	}
}

func asInt(val any) (int64, bool) {
	switch x := val.(type) {
	case int:
		return int64(x), true
	case int8:
		return int64(x), true
	case int16:
		return int64(x), true
	case int32:
		return int64(x), true
	case int64:
		return x, true
	case uint:
		return int64(x), x <= math.MaxInt64
	case uint8:
		return int64(x), true
	case uint16:
		return int64(x), true
	case uint32:
		return int64(x), true
	case uint64:
		return int64(x), x <= math.MaxInt64
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1<<53 {
			return int64(x), true
		}
	case json.Number:
		n, err := x.Int64()
		return n, err == nil
	}
	return 0, false
}

func asFloat(val any) (float64, bool) {
	switch x := val.(type) {
	case float64:
		return x, true
	case float32:
		return float64(x), true
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	case string:
		return 0, false
	}
	if n, ok := asInt(val); ok {
		return float64(n), true
	}
	return 0, false
}

// FieldDoc documents one config field.
type FieldDoc struct {
	Path     string `json:"path"` // "tables[].dataset"
	Type     string `json:"type"` // string, integer, number, boolean, duration, list of …, map of …
	Default  string `json:"default,omitempty"`
	Required bool   `json:"required,omitempty"`
	// Rules are the field's other tag rules: range, allowed values, pattern.
	Rules string `json:"rules,omitempty"`
	Doc   string `json:"doc,omitempty"`
}

// ConfigDoc lists the fields of the adapter's config with their types,
// defaults (taken from NewConfig) and `doc` tags.
func (s Spec) ConfigDoc() []FieldDoc { return DocumentConfig(s.NewConfig()) }

// DocumentConfig lists the fields of cfg (a struct or a pointer to one)
// with the values in cfg as defaults.
func DocumentConfig(cfg any) []FieldDoc {
	v := reflect.ValueOf(cfg)
	for v.Kind() == reflect.Pointer {
		if v.IsNil() {
			v = reflect.Zero(v.Type().Elem())
			break
		}
		v = v.Elem()
	}
	var out []FieldDoc
	if v.Kind() == reflect.Struct {
		docStruct(v, "", &out)
	}
	return out
}

func docStruct(v reflect.Value, path string, out *[]FieldDoc) {
	for _, fi := range fields(v.Type()) {
		f, name := fi.f, fi.name
		fv := v.FieldByIndex(fi.index)
		p := join(path, name)
		d := FieldDoc{Path: p, Type: typeName(f.Type), Doc: f.Tag.Get("doc"), Required: f.Tag.Get("required") == "true", Rules: rulesOf(f).text()}
		if !fv.IsZero() {
			d.Default = defaultText(fv)
		}
		*out = append(*out, d)
		et := f.Type
		for et.Kind() == reflect.Pointer {
			et = et.Elem()
		}
		switch {
		case et.Kind() == reflect.Struct && et != durationType:
			docStruct(reflect.Zero(et), p, out)
		case et.Kind() == reflect.Slice && elem(et).Kind() == reflect.Struct:
			docStruct(reflect.Zero(elem(et)), p+"[]", out)
		case et.Kind() == reflect.Map && elem(et).Kind() == reflect.Struct:
			docStruct(reflect.Zero(elem(et)), p+".<key>", out)
		}
	}
}

func elem(t reflect.Type) reflect.Type {
	e := t.Elem()
	for e.Kind() == reflect.Pointer {
		e = e.Elem()
	}
	return e
}

func typeName(t reflect.Type) string {
	if t == durationType {
		return "duration"
	}
	switch t.Kind() {
	case reflect.Pointer:
		return typeName(t.Elem())
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "integer"
	case reflect.Float32, reflect.Float64:
		return "number"
	case reflect.Slice:
		return "list of " + typeName(t.Elem())
	case reflect.Map:
		return "map of " + typeName(t.Elem())
	case reflect.Struct:
		return "object"
	}
	return "any"
}

func defaultText(v reflect.Value) string {
	if v.Type() == durationType {
		return time.Duration(v.Int()).String()
	}
	switch v.Kind() {
	case reflect.String:
		return strconv.Quote(v.String())
	case reflect.Struct, reflect.Pointer:
		return ""
	}
	b, err := json.Marshal(v.Interface())
	if err != nil {
		return fmt.Sprint(v.Interface())
	}
	return string(b)
}

// FormatAdapterList lists the registered adapters, one line each: name
// and summary (lgsp connector list).
func FormatAdapterList() string {
	var b strings.Builder
	for _, s := range Adapters() {
		fmt.Fprintf(&b, "%-16s %s\n", s.Name, s.Summary)
	}
	return b.String()
}

// FormatConfigDoc renders the spec as text for `lgsp connector spec NAME`.
func (s Spec) FormatConfigDoc() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s — %s\n\nconfig:\n", s.Name, s.Summary)
	for _, f := range s.ConfigDoc() {
		fmt.Fprintf(&b, "  %s (%s", f.Path, f.Type)
		if f.Required {
			b.WriteString(", required")
		}
		if f.Default != "" {
			fmt.Fprintf(&b, ", default %s", f.Default)
		}
		if f.Rules != "" {
			fmt.Fprintf(&b, ", %s", f.Rules)
		}
		b.WriteString(")\n")
		if f.Doc != "" {
			fmt.Fprintf(&b, "      %s\n", f.Doc)
		}
	}
	return b.String()
}
