package linkage

import (
	"fmt"
	"hash/maphash"
	"iter"
	"slices"
	"strings"
	"sync"
	"unsafe"

	"github.com/lgsp-bus/lgsp/broker/store"
)

// Population is the register in the form linkage reads: each citizen's
// number, date of birth, sex, name and CMND in 16 bytes (names interned
// once per distinct name, with their folded words), and one array of 4-byte
// citizen references per blocking rule, sorted by the rule's key so a block
// is found by binary search without storing the keys. It is built once
// from a snapshot (NewPopulation) and read concurrently.
type Population struct {
	keys  []uint64 // id | dob<<40 | female<<61 | deceased<<62 | no sex<<63 (see identity.Index)
	names []uint32 // index into infos
	olds  []uint32 // CMND + 1, 0 = none
	// ids are the rows' ids as written in the general form (see
	// PopulationOptions.General); nil in the packed form, where the id is
	// the 12-digit number in keys
	ids []string
	// cccd: keys hold 12-digit personal numbers (always in the packed
	// form; in the general form when the ids are CCCDs); noSex: some
	// citizen has no sex, so a record's date probes both sexes' blocks
	cccd, noSex bool
	infos       []nameInfo
	// nameKeys (sorted) and nameCounts count the citizens by the
	// comparison form of their whole name, with diacritics (normKey) and
	// without (foldKey): how often a record's name is written the way it
	// is (see Linker.spelling)
	nameKeys   []uint64
	nameCounts []uint32
	seed       maphash.Seed
	toks       []string          // folded words by id
	tokID      map[string]uint32 // folded word → id
	given      []uint32          // citizens whose given name is word id
	sur        []uint32          // citizens whose surname is word id
	// tfGiven, tfSur: probability that two random citizens share a given
	// name (surname); the baseline of the term-frequency adjustment
	tfGiven, tfSur float64
	blocks         [nRules][]uint32
	// fences[r][j] is the key of blocks[r][j*fenceStep]: a binary search
	// runs on this small, cache-resident array first, then on one stretch
	// of fenceStep references (a search over 10 million references costs
	// ~6 cache misses instead of ~24)
	fences [nRules][]uint64
	byOld  []uint64 // CMND<<32 | citizen, sorted
	// extras are the extra fields the population was built for, cols
	// their values per citizen (see BuildPopulation)
	extras []ExtraField
	cols   []*popColumn
}

// nameInfo is one distinct registered name.
type nameInfo struct {
	norm, fold string
	toks       []string
	sur, given uint32 // word ids of the first and last folded word
	mid        uint32 // middleHash of the words between them
}

// countNames fills nameKeys and nameCounts from the citizens per distinct
// registered name: the keys are hashed on every core, radix-sorted and
// merged (a map would cost more memory and, at 10M citizens, a second).
func (p *Population) countNames(perName []uint32) {
	p.seed = maphash.MakeSeed()
	keys := make([]uint64, 2*len(p.infos))
	at := make([]uint32, 2*len(p.infos)) // 2·name (+1: folded)
	parallel(len(p.infos), func(lo, hi int) {
		for k := lo; k < hi; k++ {
			keys[2*k], at[2*k] = p.normKey(p.infos[k].norm), uint32(2*k)
			keys[2*k+1], at[2*k+1] = p.foldKey(p.infos[k].fold), uint32(2*k+1)
		}
	})
	radixSort(keys, at)
	out := 0
	for j, key := range keys {
		k := at[j] / 2
		if at[j]%2 == 1 && p.infos[k].fold == p.infos[k].norm {
			continue // no diacritics to leave out: counted under normKey
		}
		if out > 0 && keys[out-1] == key {
			at[out-1] += perName[k]
			continue
		}
		keys[out], at[out] = key, perName[k]
		out++
	}
	p.nameKeys, p.nameCounts = slices.Clip(keys[:out]), slices.Clip(at[:out])
}

// nameCount is the number of citizens under a normKey or foldKey.
func (p *Population) nameCount(key uint64) uint32 {
	if i, ok := slices.BinarySearch(p.nameKeys, key); ok {
		return p.nameCounts[i]
	}
	return 0
}

// normKey and foldKey are the keys of nameCount.
func (p *Population) normKey(norm string) uint64 { return maphash.String(p.seed, norm) }
func (p *Population) foldKey(fold string) uint64 { return ^maphash.String(p.seed, fold) }

