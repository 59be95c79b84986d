package registry

import (
	"fmt"
	"strings"

	"github.com/hamba/avro/v2"
)

// Compatibility levels, spelled as Confluent spells them.
const (
	CompatNone               = "NONE"
	CompatBackward           = "BACKWARD"
	CompatBackwardTransitive = "BACKWARD_TRANSITIVE"
	CompatForward            = "FORWARD"
	CompatForwardTransitive  = "FORWARD_TRANSITIVE"
	CompatFull               = "FULL"
	CompatFullTransitive     = "FULL_TRANSITIVE"
)

// DefaultCompatibility is Confluent's default global level.
const DefaultCompatibility = CompatBackward

// level is a compatibility level taken apart.
type level struct {
	name       string
	backward   bool // the new schema must read data written with the old
	forward    bool // the old schema must read data written with the new
	transitive bool // against every live version, not only the latest
}

func parseLevel(s string) (level, bool) {
	l := level{name: strings.ToUpper(strings.TrimSpace(s))}
	switch l.name {
	case CompatNone:
	case CompatBackward:
		l.backward = true
	case CompatBackwardTransitive:
		l.backward, l.transitive = true, true
	case CompatForward:
		l.forward = true
	case CompatForwardTransitive:
		l.forward, l.transitive = true, true
	case CompatFull:
		l.backward, l.forward = true, true
	case CompatFullTransitive:
		l.backward, l.forward, l.transitive = true, true, true
	default:
		return level{}, false
	}
	return l, true
}

// compiled is a schema ready for compatibility checks: its parsed Avro
// form, or its decoded JSON Schema document with the documents its
// references name.
type compiled struct {
	typ  string
	avro avro.Schema
	json *jsonDoc
}

// incompatibilities returns what makes data written with writer
// unreadable with reader; none means compatible.
func incompatibilities(reader, writer compiled) []string {
	if reader.typ != writer.typ {
		// Confluent's words, which tools look for; the types named after.
		return []string{fmt.Sprintf("TYPE_MISMATCH: Incompatible because of different schema type (%s, %s)", reader.typ, writer.typ)}
	}
	if reader.typ == TypeAvro {
		return avroIncompatibilities(reader.avro, writer.avro)
	}
	return jsonIncompatibilities(reader.json, writer.json)
}

// avroIncompatibilities checks Avro schema resolution with a FRESH
// avro.SchemaCompatibility: hamba's checker caches results by the schemas'
// canonical fingerprints, which leave out defaults, aliases and enum
// defaults, so a checker shared across checks answers for one schema what
// it found for another that differs only there (a new field without a
// default has been called compatible that way). It then adds what hamba
// does not check: the parameters of logical types (decimal precision and
// scale).
func avroIncompatibilities(reader, writer avro.Schema) (out []string) {
	defer func() {
		if p := recover(); p != nil {
			out = []string{fmt.Sprintf("the schemas could not be compared: %v", p)}
		}
	}()
	if err := avro.NewSchemaCompatibility().Compatible(reader, writer); err != nil {
		kind, path, reason := avroMismatch(reader, writer, "", err, map[[2]string]bool{})
		if path == "" {
			path = "/"
		}
		out = append(out, fmt.Sprintf("%s: at %s %s", kind, path, reason))
	}
	w := avroWalker{seen: map[[2]string]bool{}}
	w.walk(reader, writer, "")
	return append(out, w.out...)
}

// avroMismatch locates an incompatibility hamba reports for the pair (err)
// as schema resolution pairs the parts up: it descends into record fields
// (by name or alias), array items and map values while the parts are
// still incompatible, and returns the kind, the deepest such path
// (/fields/holder/type, as Confluent writes them) and the reason.
func avroMismatch(reader, writer avro.Schema, path string, err error, seen map[[2]string]bool) (kind, at, reason string) {
	kind, at, reason = "READER_WRITER_MISMATCH", path, err.Error()
	reader, writer = deref(reader), deref(writer)
	if rn, ok := reader.(avro.NamedSchema); ok {
		if wn, ok := writer.(avro.NamedSchema); ok {
			k := [2]string{rn.FullName(), wn.FullName()}
			if seen[k] {
				return kind, at, reason
			}
			seen[k] = true
		}
	}
	deeper := func(r, w avro.Schema, p string) (string, string, string, bool) {
		if e := avro.NewSchemaCompatibility().Compatible(r, w); e != nil {
			k, a, why := avroMismatch(r, w, p, e, seen)
			return k, a, why, true
		}
		return "", "", "", false
	}
	switch r := reader.(type) {
	case *avro.RecordSchema:
		wr, ok := writer.(*avro.RecordSchema)
		if !ok {
			break
		}
		for _, rf := range r.Fields() {
			var wf *avro.Field
			for _, f := range wr.Fields() {
				if f.Name() == rf.Name() || contains(rf.Aliases(), f.Name()) {
					wf = f
					break
				}
			}
			if wf == nil {
				if !rf.HasDefault() {
					return "READER_FIELD_MISSING_DEFAULT_VALUE", path + "/fields/" + rf.Name(),
						fmt.Sprintf("the reader's field %s has no default and the writer does not write it", rf.Name())
				}
				continue
			}
			if k, a, why, bad := deeper(rf.Type(), wf.Type(), path+"/fields/"+rf.Name()+"/type"); bad {
				return k, a, why
			}
		}
	case *avro.ArraySchema:
		if wa, ok := writer.(*avro.ArraySchema); ok {
			if k, a, why, bad := deeper(r.Items(), wa.Items(), path+"/items"); bad {
				return k, a, why
			}
		}
	case *avro.MapSchema:
		if wm, ok := writer.(*avro.MapSchema); ok {
			if k, a, why, bad := deeper(r.Values(), wm.Values(), path+"/values"); bad {
				return k, a, why
			}
		}
	}
	return kind, at, reason
}

