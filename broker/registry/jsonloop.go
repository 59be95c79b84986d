package registry

import (
	"errors"
	"reflect"

	"github.com/xeipuuv/gojsonschema"
)

// checkRefLoops rejects a JSON Schema whose validation would never end.
//
// gojsonschema compiles {"$ref": "#"} without complaint, but validating any
// value against it recurses until the goroutine's stack overflows, which is
// a fatal error that no recover catches: one such schema, once registered,
// would crash every validator that loads it. The loop happens when a chain
// of keywords that apply to the same instance ($ref, allOf, anyOf, oneOf,
// not, if/then/else, schema dependencies) leads back to where it started.
// Chains through keywords that descend into the instance (properties,
// items, …) are fine: the instance is finite. That is how recursive types
// such as trees are written, and they stay allowed.
//
// The check walks the compiled schema graph, the very one the validator
// walks, instead of re-implementing $ref and $id resolution. The graph is
// unexported in gojsonschema (v1.2.0, no longer developed), so it is read by
// reflection; if the fields are ever renamed, the check fails closed and
// every JSON Schema is rejected, which TestJSONSchemaRefLoops catches.
func checkRefLoops(s *gojsonschema.Schema) error {
	root := reflect.ValueOf(s).Elem().FieldByName("rootSchema")
	if !root.IsValid() || root.Kind() != reflect.Pointer || root.Type().Elem().Kind() != reflect.Struct {
		return errLoopCheck
	}
	node := root.Type()
	for _, f := range append(append([]string{}, sameInstance...), descending...) {
		if _, ok := node.Elem().FieldByName(f); !ok {
			return errLoopCheck
		}
	}

	// Every subschema reachable from the root, by any keyword.
	var all []reflect.Value
	seen := map[uintptr]bool{}
	queue := []reflect.Value{root}
	for len(queue) > 0 {
		v := queue[0]
		queue = queue[1:]
		if v.IsNil() || seen[v.Pointer()] {
			continue
		}
		seen[v.Pointer()] = true
		all = append(all, v)
		queue = append(queue, children(v, node, sameInstance)...)
		queue = append(queue, children(v, node, descending)...)
	}

	// A cycle among same-instance edges, by depth-first search.
	const (
		onPath = 1
		done   = 2
	)
	state := map[uintptr]int{}
	var visit func(v reflect.Value) bool
	visit = func(v reflect.Value) bool {
		switch state[v.Pointer()] {
		case onPath:
			return true
		case done:
			return false
		}
		state[v.Pointer()] = onPath
		for _, c := range children(v, node, sameInstance) {
			if visit(c) {
				return true
			}
		}
		state[v.Pointer()] = done
		return false
	}
	for _, v := range all {
		if visit(v) {
			return errRefLoop
		}
	}
	return nil
}

var (
	errLoopCheck = errors.New("cannot check the schema for $ref loops (unexpected gojsonschema internals)")
	errRefLoop   = errors.New("the schema refers to itself without descending into the value ($ref loop); validation would never end")
)

// Fields of gojsonschema's subSchema, by how the validator uses them.
var (
	sameInstance = []string{"refSchema", "allOf", "anyOf", "oneOf", "not", "_if", "_then", "_else", "dependencies"}
	descending   = []string{"itemsChildren", "propertiesChildren", "additionalProperties", "additionalItems",
		"patternProperties", "propertyNames", "contains"}
)

// children returns the non-nil subschemas held in v's fields, looking
// through slices, maps and interfaces (dependencies and additional* hold
// either a subschema or something else).
func children(v reflect.Value, node reflect.Type, fields []string) []reflect.Value {
	var out []reflect.Value
	var collect func(f reflect.Value)
	collect = func(f reflect.Value) {
		switch f.Kind() {
		case reflect.Pointer:
			if f.Type() == node && !f.IsNil() {
				out = append(out, f)
			}
		case reflect.Interface:
			if !f.IsNil() {
				collect(f.Elem())
			}
		case reflect.Slice:
			for i := 0; i < f.Len(); i++ {
				collect(f.Index(i))
			}
		case reflect.Map:
			for it := f.MapRange(); it.Next(); {
				collect(it.Value())
			}
		}
	}
	e := v.Elem()
	for _, name := range fields {
		collect(e.FieldByName(name))
	}
	return out
}
