package identity

import (
	"errors"
	"fmt"
	"hash/maphash"
	"math/bits"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/lgsp-bus/lgsp/broker/store"
)

// Index is the in-memory population index that reconciliation reads: exact
// look-up by 12-digit personal number and by legacy 9-digit CMND number.
//
// Layout, chosen to keep ~100 million citizens in a few GB and a look-up to
// about one cache miss:
//   - one open-addressing table of 16-byte slots (linear probing, load
//     ≤ 0.8), each holding the citizen itself: the number (40 bits), date of
//     birth, sex and deceased flag packed in one word, the name as an offset
//     into a byte arena and the CMND number;
//   - a table of 4-byte slot references for the citizens that have a CMND;
//   - an arena of interned names (full names repeat a lot), each stored once.
//
// Reads never lock: the tables are published through an atomic pointer and
// each slot's key word is written atomically after the rest of the slot, so
// a reader that sees a key sees the whole citizen. Writers (Add) serialise on
// a mutex; replacing a citizen writes a new slot and then marks the old one
// dead, so a concurrent reader sees either the old or the new version, never
// a mix. Growing the table builds a new one and swaps the pointer; readers
// still holding the old table finish on it.
type Index struct {
	mu    sync.Mutex // serialises writers only
	tab   atomic.Pointer[table]
	names arena
	count atomic.Int64 // live citizens

	// writer-side state, under mu
	used     int      // slots holding a citizen, live or dead
	oldUsed  int      // CMND references, live or dead
	nameSet  []uint32 // intern set: arena offset+1 of each distinct name
	nameUsed int
	seed     maphash.Seed
}

// slot is one citizen. key is 0 for an empty slot; a citizen's key is never
// 0 because its date of birth is never 0.
type slot struct {
	key  atomic.Uint64 // id | dob<<40 | sex<<61 | deceased<<62 | dead<<63
	name uint32        // arena offset of the full name as registered
	old  uint32        // CMND number + 1, 0 = none
}

const (
	idBits   = 40
	idMask   = 1<<idBits - 1
	dobShift = idBits
	dobMask  = 1<<21 - 1
	sexBit   = 1 << 61 // set: female
	deadBit  = 1 << 62 // citizen deceased (the register says so)
	staleBit = 1 << 63 // slot replaced by a newer version of the citizen
	maxLoad  = 0.8
	minSlots = 16
)

type table struct {
	slots []slot
	olds  []atomic.Uint32 // slot index + 1 of a citizen with a CMND; 0 = empty
}

// NewIndex returns an empty index sized for n citizens, so that building it
// from a known population does not rehash.
func NewIndex(n int) *Index {
	x := &Index{seed: maphash.MakeSeed()}
	x.tab.Store(newTable(capFor(n), capFor(n/2)))
	x.nameSet = make([]uint32, capFor(n/8))
	return x
}

func capFor(n int) int {
	c := int(float64(n)/maxLoad) + 1
	if c < minSlots {
		c = minSlots
	}
	return c
}

func newTable(n, nOld int) *table {
	t := &table{slots: make([]slot, n), olds: make([]atomic.Uint32, nOld)}
	hugePages(t.slots)
	hugePages(t.olds)
	return t
}

// Len returns the number of citizens in the index.
func (x *Index) Len() int { return int(x.count.Load()) }

// SizeBytes returns the memory held by the index's tables and name arena.
func (x *Index) SizeBytes() int {
	t := x.tab.Load()
	x.mu.Lock()
	defer x.mu.Unlock()
	return len(t.slots)*int(unsafe.Sizeof(slot{})) + len(t.olds)*4 + len(x.nameSet)*4 + x.names.size()
}

// mix is a 64-bit finaliser (from MurmurHash3): personal numbers share
// prefixes, so the low-entropy structure must be spread before reducing.
func mix(v uint64) uint64 {
	v ^= v >> 33
	v *= 0xff51afd7ed558ccd
	v ^= v >> 33
	v *= 0xc4ceb9fe1a85ec53
	v ^= v >> 33
	return v
}

// home reduces a hash to [0, n) by multiply-high, which allows table sizes
// that are not powers of two (and so a load close to maxLoad).
func home(h uint64, n int) int {
	hi, _ := bits.Mul64(h, uint64(n))
	return int(hi)
}

