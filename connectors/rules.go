package connectors

import (
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.yaml.in/yaml/v3"
)

// Defaults returns a C with every field that has a `default` tag set to it
// (embedded and inline structs included). A malformed default tag is a
// programming error and panics, at the first use, with the field's path.
func Defaults[C any]() C {
	var c C
	rv := reflect.ValueOf(&c).Elem()
	if rv.Kind() == reflect.Struct {
		d := &decoder{failed: map[string]bool{}}
		applyDefaults(rv, "", d)
		if len(d.errs) > 0 {
			panic(fmt.Sprintf("connectors: bad default tag in %T: %v", c, d.errs))
		}
	}
	return c
}

// applyDefaults sets the fields of struct v that have a `default` tag.
func applyDefaults(v reflect.Value, path string, d *decoder) {
	for _, fi := range fields(v.Type()) {
		fv := v.FieldByIndex(fi.index)
		p := join(path, fi.name)
		if def, ok := fi.f.Tag.Lookup("default"); ok {
			var val any
			if err := yaml.Unmarshal([]byte(def), &val); err != nil || val == nil {
				val = def
			}
			d.decodeValue(val, fv, p)
			continue
		}
		if fv.Kind() == reflect.Struct && fv.Type() != durationType {
			applyDefaults(fv, p, d)
		}
	}
}

// rules are the checks a field's tags declare.
type rules struct {
	required   bool
	min, max   string
	enum       []string
	pattern    string
	patternMsg string
}

func rulesOf(f reflect.StructField) rules {
	r := rules{required: f.Tag.Get("required") == "true", min: f.Tag.Get("min"), max: f.Tag.Get("max"),
		pattern: f.Tag.Get("pattern"), patternMsg: f.Tag.Get("patternmsg")}
	if e, ok := f.Tag.Lookup("enum"); ok {
		r.enum = strings.Split(e, ",")
	}
	return r
}

var (
	patternsMu sync.Mutex
	patterns   = map[string]*regexp.Regexp{}
)

func compiled(p string) *regexp.Regexp {
	patternsMu.Lock()
	defer patternsMu.Unlock()
	re, ok := patterns[p]
	if !ok {
		re = regexp.MustCompile(p)
		patterns[p] = re
	}
	return re
}

// checkStruct checks the tag rules of every field of v, recursively.
func (d *decoder) checkStruct(v reflect.Value, path string) {
	for _, fi := range fields(v.Type()) {
		p := join(path, fi.name)
		if d.failed[p] {
			continue
		}
		fv := v.FieldByIndex(fi.index)
		d.checkField(fv, p, rulesOf(fi.f))
		d.checkNested(fv, p)
	}
}

// checkNested descends into structs held by a field.
func (d *decoder) checkNested(fv reflect.Value, p string) {
	for fv.Kind() == reflect.Pointer {
		if fv.IsNil() {
			return
		}
		fv = fv.Elem()
	}
	switch {
	case fv.Kind() == reflect.Struct && fv.Type() != durationType:
		d.checkStruct(fv, p)
	case fv.Kind() == reflect.Slice:
		for i := 0; i < fv.Len(); i++ {
			ep := fmt.Sprintf("%s[%d]", p, i)
			if !d.failed[ep] {
				d.checkNested(fv.Index(i), ep)
			}
		}
	case fv.Kind() == reflect.Map:
		for _, k := range fv.MapKeys() {
			ep := p + "." + fmt.Sprint(k.Interface())
			if !d.failed[ep] {
				d.checkNested(fv.MapIndex(k), ep)
			}
		}
	}
}