// middleHash is a hash (FNV-1a) of the middle words of a name, in order,
// for RuleFullNameSex.
func middleHash(words []string, skip1, skip2 int) uint32 {
	h := uint32(2166136261)
	for k, w := range words {
		if k == skip1 || k == skip2 {
			continue
		}
		for i := 0; i < len(w); i++ {
			h = (h ^ uint32(w[i])) * 16777619
		}
		h = (h ^ ' ') * 16777619
	}
	return h
}

const (
	idMask   = 1<<40 - 1
	dobShift = 40
	dobMask  = 1<<21 - 1
	sexBit   = 1 << 61
	deadBit  = 1 << 62
	noSexBit = 1 << 63 // general form: the row gives no sex (keyed as male)
)

// Blocking rules. A candidate pair is compared when it agrees on at least
// one; none of them is the surname alone (about 38% of people are Nguyễn).
const (
	RuleDOBSex        = iota // full date of birth and sex: survives any name error
	RuleNameYearMonth        // given name, surname, year and month: survives a wrong day
	RuleNameMonthDay         // given name, surname, month and day: survives a wrong year
	RuleNameYearDay          // given name, surname, year and day: survives a wrong month
	RuleFullNameSex          // the whole name and sex, no date: for records without a usable date
	RuleOldID                // CMND number, exactly or one digit away
	// rules with a sorted array of their own: RuleFullNameSex reads the
	// stretch of RuleNameYearMonth's array that has the name, RuleOldID
	// uses byOld
	nRules    = 4
	nRulesAll = 6
)

// RuleNames names the blocking rules in reports.
var RuleNames = [nRulesAll]string{"dob+sex", "given+surname+year+month", "given+surname+month+day", "given+surname+year+day", "full_name+sex", "old_id±1"}

// NewPopulation builds the population from citizens (n is a size hint).
// Citizens the register cannot represent (see identity.Index.Add) are
// skipped and counted in the error, which is returned with the population.
func NewPopulation(citizens iter.Seq[store.Citizen], n int) (*Population, error) {
	return BuildPopulation(func(yield func(store.Citizen, []string) bool) {
		for c := range citizens {
			if !yield(c, nil) {
				return
			}
		}
	}, n, nil)
}

// BuildPopulation is NewPopulation keeping, for a mapping's extra fields,
// each citizen's value of the field's population column: rows yields a
// citizen with those values, in the order of extras (a short or nil slice
// means the rest are missing; see ScanPopulationRows and CitizenColumn).
// The values are kept compactly: an address as a reference to its distinct
// parsed form (a household shares one), a postcode or a numeric id packed in
// 8 bytes, a text as a reference to its distinct value.
func BuildPopulation(rows iter.Seq2[store.Citizen, []string], n int, extras []ExtraField) (*Population, error) {
	return BuildPopulationWith(rows, n, PopulationOptions{Extras: extras})
}

// PopulationOptions say what a population keeps and in which form.
type PopulationOptions struct {
	// Extras are the extra fields whose values each citizen keeps (see
	// BuildPopulation).
	Extras []ExtraField
	// General keeps each row's id as written (store.Citizen.ID: any
	// format, e.g. a tax code, an insurance number, or a row number when
	// the file has no id) and takes rows without a sex or a date of birth:
	// another ministry's file as the population side. Without it the
	// population is the register's packed form (8 bytes a citizen for
	// the number, date, sex and state): every row needs a 12-digit
	// personal number, a date and a sex (M/F), else it is skipped.
	General bool
	// CCCD, in the general form, says the ids are 12-digit personal
	// numbers: compared with a record's number (one digit off, encoded
	// facts) and read for the province of birth. Ids of another scheme
	// are only the rows' names in the results.
	CCCD bool
}

// GeneralPopulation is the population options a population mapping asks
// for: the general form when its id is not a CCCD (IDFormat), or it names
// no id or no sex column (nil: the packed form of PopulationColumns).
func (m *Mapping) GeneralPopulation() PopulationOptions {
	if m == nil {
		return PopulationOptions{}
	}
	cccdID := m.PersonalID != "" && m.idFormat() == IDCCCD
	return PopulationOptions{General: !cccdID || m.Sex == "", CCCD: cccdID}
}