// Add inserts a citizen, or replaces the one with the same personal number.
// It rejects what the index cannot represent: a personal number that is not
// 12 digits, a CMND that is not 9 digits, a date of birth that is not a
// valid YYYY-MM-DD, a sex other than M or F, a name longer than 255 bytes.
// Add may run concurrently with readers.
func (x *Index) Add(c store.Citizen) error {
	var errs []error
	id, ok := digits(c.ID, 12)
	if !ok {
		errs = append(errs, errors.New("personal number is not 12 digits"))
	}
	var old uint32
	if c.OldID != "" {
		v, ok := digits(c.OldID, 9)
		if !ok {
			errs = append(errs, errors.New("CMND number is not 9 digits"))
		}
		old = uint32(v) + 1
	}
	dob, ok := parseDate(c.DOB)
	if !ok {
		errs = append(errs, fmt.Errorf("date of birth %q is not a valid YYYY-MM-DD", c.DOB))
	}
	if c.Sex != "M" && c.Sex != "F" {
		errs = append(errs, fmt.Errorf("sex %q is not M or F", c.Sex))
	}
	if len(c.FullName) > 255 || len(c.FullName) == 0 {
		errs = append(errs, fmt.Errorf("name of %d bytes, want 1-255", len(c.FullName)))
	}
	if len(errs) > 0 {
		// the personal number is not repeated: errors end up in logs
		return fmt.Errorf("identity: cannot index citizen: %w", errors.Join(errs...))
	}
	key := id | uint64(dob)<<dobShift
	if c.Sex == "F" {
		key |= sexBit
	}
	if c.Deceased {
		key |= deadBit
	}

	x.mu.Lock()
	defer x.mu.Unlock()
	name := x.intern(c.FullName)
	t := x.tab.Load()
	if float64(x.used+1) > maxLoad*float64(len(t.slots)) {
		// full of live citizens: double; full of replaced versions:
		// rebuild at the same size, so churn does not grow the table
		n := len(t.slots)
		if float64(x.count.Load()+1) > maxLoad/2*float64(n) {
			n *= 2
		}
		t = x.grow(t, n)
	}
	prev := -1
	i := home(mix(id), len(t.slots))
	for {
		k := t.slots[i].key.Load()
		if k == 0 {
			break
		}
		if k&staleBit == 0 && k&idMask == id {
			if k == key && t.slots[i].name == name && t.slots[i].old == old {
				return nil // unchanged
			}
			prev = i
		}
		if i++; i == len(t.slots) {
			i = 0
		}
	}
	s := &t.slots[i]
	s.name, s.old = name, old
	s.key.Store(key) // publishes name and old to readers
	x.used++
	if old != 0 {
		t = x.addOld(t, i)
	}
	if prev >= 0 {
		// after the new version is reachable, so a reader skipping the
		// stale slot finds the new one further along the probe sequence
		p := &t.slots[prev]
		p.key.Store(p.key.Load() | staleBit)
	} else {
		x.count.Add(1)
	}
	return nil
}

// addOld references slot i from the CMND table, growing it when needed.
func (x *Index) addOld(t *table, i int) *table {
	if float64(x.oldUsed+1) > maxLoad*float64(len(t.olds)) {
		var live []int
		for j := range t.slots {
			if k := t.slots[j].key.Load(); k != 0 && k&staleBit == 0 && t.slots[j].old != 0 && j != i {
				live = append(live, j)
			}
		}
		n := len(t.olds) // mostly stale references: rebuild at the same size
		if float64(len(live)+1) > maxLoad/2*float64(n) {
			n *= 2
		}
		nt := &table{slots: t.slots, olds: make([]atomic.Uint32, n)}
		for _, j := range live {
			insertOld(nt, j)
		}
		x.oldUsed = len(live)
		x.tab.Store(nt)
		t = nt
	}
	insertOld(t, i)
	x.oldUsed++
	return t
}

func insertOld(t *table, i int) {
	j := home(mix(uint64(t.slots[i].old)), len(t.olds))
	for t.olds[j].Load() != 0 {
		if j++; j == len(t.olds) {
			j = 0
		}
	}
	t.olds[j].Store(uint32(i + 1))
}

// grow rebuilds the table with n slots, dropping replaced versions, and
// publishes it. Readers still on the old table finish there: it is never
// written again.
func (x *Index) grow(t *table, n int) *table {
	live := int(x.count.Load())
	nt := newTable(n, max(capFor(x.oldUsed), len(t.olds)))
	x.used, x.oldUsed = 0, 0
	for j := range t.slots {
		k := t.slots[j].key.Load()
		if k == 0 || k&staleBit != 0 {
			continue
		}
		i := home(mix(k&idMask), n)
		for nt.slots[i].key.Load() != 0 {
			if i++; i == n {
				i = 0
			}
		}
		nt.slots[i].name, nt.slots[i].old = t.slots[j].name, t.slots[j].old
		nt.slots[i].key.Store(k)
		x.used++
		if nt.slots[i].old != 0 {
			insertOld(nt, i)
			x.oldUsed++
		}
	}
	if x.used != live {
		panic("identity: index lost citizens while growing") // a bug, not bad data
	}
	x.tab.Store(nt)
	return nt
}

