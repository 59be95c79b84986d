package config

import (
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"
	"go.yaml.in/yaml/v3"
)

// decodeFile decodes a config file over c. Before decoding it walks the
// YAML against Config so that every problem names its key path (kafka.brokers,
// connectors[1].adapter), its line and the environment variable that sets
// the same value: an unknown key (with the nearest known one), a value of
// the wrong type, a duration that does not parse. yaml.v3's own errors name
// neither the key nor the variable.
func decodeFile(path string, raw []byte, c *Config) error {
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return fmt.Errorf("config: %s is not YAML: %w", path, err)
	}
	if doc.Kind == 0 || len(doc.Content) == 0 { // an empty file: the defaults
		return nil
	}
	var errs []error
	checkNode(doc.Content[0], reflect.TypeOf(*c), "", "LGSP_", func(key, envName string, line int, problem string) {
		errs = append(errs, &KeyError{File: path, Line: line, Key: key, Env: envName, Problem: problem})
	})
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	if err := doc.Content[0].Decode(c); err != nil { // cannot fail after the walk; kept for safety
		return fmt.Errorf("config: %s: %w", path, err)
	}
	return nil
}

// KeyError is a problem of one key of a config file.
type KeyError struct {
	File    string
	Line    int
	Key     string // the key path, e.g. kafka.brokers or connectors[0].name
	Env     string // the variable that sets the same value; "" when there is none
	Problem string
}

func (e *KeyError) Error() string {
	env := ""
	if e.Env != "" {
		env = " (env " + e.Env + ")"
	}
	return fmt.Sprintf("config: %s:%d: %s%s: %s", e.File, e.Line, e.Key, env, e.Problem)
}

var durationType = reflect.TypeOf(time.Duration(0))

// checkNode reports every key of n that Config does not have and every value
// that does not fit its field's type. key is n's path, env the variable
// prefix of n's struct ("" inside lists, which have no variables).
func checkNode(n *yaml.Node, t reflect.Type, key, env string, report func(key, env string, line int, problem string)) {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n.Tag == "!!null" {
		return // an empty value keeps the default
	}
	switch {
	case t == durationType:
		var s string
		if n.Kind != yaml.ScalarNode || n.Decode(&s) != nil {
			report(key, env, n.Line, fmt.Sprintf("want a duration such as 10s, 5m or 24h, got %s", describe(n)))
		} else if _, err := time.ParseDuration(s); err != nil {
			report(key, env, n.Line, fmt.Sprintf("%q is not a duration: want a number with a unit (ms, s, m, h), e.g. 10s, 5m or 24h", s))
		}
	case t.Kind() == reflect.Struct:
		if n.Kind != yaml.MappingNode {
			if env != "" {
				env += "*" // a section: its variables share this prefix
			}
			report(key, env, n.Line, fmt.Sprintf("want a mapping of settings (%s), got %s", strings.Join(yamlKeys(t), ", "), describe(n)))
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			sub := join(key, k.Value)
			f, ok := fieldByKey(t, k.Value)
			if !ok {
				report(sub, "", k.Line, unknownKey(k.Value, key, yamlKeys(t)))
				continue
			}
			checkNode(v, f.Type, sub, childEnv(f, env), report)
		}
	case t.Kind() == reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			hint := "a list: [a, b] or one \"- item\" per line"
			if env != "" {
				hint += "; the variable takes a comma-separated list"
			}
			report(key, env, n.Line, fmt.Sprintf("cannot unmarshal %s into []%s: want %s", describe(n), t.Elem().Kind(), hint))
			return
		}
		for i, item := range n.Content {
			itemEnv := env
			if t.Elem().Kind() == reflect.Struct {
				itemEnv = "" // a list of mappings has no variable per item
			}
			checkNode(item, t.Elem(), fmt.Sprintf("%s[%d]", key, i), itemEnv, report)
		}
	case t.Kind() == reflect.Map:
		if n.Kind != yaml.MappingNode {
			report(key, env, n.Line, fmt.Sprintf("want a mapping, got %s", describe(n)))
		}
	default:
		if n.Kind != yaml.ScalarNode {
			report(key, env, n.Line, fmt.Sprintf("cannot unmarshal %s into %s: want %s", describe(n), t.Kind(), want(t)))
			return
		}
		if err := n.Decode(reflect.New(t).Interface()); err != nil {
			report(key, env, n.Line, fmt.Sprintf("cannot unmarshal %s into %s: want %s", describe(n), t.Kind(), want(t)))
		}
	}
}