// BuildPopulationWith is BuildPopulation in the form o asks for. In the
// general form a citizen without a name or an id, or whose date of birth
// is given but not read, is skipped and counted in the error.
func BuildPopulationWith(rows iter.Seq2[store.Citizen, []string], n int, o PopulationOptions) (*Population, error) {
	extras := o.Extras
	if err := checkExtras(extras); err != nil {
		return nil, err
	}
	p := &Population{
		keys:   make([]uint64, 0, n),
		names:  make([]uint32, 0, n),
		olds:   make([]uint32, 0, n),
		tokID:  map[string]uint32{},
		extras: slices.Clone(extras),
		cccd:   !o.General || o.CCCD,
	}
	if o.General {
		p.ids = make([]string, 0, n)
	}
	for _, f := range extras {
		p.cols = append(p.cols, newColumn(f, n))
	}
	nameID := map[string]uint32{}
	var raw []string // distinct registered names, by name id
	skipped := 0
	for c, extra := range rows {
		s, dateOK := packableDate(c.DOB)
		var key uint64
		if o.General {
			if c.ID == "" || c.FullName == "" || (c.DOB != "" && !dateOK) {
				skipped++
				continue
			}
			if id, ok := digitsN(c.ID, 12); ok && o.CCCD {
				key = id
			}
			if dateOK {
				key |= uint64(packDate(s.y, s.m, s.d)) << dobShift
			}
			switch c.Sex {
			case "F":
				key |= sexBit
			case "M":
			default:
				key |= noSexBit
				p.noSex = true
			}
			// a copy: a CSV reader's fields share their line's memory
			p.ids = append(p.ids, strings.Clone(c.ID))
		} else {
			id, ok := digitsN(c.ID, 12)
			if !ok || !dateOK || (c.Sex != "M" && c.Sex != "F") || c.FullName == "" {
				skipped++
				continue
			}
			key = id | uint64(packDate(s.y, s.m, s.d))<<dobShift
			if c.Sex == "F" {
				key |= sexBit
			}
		}
		if c.Deceased {
			key |= deadBit
		}
		ni, ok := nameID[c.FullName]
		if !ok {
			ni = uint32(len(raw))
			raw = append(raw, c.FullName)
			nameID[c.FullName] = ni
		}
		var old uint32
		if v, ok := digitsN(c.OldID, 9); ok {
			old = uint32(v) + 1
		}
		p.keys = append(p.keys, key)
		p.names = append(p.names, ni)
		p.olds = append(p.olds, old)
		for k, col := range p.cols {
			v := ""
			if k < len(extra) {
				v = extra[k]
			}
			col.add(v)
		}
	}
	nameID = nil
	for _, col := range p.cols {
		col.finish()
	}
	// the comparison forms of the distinct names, on every core, then
	// their words
	p.infos = make([]nameInfo, len(raw))
	parallel(len(raw), func(lo, hi int) {
		for k := lo; k < hi; k++ {
			var s side
			s.setName(raw[k])
			p.infos[k] = nameInfo{norm: s.norm, fold: s.fold, toks: s.toks}
		}
	})
	for k := range p.infos {
		info := &p.infos[k]
		for i, t := range info.toks {
			info.toks[i] = p.toks[p.word(t)] // share the word strings
		}
		if len(info.toks) > 0 {
			info.sur = p.tokID[info.toks[0]]
			info.given = p.tokID[info.toks[len(info.toks)-1]]
			info.mid = middleHash(info.toks, 0, len(info.toks)-1)
		}
	}
	perName := make([]uint32, len(p.infos))
	for _, ni := range p.names {
		perName[ni]++
		if info := &p.infos[ni]; len(info.toks) > 0 {
			p.given[info.given]++
			p.sur[info.sur]++
		}
	}
	p.countNames(perName)
	p.keys, p.names, p.olds, p.ids = slices.Clip(p.keys), slices.Clip(p.names), slices.Clip(p.olds), slices.Clip(p.ids)
	total := float64(len(p.keys))
	for i := range p.toks {
		g, s := float64(p.given[i])/total, float64(p.sur[i])/total
		p.tfGiven += g * g
		p.tfSur += s * s
	}
	p.buildBlocks()
	if skipped > 0 && o.General {
		return p, fmt.Errorf("linkage: %d rows skipped: no id, no name or a date of birth not read", skipped)
	}
	if skipped > 0 {
		return p, fmt.Errorf("linkage: %d citizens skipped: malformed number, date, sex or name", skipped)
	}
	return p, nil
}

// PopulationOf builds the population of a slice of citizens.
func PopulationOf(cs []store.Citizen) (*Population, error) {
	return NewPopulation(slices.Values(cs), len(cs))
}