// entry is a citizen as read from a slot.
type entry struct {
	key  uint64
	name uint32
	old  uint32
}

func (e entry) id() uint64     { return e.key & idMask }
func (e entry) dob() uint32    { return uint32(e.key>>dobShift) & dobMask }
func (e entry) female() bool   { return e.key&sexBit != 0 }
func (e entry) deceased() bool { return e.key&deadBit != 0 }
func (e entry) sex() string {
	if e.female() {
		return "F"
	}
	return "M"
}
func (x *Index) nameOf(e entry) string { return x.names.get(e.name) }

// find looks a personal number up. It does not lock or allocate.
func (x *Index) find(id uint64) (entry, bool) {
	t := x.tab.Load()
	i := home(mix(id), len(t.slots))
	for {
		s := &t.slots[i]
		k := s.key.Load()
		if k == 0 {
			return entry{}, false
		}
		if k&idMask == id && k&staleBit == 0 {
			return entry{key: k, name: s.name, old: s.old}, true
		}
		if i++; i == len(t.slots) {
			i = 0
		}
	}
}

// findFrom is find in table t, starting at slot i whose key k has
// already been read.
func (t *table) findFrom(id uint64, i int, k uint64) (entry, bool) {
	for {
		if k == 0 {
			return entry{}, false
		}
		if k&idMask == id && k&staleBit == 0 {
			s := &t.slots[i]
			return entry{key: k, name: s.name, old: s.old}, true
		}
		if i++; i == len(t.slots) {
			i = 0
		}
		k = t.slots[i].key.Load()
	}
}

// findOld looks a CMND number up.
func (x *Index) findOld(old uint64) (entry, bool) {
	t := x.tab.Load()
	want := uint32(old) + 1
	j := home(mix(uint64(want)), len(t.olds))
	for {
		ref := t.olds[j].Load()
		if ref == 0 {
			return entry{}, false
		}
		s := &t.slots[ref-1]
		if k := s.key.Load(); k&staleBit == 0 && s.old == want {
			return entry{key: k, name: s.name, old: s.old}, true
		}
		if j++; j == len(t.olds) {
			j = 0
		}
	}
}

// Lookup returns the citizen with a 12-digit personal number.
func (x *Index) Lookup(id string) (store.Citizen, bool) {
	v, ok := digits(id, 12)
	if !ok {
		return store.Citizen{}, false
	}
	e, ok := x.find(v)
	if !ok {
		return store.Citizen{}, false
	}
	return x.citizen(e), true
}

// LookupOld returns the citizen with a legacy 9-digit CMND number.
func (x *Index) LookupOld(cmnd string) (store.Citizen, bool) {
	v, ok := digits(cmnd, 9)
	if !ok {
		return store.Citizen{}, false
	}
	e, ok := x.findOld(v)
	if !ok {
		return store.Citizen{}, false
	}
	return x.citizen(e), true
}

func (x *Index) citizen(e entry) store.Citizen {
	id := formatDigits(e.id(), 12)
	c := store.Citizen{
		ID:            id,
		FullName:      x.nameOf(e),
		DOB:           formatDate(e.dob()),
		Sex:           e.sex(),
		BirthProvince: id[:3],
		Deceased:      e.deceased(),
	}
	if e.old != 0 {
		c.OldID = formatDigits(uint64(e.old-1), 9)
	}
	return c
}

// intern returns the arena offset of name, storing it on first use. Called
// under mu.
func (x *Index) intern(name string) uint32 {
	if float64(x.nameUsed+1) > maxLoad*float64(len(x.nameSet)) {
		set := make([]uint32, 2*len(x.nameSet))
		for _, ref := range x.nameSet {
			if ref != 0 {
				j := home(maphash.String(x.seed, x.names.get(ref-1)), len(set))
				for set[j] != 0 {
					if j++; j == len(set) {
						j = 0
					}
				}
				set[j] = ref
			}
		}
		x.nameSet = set
	}
	j := home(maphash.String(x.seed, name), len(x.nameSet))
	for {
		ref := x.nameSet[j]
		if ref == 0 {
			break
		}
		if x.names.get(ref-1) == name {
			return ref - 1
		}
		if j++; j == len(x.nameSet) {
			j = 0
		}
	}
	off := x.names.put(name)
	x.nameSet[j] = off + 1
	x.nameUsed++
	return off
}