// avroWalker pairs up the parts of a reader and a writer schema as schema
// resolution does, and compares what hamba's checker leaves out.
type avroWalker struct {
	seen map[[2]string]bool // named type pairs already walked (recursive types)
	out  []string
}

func deref(s avro.Schema) avro.Schema {
	if r, ok := s.(*avro.RefSchema); ok {
		return r.Schema()
	}
	return s
}

func (w *avroWalker) walk(reader, writer avro.Schema, path string) {
	reader, writer = deref(reader), deref(writer)
	if rn, ok := reader.(avro.NamedSchema); ok {
		if wn, ok := writer.(avro.NamedSchema); ok {
			k := [2]string{rn.FullName(), wn.FullName()}
			if w.seen[k] {
				return
			}
			w.seen[k] = true
		}
	}
	if ru, ok := reader.(*avro.UnionSchema); ok {
		for i, rt := range ru.Types() {
			if wu, ok := writer.(*avro.UnionSchema); ok {
				for _, wt := range wu.Types() {
					if sameAvroKind(rt, wt) {
						w.walk(rt, wt, fmt.Sprintf("%s/%d", path, i))
					}
				}
			} else if sameAvroKind(rt, writer) {
				w.walk(rt, writer, fmt.Sprintf("%s/%d", path, i))
			}
		}
		return
	}
	if wu, ok := writer.(*avro.UnionSchema); ok {
		for _, wt := range wu.Types() {
			if sameAvroKind(reader, wt) {
				w.walk(reader, wt, path)
			}
		}
		return
	}
	switch r := reader.(type) {
	case *avro.RecordSchema:
		wr, ok := writer.(*avro.RecordSchema)
		if !ok {
			return
		}
		for _, rf := range r.Fields() {
			for _, wf := range wr.Fields() {
				if wf.Name() == rf.Name() || contains(rf.Aliases(), wf.Name()) {
					w.walk(rf.Type(), wf.Type(), path+"/fields/"+rf.Name()+"/type")
					break
				}
			}
		}
	case *avro.ArraySchema:
		if wa, ok := writer.(*avro.ArraySchema); ok {
			w.walk(r.Items(), wa.Items(), path+"/items")
		}
	case *avro.MapSchema:
		if wm, ok := writer.(*avro.MapSchema); ok {
			w.walk(r.Values(), wm.Values(), path+"/values")
		}
	default:
		w.logical(reader, writer, path)
	}
}

func sameAvroKind(a, b avro.Schema) bool {
	a, b = deref(a), deref(b)
	if a.Type() != b.Type() {
		return false
	}
	an, aok := a.(avro.NamedSchema)
	bn, bok := b.(avro.NamedSchema)
	return !aok || !bok || an.FullName() == bn.FullName() || contains(an.Aliases(), bn.FullName())
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// logical compares decimal parameters: a value written with one scale
// read with another changes by a power of ten, and a reader with a smaller
// precision cannot hold every value the writer can.
func (w *avroWalker) logical(reader, writer avro.Schema, path string) {
	rd, rok := decimalOf(reader)
	wd, wok := decimalOf(writer)
	if !rok || !wok {
		return
	}
	if path == "" {
		path = "/"
	}
	if rd.Scale() != wd.Scale() {
		w.out = append(w.out, fmt.Sprintf("DECIMAL_SCALE_MISMATCH: at %s the reader's decimal scale is %d, the writer's %d",
			path, rd.Scale(), wd.Scale()))
	}
	if rd.Precision() < wd.Precision() {
		w.out = append(w.out, fmt.Sprintf("DECIMAL_PRECISION_NARROWED: at %s the reader's decimal precision is %d, less than the writer's %d",
			path, rd.Precision(), wd.Precision()))
	}
}

func decimalOf(s avro.Schema) (*avro.DecimalLogicalSchema, bool) {
	ls, ok := s.(avro.LogicalTypeSchema)
	if !ok || ls.Logical() == nil {
		return nil, false
	}
	d, ok := ls.Logical().(*avro.DecimalLogicalSchema)
	return d, ok
}
