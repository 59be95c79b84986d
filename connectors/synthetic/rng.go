package synthetic

import "math/bits"

// Everything here is a pure function of its inputs: a record or citizen is
// regenerated from (seed, …, index) alone, never from generator state, so
// that a restarted connector reproduces exactly what it produced before.
// math/rand is not used because seeding a source per record is slow and its
// streams are not guaranteed stable across Go releases.

// splitmix64 is the SplitMix64 finaliser: a fast, well-mixed 64-bit hash.
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

// strHash hashes a label (source name, purpose) into a stream selector.
// (FNV-1a, inlined to avoid allocating a hash.Hash per record.)
func strHash(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

// rng is a small deterministic generator (SplitMix64 stream).
type rng struct{ s uint64 }

// newRNG derives an independent stream from a seed and any number of
// labels and indexes.
func newRNG(seed int64, parts ...uint64) *rng {
	h := splitmix64(uint64(seed) ^ 0x6a09e667f3bcc908)
	for _, p := range parts {
		h = splitmix64(h ^ p)
	}
	return &rng{s: h}
}

func (r *rng) next() uint64 {
	r.s += 0x9e3779b97f4a7c15
	return splitmix64(r.s)
}

// intn returns a uniform int in [0, n); n must be > 0.
func (r *rng) intn(n int) int {
	hi, _ := bits.Mul64(r.next(), uint64(n))
	return int(hi)
}

// between returns a uniform int in [lo, hi].
func (r *rng) between(lo, hi int) int { return lo + r.intn(hi-lo+1) }

// float returns a uniform float64 in [0, 1).
func (r *rng) float() float64 { return float64(r.next()>>11) / (1 << 53) }

// chance is true with probability p.
func (r *rng) chance(p float64) bool { return r.float() < p }

// pick returns an element of xs.
func pick[T any](r *rng, xs []T) T { return xs[r.intn(len(xs))] }

// weighted picks an index with probability proportional to its weight,
// given the cumulative weights.
func (r *rng) weighted(cum []float64) int {
	x := r.float() * cum[len(cum)-1]
	lo, hi := 0, len(cum)-1
	for lo < hi {
		m := (lo + hi) / 2
		if cum[m] > x {
			hi = m
		} else {
			lo = m + 1
		}
	}
	return lo
}

func cumulative(ws []float64) []float64 {
	out := make([]float64, len(ws))
	sum := 0.0
	for i, w := range ws {
		sum += w
		out[i] = sum
	}
	return out
}

// perm is a keyed bijection of [0, n): a 4-round Feistel network on the
// smallest even number of bits covering n, with cycle-walking to stay in
// range. It turns an index into a unique, random-looking serial number (and
// back), which is how identifiers stay unique without remembering any.
type perm struct {
	n    uint64
	half uint // bits per half
	mask uint64
	keys [4]uint64
}

func newPerm(n uint64, seed int64, label string) perm {
	b := uint(bits.Len64(n - 1))
	if b%2 == 1 {
		b++
	}
	if b < 2 {
		b = 2
	}
	p := perm{n: n, half: b / 2, mask: 1<<(b/2) - 1}
	r := newRNG(seed, strHash("perm:"+label), n)
	for i := range p.keys {
		p.keys[i] = r.next()
	}
	return p
}

func (p perm) round(x uint64, k int) uint64 { return splitmix64(x^p.keys[k]) & p.mask }

func (p perm) encrypt(x uint64) uint64 {
	l, r := x>>p.half, x&p.mask
	for k := 0; k < 4; k++ {
		l, r = r, l^p.round(r, k)
	}
	return l<<p.half | r
}

func (p perm) decrypt(x uint64) uint64 {
	l, r := x>>p.half, x&p.mask
	for k := 3; k >= 0; k-- {
		l, r = r^p.round(l, k), l
	}
	return l<<p.half | r
}

// Apply maps x in [0, n) to its image in [0, n).
func (p perm) Apply(x uint64) uint64 {
	for {
		x = p.encrypt(x)
		if x < p.n {
			return x
		}
	}
}

// Invert is the inverse of Apply.
func (p perm) Invert(y uint64) uint64 {
	for {
		y = p.decrypt(y)
		if y < p.n {
			return y
		}
	}
}
