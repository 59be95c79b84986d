package registry

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/hamba/avro/v2"
)

// ---- ?normalize=true: canonical form -----------------------------------------

// canonical returns p in canonical form, what Confluent's ?normalize=true
// asks for: two texts that define the same schema with the same defaults,
// docs and properties get the same canonical text, and so the same id.
//
// Every stored text already has its JSON keys sorted and no insignificant
// whitespace (normalizeJSON), which is all the canonical form of a JSON
// Schema is. An Avro text is further rewritten by canonicalAvro. Unlike
// Avro's Parsing Canonical Form, nothing a reader uses (defaults, docs,
// aliases, logical types, custom properties) is dropped.
func canonical(p prepared, deps []dep) prepared {
	if p.typ != TypeAvro {
		return p
	}
	text, err := canonicalAvro(p.text)
	if err != nil || text == p.text {
		return p
	}
	// Keep the rewrite only if it provably names the same types: it must
	// parse with the same references and have the same Parsing Canonical
	// Form. A name the rewrite resolved differently from the parser
	// fails this, and the text is then stored as written.
	parsed, err := parseWithDeps(TypeAvro, text, deps)
	if err != nil {
		return p
	}
	if parsed.(avro.Schema).Fingerprint() != p.parsed.(avro.Schema).Fingerprint() {
		return p
	}
	return prepared{typ: p.typ, text: text, parsed: parsed}
}

// avroPrimitives are the Avro type names that are not named types.
var avroPrimitives = map[string]bool{
	"null": true, "boolean": true, "int": true, "long": true, "float": true,
	"double": true, "bytes": true, "string": true,
}

// canonicalAvro rewrites an Avro schema text so that every named type
// carries its full name (and no "namespace"), every reference to a named
// type is by full name, and a type written as {"type": "string"} with
// nothing else is written "string". Keys are sorted by marshalCompact.
func canonicalAvro(text string) (string, error) {
	dec := json.NewDecoder(strings.NewReader(text))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return "", err
	}
	if emptyNamespace(doc) {
		// "namespace": "" is the null namespace to the Avro spec (and to
		// Java clients) but "inherit" to hamba/avro: the two would read
		// a rewrite differently, so the text is left as written.
		return "", errors.New("an empty namespace is read differently by Avro implementations")
	}
	return marshalCompact(canonicalType(doc, ""))
}

// emptyNamespace reports whether any object in v has "namespace": "".
func emptyNamespace(v any) bool {
	switch n := v.(type) {
	case []any:
		return slices.ContainsFunc(n, emptyNamespace)
	case map[string]any:
		if ns, ok := n["namespace"].(string); ok && ns == "" {
			return true
		}
		for _, x := range n {
			if emptyNamespace(x) {
				return true
			}
		}
	}
	return false
}

func fullName(name, ns string) string {
	if strings.Contains(name, ".") || ns == "" {
		return name
	}
	return ns + "." + name
}

func namespaceOf(full string) string {
	if i := strings.LastIndexByte(full, '.'); i >= 0 {
		return full[:i]
	}
	return ""
}

// canonicalType rewrites one type appearing in namespace ns.
func canonicalType(t any, ns string) any {
	switch n := t.(type) {
	case string:
		if avroPrimitives[n] {
			return n
		}
		return fullName(n, ns)
	case []any: // a union
		out := make([]any, len(n))
		for i, b := range n {
			out[i] = canonicalType(b, ns)
		}
		return out
	case map[string]any:
		return canonicalObject(n, ns)
	}
	return t
}

func canonicalObject(n map[string]any, ns string) any {
	out := make(map[string]any, len(n))
	for k, v := range n {
		out[k] = v
	}
	if _, ok := n["type"]; !ok {
		return out // not a type; the parser says what is wrong with it
	}
	typ, isName := n["type"].(string)
	if !isName {
		// {"type": {...}} or {"type": [...]}: the type is nested.
		out["type"] = canonicalType(n["type"], ns)
		if len(n) == 1 {
			return out["type"]
		}
		return out
	}
	switch typ {
	case "record", "error", "enum", "fixed":
		name, _ := n["name"].(string)
		inner := ns
		if explicit, ok := n["namespace"].(string); ok {
			inner = explicit
		}
		full := fullName(name, inner)
		out["name"] = full
		delete(out, "namespace")
		inner = namespaceOf(full)
		if aliases, ok := n["aliases"].([]any); ok {
			qualified := make([]any, len(aliases))
			for i, a := range aliases {
				if s, ok := a.(string); ok {
					qualified[i] = fullName(s, inner)
				} else {
					qualified[i] = a
				}
			}
			out["aliases"] = qualified
		}
		if fields, ok := n["fields"].([]any); ok {
			cf := make([]any, len(fields))
			for i, f := range fields {
				fm, ok := f.(map[string]any)
				if !ok {
					cf[i] = f
					continue
				}
				c := make(map[string]any, len(fm))
				for k, v := range fm {
					c[k] = v
				}
				c["type"] = canonicalType(fm["type"], inner)
				cf[i] = c
			}
			out["fields"] = cf
		}
		return out
	case "array":
		out["items"] = canonicalType(n["items"], ns)
		return out
	case "map":
		out["values"] = canonicalType(n["values"], ns)
		return out
	}
	if len(n) == 1 {
		return canonicalType(typ, ns) // {"type": "string"} is "string"; {"type": "T"} is T
	}
	return out
}