func (p *Population) word(w string) uint32 {
	id, ok := p.tokID[w]
	if !ok {
		id = uint32(len(p.toks))
		p.toks = append(p.toks, w)
		p.tokID[w] = id
		p.given = append(p.given, 0)
		p.sur = append(p.sur, 0)
	}
	return id
}

// Len returns the number of citizens.
func (p *Population) Len() int { return len(p.keys) }

// Extras are the extra fields the population keeps values of.
func (p *Population) Extras() []ExtraField { return slices.Clone(p.extras) }

// ExtraSizeBytes is the memory of the extra fields' values (see
// BuildPopulation), which SizeBytes does not count.
func (p *Population) ExtraSizeBytes() int {
	n := 0
	for _, c := range p.cols {
		n += c.sizeBytes()
	}
	return n
}

// SizeBytes is the memory of the per-citizen arrays and blocking indexes
// plus an estimate of the name and word tables, without the extra fields'
// values (ExtraSizeBytes).
func (p *Population) SizeBytes() int {
	n := len(p.keys)*8 + len(p.names)*4 + len(p.olds)*4 + len(p.byOld)*8
	for _, id := range p.ids {
		n += 16 + len(id)
	}
	for r, b := range p.blocks {
		n += len(b)*4 + len(p.fences[r])*8
	}
	n += len(p.infos) * int(unsafe.Sizeof(nameInfo{}))
	for _, in := range p.infos {
		n += len(in.norm) + len(in.fold) + len(in.toks)*16
	}
	for _, t := range p.toks {
		n += len(t) + 16 + 8 + 8 // string, header, map entry, counts
	}
	n += len(p.nameKeys)*8 + len(p.nameCounts)*4
	return n
}

// packableDate reads a date as the population keeps it: a real month, a
// year that fits 12 bits.
func packableDate(dob string) (side, bool) {
	var s side
	s.setDOB(dob)
	return s, s.dobOK && s.m <= 12 && s.y < 4096
}

func packDate(y, m, d int) uint32 { return uint32(y)<<9 | uint32(m)<<5 | uint32(d) }

func digitsN(s string, n int) (uint64, bool) {
	if len(s) != n {
		return 0, false
	}
	var v uint64
	for i := 0; i < n; i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		v = v*10 + uint64(s[i]-'0')
	}
	return v, true
}

const fenceStep = 32

const tokBits = 20
const tokMask = 1<<tokBits - 1

// ruleKey computes a rule's key from its parts; the same function serves
// citizens (build, binary search) and records (probe).
func ruleKey(rule int, sur, given uint32, y, m, d int, female bool) uint64 {
	name := uint64(given&tokMask)<<44 | uint64(sur&tokMask)<<24
	switch rule {
	case RuleDOBSex:
		k := uint64(packDate(y, m, d)) << 1
		if female {
			k |= 1
		}
		return k
	case RuleNameYearMonth:
		return name | uint64(y&4095)<<4 | uint64(m&15)
	case RuleNameMonthDay:
		return name | uint64(m&15)<<5 | uint64(d&31)
	default: // RuleNameYearDay
		return name | uint64(y&4095)<<5 | uint64(d&31)
	}
}

func (p *Population) keyOf(rule int, i uint32) uint64 {
	k := p.keys[i]
	dob := int(k >> dobShift & dobMask)
	info := &p.infos[p.names[i]]
	return ruleKey(rule, info.sur, info.given, dob>>9, dob>>5&15, dob&31, k&sexBit != 0)
}

// buildBlocks sorts the citizen references of each rule by key, one rule
// per core; each sort works on (key, citizen) pairs and keeps only the
// citizen.
func (p *Population) buildBlocks() {
	var wg sync.WaitGroup
	for r := range nRules {
		wg.Go(func() {
			keys := make([]uint64, len(p.keys))
			for i := range p.keys {
				keys[i] = p.keyOf(r, uint32(i))
			}
			idx := make([]uint32, len(p.keys))
			for i := range idx {
				idx[i] = uint32(i)
			}
			radixSort(keys, idx)
			p.blocks[r] = idx
			f := make([]uint64, 0, len(keys)/fenceStep+1)
			for j := 0; j < len(keys); j += fenceStep {
				f = append(f, keys[j])
			}
			p.fences[r] = f
		})
	}
	wg.Go(func() {
		var byOld []uint64
		for i, o := range p.olds {
			if o != 0 {
				byOld = append(byOld, uint64(o-1)<<32|uint64(i))
			}
		}
		slices.Sort(byOld)
		p.byOld = byOld
	})
	wg.Wait()
}

