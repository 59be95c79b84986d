package registry

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/hamba/avro/v2"

	"github.com/lgsp-bus/lgsp/schemas"
)

// Bootstrap registers the change-envelope schema of every catalog dataset
// under the dataset's subject and returns dataset name → schema id. It is
// idempotent: at every start it returns the ids already registered.
func (r *Registry) Bootstrap(ctx context.Context, cat *schemas.Catalog) (map[string]int, error) {
	ids := map[string]int{}
	for _, d := range cat.Datasets() {
		typ, text, err := EnvelopeSchema(d)
		if err != nil {
			return nil, fmt.Errorf("registry: bootstrap %s: %w", d.Name, err)
		}
		id, _, err := r.Register(ctx, d.Subject(), typ, text)
		if err != nil {
			return nil, fmt.Errorf("registry: bootstrap %s under %s: %w", d.Name, d.Subject(), err)
		}
		ids[d.Name] = id
	}
	return ids, nil
}

// EnvelopeSchema returns the schema of d's topic values: the row schema
// wrapped in a Debezium-shaped change event (op c/u/d/r, before, after,
// source, ts_ms), as a schema type and the normalised text the registry
// stores. Topic values are envelopes, not bare rows, so this is what a
// Confluent deserializer must be given.
func EnvelopeSchema(d schemas.Dataset) (schemaType, text string, err error) {
	var doc any
	switch d.Format {
	case schemas.FormatJSON:
		schemaType = TypeJSON
		doc, err = jsonEnvelope(d)
	case schemas.FormatAvro:
		schemaType = TypeAvro
		doc, err = avroEnvelope(d)
	default:
		err = fmt.Errorf("unknown format %q", d.Format)
	}
	if err != nil {
		return "", "", fmt.Errorf("envelope of %s: %w", d.Name, err)
	}
	raw, err := marshalCompact(doc)
	if err != nil {
		return "", "", fmt.Errorf("envelope of %s: %w", d.Name, err)
	}
	// Validate and normalise exactly as Register will, so the text returned
	// here is byte for byte what the registry stores.
	p, err := prepare(schemaType, raw)
	if err != nil {
		return "", "", fmt.Errorf("envelope of %s: %w", d.Name, err)
	}
	return p.typ, p.text, nil
}

// decodeRow parses a row schema keeping numbers exact.
func decodeRow(d schemas.Dataset) (map[string]any, error) {
	dec := json.NewDecoder(strings.NewReader(d.Schema))
	dec.UseNumber()
	var row map[string]any
	if err := dec.Decode(&row); err != nil {
		return nil, fmt.Errorf("row schema %s: %w", d.File, err)
	}
	if row == nil {
		return nil, fmt.Errorf("row schema %s: not a JSON object", d.File)
	}
	return row, nil
}

func jsonEnvelope(d schemas.Dataset) (map[string]any, error) {
	row, err := decodeRow(d)
	if err != nil {
		return nil, err
	}
	// A nested "$schema" is meaningless (draft 7 only reads it at the root).
	delete(row, "$schema")
	// The row moves to #/definitions/row, so its own fragment references
	// must move with it. A row with an $id resolves its fragments against
	// that id instead, so it is left as written.
	_, hasID := row["$id"]
	_, hasOldID := row["id"]
	if !hasID && !hasOldID {
		rebaseRefs(row, "#/definitions/row")
	}
	nullOrRow := map[string]any{"oneOf": []any{
		map[string]any{"type": "null"},
		map[string]any{"$ref": "#/definitions/row"},
	}}
	return map[string]any{
		"$schema":  "http://json-schema.org/draft-07/schema#",
		"title":    d.Topic() + " change",
		"type":     "object",
		"required": []any{"op", "source"},
		"properties": map[string]any{
			"op":     map[string]any{"enum": []any{"c", "u", "d", "r"}},
			"before": nullOrRow,
			"after":  nullOrRow,
			"source": map[string]any{"$ref": "#/definitions/source"},
			"ts_ms":  map[string]any{"type": "integer"},
		},
		"definitions": map[string]any{
			"row": row,
			"source": map[string]any{
				"type":     "object",
				"required": []any{"connector", "dataset", "position"},
				"properties": map[string]any{
					"connector": map[string]any{"type": "string"},
					"dataset":   map[string]any{"type": "string"},
					"position":  map[string]any{"type": "string"},
					"ts_ms":     map[string]any{"type": "integer"},
				},
			},
		},
	}, nil
}

// JSON Schema keywords whose values are data, not schemas: a "$ref" inside
// them is a value to compare against, not a reference.
var dataKeywords = map[string]bool{"enum": true, "const": true, "default": true, "examples": true}

// JSON Schema keywords whose values map names to schemas: their keys are
// property or definition names, never keywords.
var nameKeywords = map[string]bool{
	"properties": true, "patternProperties": true, "definitions": true, "$defs": true, "dependencies": true,
}

// rebaseRefs rewrites fragment references ("#", "#/definitions/x") of a
// schema that is being moved to the JSON pointer base.
func rebaseRefs(v any, base string) {
	switch n := v.(type) {
	case []any:
		for _, x := range n {
			rebaseRefs(x, base)
		}
	case map[string]any:
		for k, x := range n {
			switch {
			case k == "$ref":
				if ref, ok := x.(string); ok && strings.HasPrefix(ref, "#") {
					n[k] = base + strings.TrimPrefix(ref, "#")
				} else {
					rebaseRefs(x, base)
				}
			case dataKeywords[k]:
			case nameKeywords[k]:
				if m, ok := x.(map[string]any); ok {
					for _, s := range m {
						rebaseRefs(s, base)
					}
				}
			default:
				rebaseRefs(x, base)
			}
		}
	}
}

func avroEnvelope(d schemas.Dataset) (map[string]any, error) {
	row, err := decodeRow(d)
	if err != nil {
		return nil, err
	}
	// The row is parsed on its own first: its full name is what "after"
	// refers to, and its namespace is where the envelope goes.
	parsed, err := parseAvro(d.Schema)
	if err != nil {
		return nil, fmt.Errorf("row schema %s: %w", d.File, err)
	}
	rec, ok := parsed.(*avro.RecordSchema)
	if !ok {
		return nil, fmt.Errorf("row schema %s: is %s, want a record", d.File, parsed.Type())
	}
	env := map[string]any{
		"type": "record",
		"name": "Envelope",
		"doc":  d.Topic() + " change event, shaped like Debezium's.",
		"fields": []any{
			map[string]any{"name": "before", "type": []any{"null", row}, "default": nil},
			map[string]any{"name": "after", "type": []any{"null", rec.FullName()}, "default": nil},
			map[string]any{"name": "source", "type": map[string]any{
				"type": "record",
				"name": "Source",
				"fields": []any{
					map[string]any{"name": "connector", "type": "string"},
					map[string]any{"name": "dataset", "type": "string"},
					map[string]any{"name": "position", "type": "string"},
					map[string]any{"name": "ts_ms", "type": "long"},
				},
			}},
			map[string]any{"name": "op", "type": "string"},
			map[string]any{"name": "ts_ms", "type": "long"},
		},
	}
	// A row in the null namespace must stay there: were the envelope given
	// a namespace, the embedded row would inherit it and change its name.
	if ns := rec.Namespace(); ns != "" {
		env["namespace"] = ns + ".envelope"
	}
	return env, nil
}
