package sqlcore

import (
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// Rewriter turns the core's SQL into a backend's: each {name} becomes
// Names[name] and, with Dollar, each ? becomes $1, $2, … (PostgreSQL).
// Quoted text ('…') is left alone. Results are cached, up to a bound, as
// the core's statements are few and fixed.
type Rewriter struct {
	Dollar bool
	Names  map[string]string

	cache sync.Map // string → string
	n     atomic.Int64
}

// maxCached bounds the cache: dynamic statements (audit searches) have
// many shapes, and rewriting one costs less than a round trip anyway.
const maxCached = 4096

// SQL returns q rewritten.
func (r *Rewriter) SQL(q string) string {
	if v, ok := r.cache.Load(q); ok {
		return v.(string)
	}
	out := r.rewrite(q)
	if r.n.Load() < maxCached {
		r.n.Add(1)
		r.cache.Store(q, out)
	}
	return out
}

func (r *Rewriter) rewrite(q string) string {
	if !strings.ContainsAny(q, "?{") {
		return q
	}
	var b strings.Builder
	b.Grow(len(q) + 16)
	n := 0
	quoted := false
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch {
		case c == '\'':
			quoted = !quoted
			b.WriteByte(c)
		case quoted:
			b.WriteByte(c)
		case c == '?' && r.Dollar:
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
		case c == '{':
			end := strings.IndexByte(q[i:], '}')
			if end < 0 {
				b.WriteString(q[i:])
				return b.String()
			}
			name := q[i+1 : i+end]
			if v, ok := r.Names[name]; ok {
				b.WriteString(v)
			} else {
				// an unknown name is a bug of the core: leave it, so the
				// database names it in its error
				b.WriteString(q[i : i+end+1])
			}
			i += end
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}