// radixSort sorts keys ascending (LSD, 11 bits a pass, skipping passes
// where every key has the same digit), permuting idx alongside.
func radixSort(keys []uint64, idx []uint32) {
	n := len(keys)
	if n < 2 {
		return
	}
	var or, and uint64 = 0, ^uint64(0)
	for _, k := range keys {
		or |= k
		and &= k
	}
	varying := or ^ and
	origK, origI := keys, idx
	tk := make([]uint64, n)
	ti := make([]uint32, n)
	const b = 11
	for shift := 0; shift < 64; shift += b {
		if varying>>shift&(1<<b-1) == 0 {
			continue
		}
		var count [1 << b]int
		for _, k := range keys {
			count[k>>shift&(1<<b-1)]++
		}
		sum := 0
		for i, c := range count {
			count[i] = sum
			sum += c
		}
		for i, k := range keys {
			d := k >> shift & (1<<b - 1)
			tk[count[d]] = k
			ti[count[d]] = idx[i]
			count[d]++
		}
		keys, tk = tk, keys
		idx, ti = ti, idx
	}
	// after an odd number of passes the sorted data is in the scratch
	// arrays; the caller's slices must hold it
	if &keys[0] != &origK[0] {
		copy(origK, keys)
		copy(origI, idx)
	}
}

// block returns the citizens of rule r with key k.
func (p *Population) block(r int, k uint64) []uint32 {
	b := p.blocks[r]
	lo := p.lowerBound(r, k)
	end := lo
	for end < len(b) && p.keyOf(r, b[end]) == k {
		end++
	}
	return b[lo:end]
}

// lowerBound is the first position of rule r's array whose key is ≥ k.
func (p *Population) lowerBound(r int, k uint64) int {
	b := p.blocks[r]
	f := p.fences[r]
	j, _ := slices.BinarySearch(f, k) // first fence ≥ k
	lo, hi := 0, min(j*fenceStep, len(b))
	if j > 0 {
		lo = (j-1)*fenceStep + 1
	}
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if p.keyOf(r, b[mid]) < k {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo
}

// named returns the citizens whose surname and given name are the words
// sur and given: RuleNameYearMonth's array sorts by name before the date,
// so they are one stretch of it.
func (p *Population) named(sur, given uint32) []uint32 {
	r := RuleNameYearMonth
	k := ruleKey(r, sur, given, 0, 0, 0, false) // the name's smallest key
	b := p.blocks[r]
	end := len(b)
	if next := k + 1<<24; next > k { // the next name's smallest key
		end = p.lowerBound(r, next)
	}
	return b[p.lowerBound(r, k):end]
}

// byOldID returns the citizen with a CMND, or -1.
func (p *Population) byOldID(v uint64) int {
	i, ok := slices.BinarySearchFunc(p.byOld, v, func(e, t uint64) int {
		switch {
		case e>>32 < t:
			return -1
		case e>>32 > t:
			return 1
		}
		return 0
	})
	if !ok {
		return -1
	}
	return int(uint32(p.byOld[i]))
}

// sideOf fills the comparison form of citizen i.
func (p *Population) sideOf(i uint32, s *side) {
	k := p.keys[i]
	info := &p.infos[p.names[i]]
	s.norm, s.fold, s.toks = info.norm, info.fold, info.toks
	dob := int(k >> dobShift & dobMask)
	s.y, s.m, s.d, s.dobOK = dob>>9, dob>>5&15, dob&31, dob != 0
	switch {
	case k&noSexBit != 0:
		s.sex = 0
	case k&sexBit != 0:
		s.sex = 'F'
	default:
		s.sex = 'M'
	}
	s.pid, s.hasPID = k&idMask, p.cccd && k&idMask != 0
	s.prov = 0
	if s.hasPID {
		s.prov = int(s.pid / 1e9)
	}
	s.old, s.hasOld = uint64(p.olds[i])-1, p.olds[i] != 0
}

// personalID returns the id of citizen i: its 12-digit number, or in the
// general form its id as written.
func (p *Population) personalID(i uint32) string {
	if p.ids != nil {
		return p.ids[i]
	}
	v := p.keys[i] & idMask
	var b [12]byte
	for j := 11; j >= 0; j-- {
		b[j] = byte('0' + v%10)
		v /= 10
	}
	return string(b[:])
}