func join(key, k string) string {
	if key == "" {
		return k
	}
	return key + "." + k
}

// childEnv is the variable (for a leaf) or variable prefix (for a struct)
// of field f under prefix env; "" when f has none (connectors).
func childEnv(f reflect.StructField, env string) string {
	if env == "" {
		return ""
	}
	if p, ok := f.Tag.Lookup("envPrefix"); ok {
		if strings.HasPrefix(p, "LGSP_") {
			return p
		}
		return env + p // nested prefixes add up, as in caarlos0/env
	}
	if e, ok := f.Tag.Lookup("env"); ok {
		if strings.HasPrefix(e, "LGSP_") {
			return e
		}
		return env + e
	}
	return ""
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping (!!map)"
	case yaml.SequenceNode:
		return "a list (!!seq)"
	}
	return fmt.Sprintf("%s %q", n.ShortTag(), n.Value)
}

func want(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "a whole number"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number, 0 or more"
	case reflect.Float32, reflect.Float64:
		return "a number"
	}
	return "a single value"
}

func fieldByKey(t reflect.Type, k string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		if name, _, _ := strings.Cut(f.Tag.Get("yaml"), ","); name == k {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

func yamlKeys(t reflect.Type) []string {
	var ks []string
	for i := range t.NumField() {
		if name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ","); name != "" && name != "-" {
			ks = append(ks, name)
		}
	}
	sort.Strings(ks)
	return ks
}

// unknownKey says that k is not a setting under parent, and which known
// key is nearest when one is close enough to be a typo.
func unknownKey(k, parent string, known []string) string {
	where := "here"
	if parent != "" {
		where = "under " + parent
	}
	msg := fmt.Sprintf("unknown setting %q", k)
	best, bestD := "", 1<<30
	for _, c := range known {
		if d := editDistance(strings.ToLower(k), c); d < bestD {
			best, bestD = c, d
		}
	}
	if best != "" && bestD <= max(2, len(k)/3) {
		msg += fmt.Sprintf(" (did you mean %q?)", best)
	}
	return msg + "; the settings " + where + " are " + strings.Join(known, ", ")
}

// editDistance is the Levenshtein distance of two short keys.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// envKeys maps each LGSP_* variable to its key path (LGSP_KAFKA_BROKERS →
// kafka.brokers), for messages about bad environment values.
func envKeys() map[string]string {
	out := map[string]string{}
	var walk func(t reflect.Type, key, env string)
	walk = func(t reflect.Type, key, env string) {
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			e := childEnv(f, env)
			if e == "" {
				continue
			}
			if f.Type.Kind() == reflect.Struct && f.Type != durationType {
				walk(f.Type, join(key, name), e)
			} else {
				out[e] = join(key, name)
			}
		}
	}
	walk(reflect.TypeOf(Config{}), "", "LGSP_")
	return out
}

// envError says which variable is wrong, the key it sets, and what it wants.
func envError(name, value, key string, err error) error {
	problem := err.Error()
	var pe env.ParseError
	if errors.As(err, &pe) {
		switch {
		case pe.Type == durationType:
			problem = "not a duration: want a number with a unit (ms, s, m, h), e.g. 10s, 5m or 24h"
		default:
			problem = "want " + want(pe.Type)
		}
	}
	if key == "" {
		return fmt.Errorf("config: environment %s=%q: %s", name, value, problem)
	}
	return fmt.Errorf("config: environment %s=%q (%s): %s", name, value, key, problem)
}