// ---- Confluent data-contract fields: metadata and ruleSet ---------------------

// contractMetadata is the shape of Confluent's Metadata entity.
type contractMetadata struct {
	Tags       map[string][]string `json:"tags"`
	Properties map[string]string   `json:"properties"`
	Sensitive  []string            `json:"sensitive"`
}

// contractRule is the shape of Confluent's Rule entity.
type contractRule struct {
	Name      string            `json:"name"`
	Doc       string            `json:"doc"`
	Kind      string            `json:"kind"`
	Mode      string            `json:"mode"`
	Type      string            `json:"type"`
	Tags      []string          `json:"tags"`
	Params    map[string]string `json:"params"`
	Expr      string            `json:"expr"`
	OnSuccess string            `json:"onSuccess"`
	OnFailure string            `json:"onFailure"`
	Disabled  bool              `json:"disabled"`
}

// contractRuleSet is the shape of Confluent's RuleSet entity.
type contractRuleSet struct {
	MigrationRules []contractRule `json:"migrationRules"`
	DomainRules    []contractRule `json:"domainRules"`
	EncodingRules  []contractRule `json:"encodingRules"`
}

// Rule modes by the list they may appear in, as Confluent checks them.
var (
	migrationModes = map[string]bool{"UPGRADE": true, "DOWNGRADE": true, "UPDOWN": true}
	domainModes    = map[string]bool{"WRITE": true, "READ": true, "WRITEREAD": true}
)

// contractField checks a metadata or ruleSet value against the entity's
// shape (into) and returns it as the registry keeps it: compact JSON with
// sorted keys, or "" for an absent, null or empty object. The value is
// otherwise kept verbatim, unknown fields included: the registry stores
// and returns data contracts, it does not run their rules.
func contractField(raw json.RawMessage, into any) (string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	if raw[0] != '{' {
		return "", fmt.Errorf("must be a JSON object, not %s", jsonKind(raw[0]))
	}
	if err := json.Unmarshal(raw, into); err != nil {
		return "", err
	}
	text, err := normalizeJSON(string(raw))
	if err != nil {
		return "", err
	}
	if text == "{}" {
		return "", nil
	}
	return text, nil
}

// jsonKind names the kind of JSON value that starts with c.
func jsonKind(c byte) string {
	switch c {
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	}
	return "a number"
}

// parseMetadata validates a request's metadata (42201 when malformed).
func parseMetadata(raw json.RawMessage) (string, error) {
	text, err := contractField(raw, &contractMetadata{})
	if err != nil {
		return "", invalidSchema(fmt.Errorf("metadata: %w", err))
	}
	return text, nil
}

// parseRuleSet validates a request's ruleSet (42210 when malformed): every
// rule needs a name unique in the set, a kind, a type and a mode allowed
// in its list.
func parseRuleSet(raw json.RawMessage) (string, error) {
	var rs contractRuleSet
	text, err := contractField(raw, &rs)
	if err == nil {
		err = checkRules(rs)
	}
	if err != nil {
		return "", &Error{Code: ErrInvalidRuleSet.Code, Message: ErrInvalidRuleSet.Message, Err: err}
	}
	return text, nil
}

func checkRules(rs contractRuleSet) error {
	seen := map[string]bool{}
	lists := []struct {
		name  string
		rules []contractRule
		modes map[string]bool
	}{
		{"migrationRules", rs.MigrationRules, migrationModes},
		{"domainRules", rs.DomainRules, domainModes},
		{"encodingRules", rs.EncodingRules, domainModes},
	}
	for _, l := range lists {
		for i, r := range l.rules {
			at := fmt.Sprintf("%s[%d]", l.name, i)
			switch {
			case r.Name == "":
				return fmt.Errorf("%s: a rule needs a name", at)
			case seen[r.Name]:
				return fmt.Errorf("%s: rule name %q is used twice", at, r.Name)
			case r.Kind != "CONDITION" && r.Kind != "TRANSFORM":
				return fmt.Errorf("%s (%s): kind %q is not CONDITION or TRANSFORM", at, r.Name, r.Kind)
			case r.Type == "":
				return fmt.Errorf("%s (%s): a rule needs a type (the executor, e.g. CEL)", at, r.Name)
			case !l.modes[r.Mode]:
				return fmt.Errorf("%s (%s): mode %q is not allowed in %s", at, r.Name, r.Mode, l.name)
			}
			seen[r.Name] = true
		}
	}
	return nil
}