// arena stores names back to back in fixed-size chunks, each name prefixed
// by its length byte. Chunks are never moved or rewritten once a name is in
// them, which is what lets readers view a name without copying or locking.
// Names are never freed: a citizen renamed keeps the old bytes in the arena
// (renames are rare; rebuild the index to reclaim them).
type arena struct {
	dir  atomic.Pointer[[]*[chunkSize]byte]
	fill int // bytes used in the last chunk (writer only)
}

const (
	chunkBits = 16
	chunkSize = 1 << chunkBits
)

func (a *arena) put(s string) uint32 {
	var dir []*[chunkSize]byte
	if d := a.dir.Load(); d != nil {
		dir = *d
	}
	if len(dir) == 0 || a.fill+1+len(s) > chunkSize {
		nd := make([]*[chunkSize]byte, len(dir)+1)
		copy(nd, dir)
		nd[len(dir)] = new([chunkSize]byte)
		dir = nd
		a.dir.Store(&nd)
		a.fill = 0
	}
	c := dir[len(dir)-1]
	off := uint32(len(dir)-1)<<chunkBits | uint32(a.fill)
	c[a.fill] = byte(len(s))
	copy(c[a.fill+1:], s)
	a.fill += 1 + len(s)
	return off
}

// get returns the name at off as a string sharing the arena's memory; the
// bytes are immutable once written.
func (a *arena) get(off uint32) string {
	c := (*a.dir.Load())[off>>chunkBits]
	i := int(off & (chunkSize - 1))
	n := int(c[i])
	if n == 0 {
		return ""
	}
	return unsafe.String(&c[i+1], n)
}

func (a *arena) size() int {
	if d := a.dir.Load(); d != nil {
		return len(*d) * chunkSize
	}
	return 0
}

// digits parses a string of exactly n ASCII digits.
func digits(s string, n int) (uint64, bool) {
	if len(s) != n {
		return 0, false
	}
	var v uint64
	for i := 0; i < n; i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + uint64(c-'0')
	}
	return v, true
}

func formatDigits(v uint64, n int) string {
	var b [12]byte
	for i := n - 1; i >= 0; i-- {
		b[i] = byte('0' + v%10)
		v /= 10
	}
	return string(b[:n])
}

// Dates are packed as year<<9 | month<<5 | day: comparable as integers,
// and a day/month swap is a bit-field swap.
func packDate(y, m, d int) uint32 { return uint32(y)<<9 | uint32(m)<<5 | uint32(d) }

func unpackDate(v uint32) (y, m, d int) { return int(v >> 9), int(v >> 5 & 15), int(v & 31) }

// parseDate parses a valid YYYY-MM-DD date (years 1-4095) without allocating.
func parseDate(s string) (uint32, bool) {
	y, m, d, ok := splitDate(s)
	if !ok || y < 1 || y > 4095 || m < 1 || m > 12 || d < 1 || d > daysIn(y, m) {
		return 0, false
	}
	return packDate(y, m, d), true
}

// splitDate reads the three numbers of a YYYY-MM-DD shape without checking
// their ranges, so that a swapped date such as 1990-14-03 can still be
// recognised as a swap.
func splitDate(s string) (y, m, d int, ok bool) {
	if len(s) != 10 || s[4] != '-' || s[7] != '-' {
		return 0, 0, 0, false
	}
	// unrolled: this runs on every verification
	d0, d1, d2, d3 := s[0]-'0', s[1]-'0', s[2]-'0', s[3]-'0'
	d5, d6, d8, d9 := s[5]-'0', s[6]-'0', s[8]-'0', s[9]-'0'
	if d0 > 9 || d1 > 9 || d2 > 9 || d3 > 9 || d5 > 9 || d6 > 9 || d8 > 9 || d9 > 9 {
		return 0, 0, 0, false
	}
	y = int(d0)*1000 + int(d1)*100 + int(d2)*10 + int(d3)
	m = int(d5)*10 + int(d6)
	d = int(d8)*10 + int(d9)
	return y, m, d, true
}

func daysIn(y, m int) int {
	switch m {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

func formatDate(v uint32) string {
	y, m, d := unpackDate(v)
	b := [10]byte{
		byte('0' + y/1000%10), byte('0' + y/100%10), byte('0' + y/10%10), byte('0' + y%10), '-',
		byte('0' + m/10), byte('0' + m%10), '-',
		byte('0' + d/10), byte('0' + d%10),
	}
	return string(b[:])
}