func (d *decoder) checkField(fv reflect.Value, p string, r rules) {
	if r.required && (fv.IsZero() || (fv.Kind() == reflect.Slice || fv.Kind() == reflect.Map) && fv.Len() == 0) {
		d.errs = append(d.errs, fmt.Errorf("%s: required", p))
		return
	}
	for fv.Kind() == reflect.Pointer {
		if fv.IsNil() {
			return
		}
		fv = fv.Elem()
	}
	if r.min != "" || r.max != "" {
		d.checkRange(fv, p, r)
	}
	if r.enum == nil && r.pattern == "" {
		return
	}
	switch {
	case fv.Kind() == reflect.String:
		d.checkString(fv.String(), p, r)
	case fv.Kind() == reflect.Slice && fv.Type().Elem().Kind() == reflect.String:
		for i := 0; i < fv.Len(); i++ {
			d.checkString(fv.Index(i).String(), fmt.Sprintf("%s[%d]", p, i), r)
		}
	case fv.Kind() == reflect.Map && fv.Type().Elem().Kind() == reflect.String:
		keys := fv.MapKeys()
		names := make([]string, len(keys))
		for i, k := range keys {
			names[i] = k.String()
		}
		sort.Strings(names)
		for _, k := range names {
			d.checkString(fv.MapIndex(reflect.ValueOf(k).Convert(fv.Type().Key())).String(), p+"."+k, r)
		}
	}
}

func (d *decoder) checkString(s, p string, r rules) {
	if r.enum != nil && !contains(r.enum, s) {
		d.errs = append(d.errs, fmt.Errorf("%s %q: want %s", p, s, enumText(r.enum)))
		return
	}
	if r.pattern != "" && s != "" && !compiled(r.pattern).MatchString(s) {
		want := r.patternMsg
		if want == "" {
			want = "a value matching " + r.pattern
		}
		d.errs = append(d.errs, fmt.Errorf("%s %q: want %s", p, s, want))
	}
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

// enumText is "a, b or c", with "(or empty)" when "" is allowed.
func enumText(enum []string) string {
	var vals []string
	empty := false
	for _, e := range enum {
		if e == "" {
			empty = true
			continue
		}
		vals = append(vals, e)
	}
	out := vals[len(vals)-1]
	if len(vals) > 1 {
		out = strings.Join(vals[:len(vals)-1], ", ") + " or " + out
	}
	if empty {
		out += " (or empty)"
	}
	return out
}

// checkRange checks min and max of a number or a duration.
func (d *decoder) checkRange(fv reflect.Value, p string, r rules) {
	var v, lo, hi float64
	var show func(float64) string
	parse := func(s string) float64 {
		if s == "" {
			return 0
		}
		if fv.Type() == durationType {
			x, err := time.ParseDuration(s)
			if err != nil {
				panic(fmt.Sprintf("connectors: %s: bad duration bound %q", p, s))
			}
			return float64(x)
		}
		x, err := strconv.ParseFloat(s, 64)
		if err != nil {
			panic(fmt.Sprintf("connectors: %s: bad bound %q", p, s))
		}
		return x
	}
	switch {
	case fv.Type() == durationType:
		v = float64(fv.Int())
		show = func(x float64) string { return time.Duration(x).String() }
	case fv.CanInt():
		v = float64(fv.Int())
		show = func(x float64) string { return strconv.FormatFloat(x, 'f', -1, 64) }
	case fv.CanUint():
		v = float64(fv.Uint())
		show = func(x float64) string { return strconv.FormatFloat(x, 'f', -1, 64) }
	case fv.CanFloat():
		v = fv.Float()
		show = func(x float64) string { return strconv.FormatFloat(x, 'g', -1, 64) }
	default:
		return
	}
	lo, hi = parse(r.min), parse(r.max)
	bad := r.min != "" && (v < lo || v != v) || r.max != "" && (v > hi || v != v)
	if !bad {
		return
	}
	var want string
	switch {
	case r.min != "" && r.max != "":
		want = show(lo) + " to " + show(hi)
	case r.min != "":
		want = "at least " + show(lo)
	default:
		want = "at most " + show(hi)
	}
	d.errs = append(d.errs, fmt.Errorf("%s %s: want %s", p, show(v), want))
}

// Text describes the rules for the config documentation: "1 to 100000",
// "one of csv, ndjson", "matches ^…$".
func (r rules) text() string {
	var parts []string
	switch {
	case r.min != "" && r.max != "":
		parts = append(parts, r.min+" to "+r.max)
	case r.min != "":
		parts = append(parts, "at least "+r.min)
	case r.max != "":
		parts = append(parts, "at most "+r.max)
	}
	if r.enum != nil {
		parts = append(parts, enumText(r.enum))
	}
	if r.pattern != "" {
		if r.patternMsg != "" {
			parts = append(parts, r.patternMsg)
		} else {
			parts = append(parts, "matches "+r.pattern)
		}
	}
	return strings.Join(parts, "; ")
}
