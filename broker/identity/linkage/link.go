package linkage

import (
	"cmp"
	"fmt"
	"math"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/lgsp-bus/lgsp/broker/identity"
	"github.com/lgsp-bus/lgsp/broker/store"
)

// Record is a person as a ministry file describes them, after the field
// mapping (see Mapping). Empty fields were not given and weigh nothing.
type Record struct {
	ID         string `json:"record_id"`
	PersonalID string `json:"personal_id,omitempty"` // 12 digits, when usable
	OldID      string `json:"old_id,omitempty"`      // 9-digit CMND
	Name       string `json:"full_name,omitempty"`   // in any word order
	DOB        string `json:"dob,omitempty"`         // YYYY-MM-DD
	Sex        string `json:"sex,omitempty"`         // M / F (also Nam / Nữ)
	Province   string `json:"province_code,omitempty"`
	// Extra are the values of the mapping's extra fields, in their order
	// (see Mapping.Extra); compared with the population's values of the
	// same fields (see BuildPopulation).
	Extra []string `json:"extra,omitempty"`
	// notes say what of the input could not be used (see Mapping.Record)
	notes []string
	// badDOB, badID: the date, the personal or CMND number was given but
	// could not be read (what CheckSample looks for in a whole sample)
	badDOB, badID bool
}

// Config holds the decision thresholds and the work bounds. A record's
// candidates compete: the probability that candidate i is the person is
// 2^w_i / (1 + Σ_j 2^w_j) over the record's best candidates, where w is the
// match weight (log2 odds, prior included) and the 1 stands for "nobody in
// the register".
type Config struct {
	LinkProbability   float64 // at or above: linked
	ReviewProbability float64 // at or above: review; below: unmatched
	// Cardinality says how often one citizen may appear in the records:
	// OneToOne (the zero value: a register merge, a civil-servant roll)
	// links each citizen to at most one record of a batch and sends the
	// others to review; ManyToOne (land, tax, insurance files, where a
	// person holds several certificates or registrations) links every
	// record on its own merits, so several records may link to one citizen.
	Cardinality Cardinality
	MaxBlock    int     // blocks larger than this are skipped (counted in Decision.Skipped)
	TopK        int     // candidates kept per record for the 1:1 assignment
	MaxTF       float64 // bound on each term-frequency adjustment, bits
	// DateNearDays: dates of birth at most this many days apart (and not
	// equal) agree at the within_days level (0: 7; at most
	// MaxDateNearDays). A model remembers the value it was estimated with.
	DateNearDays int
	RandomPairs  int // pairs of citizens sampled for u
	EMIterations int
	Seed         uint64
}

// Cardinality is how many records of one batch may link to one citizen.
type Cardinality string

const (
	OneToOne  Cardinality = "one_to_one"
	ManyToOne Cardinality = "many_to_one"
)

// ParseCardinality accepts one_to_one / many_to_one (also written with
// dashes, or "1:1" / "n:1"); "" is OneToOne.
func ParseCardinality(s string) (Cardinality, error) {
	switch strings.ToLower(strings.ReplaceAll(strings.TrimSpace(s), "-", "_")) {
	case "", "one_to_one", "1:1", "1_1":
		return OneToOne, nil
	case "many_to_one", "n:1", "m:1", "n_1":
		return ManyToOne, nil
	}
	return "", fmt.Errorf("linkage: unknown cardinality %q: one_to_one (each person appears once: a register) or many_to_one (a person may appear in several records: a transactional file)", s)
}

// CheckThresholds fails, saying what to change, unless 0 < ReviewProbability
// ≤ LinkProbability ≤ 1.
func (c Config) CheckThresholds() error {
	if !(c.LinkProbability > 0 && c.LinkProbability <= 1) || !(c.ReviewProbability > 0 && c.ReviewProbability <= c.LinkProbability) {
		return fmt.Errorf("linkage: thresholds link %g, review %g: need 0 < review ≤ link ≤ 1 (a record is linked at or above link, sent to review at or above review)", c.LinkProbability, c.ReviewProbability)
	}
	return nil
}

// DefaultConfig returns the thresholds used by the benchmarks.
func DefaultConfig() Config {
	return Config{
		LinkProbability:   0.9,
		ReviewProbability: 0.05,
		MaxBlock:          5000,
		TopK:              4,
		MaxTF:             4,
		RandomPairs:       500_000,
		EMIterations:      100,
		Seed:              0x5eed,
	}
}

// Linker links records to a population with a fitted model. It is safe
// for concurrent use.
type Linker struct {
	pop   *Population
	model *Model
	cfg   Config
	sh    shape // comparisons: the built-in ones, then the extra fields
	w     [maxComp][maxLvl]float64
	// logM is log2 m of each name level; noMarks the share of true
	// matches written without diacritics (see spelling)
	logM    [maxLvl]float64
	noMarks float64
	rules   []*ruleIndex // Config.Blocking, built
	near    int          // the within_days distance, as the model was estimated
}

// Train fits a model to the population and a sample of the records to be
// linked and returns the linker that uses it. u comes from random pairs of
// citizens; m comes from two EM sessions over the sample's candidate pairs:
// one blocked on date of birth and sex (estimating name, province, CMND and
// the population's extra fields), one blocked on the CMND number
// (estimating date of birth and sex); when
// the sample has too few CMND numbers the second session blocks on the
// name rules instead. The prior is the estimated share of records in the
// register over the population size.
func Train(pop *Population, sample []Record, cfg Config) *Linker {
	l, _ := TrainWith(pop, sample, cfg, nil)
	return l
}

// TrainWith is Train with blocking rules of one's own besides the built-in
// ones (a mapping's Blocking, see BlockingRule): each is indexed first, and
// the linker proposes its blocks' citizens too. It fails when a rule names
// a field the population does not keep.
func TrainWith(pop *Population, sample []Record, cfg Config, rules []BlockingRule) (*Linker, error) {
	if err := checkNear(cfg); err != nil {
		return nil, err
	}
	built := &Linker{pop: pop}
	if err := built.buildRules(rules); err != nil {
		return nil, err
	}
	return train(pop, sample, cfg, built.rules)
}

// Retrain fits a new model, as TrainWith does, over l's population and
// its built blocking rules (not built again) with cfg: for instance with
// another within_days window (cfg.DateNearDays), for the datasets that
// ask for one (see streamlink).
func (l *Linker) Retrain(sample []Record, cfg Config) (*Linker, error) {
	if err := checkNear(cfg); err != nil {
		return nil, err
	}
	return train(l.pop, sample, cfg, l.rules)
}

// WithModel returns a linker sharing l's population and built blocking
// rules that decides with a model fitted before on the same population's
// form (see NewLinker) and cfg.
func (l *Linker) WithModel(m *Model, cfg Config) (*Linker, error) {
	out, err := NewLinker(l.pop, m, cfg)
	if err != nil {
		return nil, err
	}
	out.rules = l.rules
	return out, nil
}

func checkNear(cfg Config) error {
	if cfg.DateNearDays < 0 || cfg.DateNearDays > MaxDateNearDays {
		return fmt.Errorf("linkage: dates within %d days: give 0 to %d days (0: %d)", cfg.DateNearDays, MaxDateNearDays, dateNearDays)
	}
	return nil
}

// train is TrainWith with the rules built.
func train(pop *Population, sample []Record, cfg Config, rules []*ruleIndex) (*Linker, error) {
	m := newModel(pop.extras)
	m.TFGiven, m.TFSurname = pop.tfGiven, pop.tfSur
	m.Population = pop.Len()
	m.DateNearDays = cmp.Or(cfg.DateNearDays, dateNearDays)
	m.estimateU(pop, cfg.RandomPairs, cfg.Seed, m.DateNearDays)
	u := m.get('u')
	l := &Linker{pop: pop, model: m, cfg: cfg, sh: m.shape(), near: m.DateNearDays, rules: rules}
	final := initialM(l.sh)
	session := func(rules uint8, name string, exclude [maxComp]bool) (float64, int) {
		cp := l.patterns(sample, rules)
		mp, matches, it, conv := emSession(cp, l.sh, u, exclude, cfg.EMIterations)
		s := EMSession{Rule: name, Records: len(cp.records), Matches: round2(matches), Iterations: it, Converged: conv}
		for _, r := range cp.records {
			s.Pairs += len(r)
		}
		recs := len(cp.records)
		for c := range l.sh.n {
			if !exclude[c] {
				final[c] = mp[c]
				s.Estimated = append(s.Estimated, m.Comparisons[c].Field)
			}
		}
		m.Sessions = append(m.Sessions, s)
		return matches, recs
	}
	// second session first, so that the first one's estimates of the
	// shared comparisons (name, province) are the ones kept
	// (the extra fields too: the first session estimates them, after the
	// second has had them in its likelihood)
	if _, recs := session(1<<RuleOldID, RuleNames[RuleOldID], [maxComp]bool{CompName: true, CompProvince: true, CompOldID: true}); recs < 50 {
		// too few CMND numbers: the custom rules that do not block on
		// the date (their pairs show its errors, a name+date block's
		// cannot), else the name rule
		undated := slices.ContainsFunc(l.rules, func(ri *ruleIndex) bool { return !ri.dated() })
		if recs := 0; !undated || func() bool {
			_, recs = session(customNoDOB, "custom rules without the date", [maxComp]bool{CompName: true, CompProvince: true, CompOldID: true})
			return recs < 50
		}() {
			session(1<<RuleNameYearMonth, RuleNames[RuleNameYearMonth], [maxComp]bool{CompName: true, CompProvince: true, CompOldID: true})
		}
	}
	matches, recs := session(1<<RuleDOBSex, RuleNames[RuleDOBSex], [maxComp]bool{CompDOB: true, CompSex: true})
	m.set('m', final)
	rate := 0.9
	if recs > 0 {
		// a first guess: the dob+sex block misses the records whose date
		// is wrong
		rate = matches / float64(len(sample)) / 0.9
	}
	l.setPrior(clampRate(rate))
	l.setWeights()
	l.setPrior(l.estimateRate(sample, m.MatchRate))
	m.Blocking = l.ruleCoverage(sample)
	return l, nil
}

// ruleCoverage estimates each blocking rule's share of the true pairs of
// the sample (see RuleCoverage).
func (l *Linker) ruleCoverage(sample []Record) []RuleCoverage {
	nr := nRulesAll + len(l.rules)
	type part struct {
		share, only []float64
		total       float64
	}
	parts := make([]part, max(runtime.GOMAXPROCS(0), 1))
	for k := range parts {
		parts[k] = part{share: make([]float64, nr), only: make([]float64, nr)}
	}
	var next sync.Mutex
	slot := 0
	parallel(len(sample), func(lo, hi int) {
		next.Lock()
		pt := &parts[slot%len(parts)]
		slot++
		next.Unlock()
		var buf []uint32
		for k := lo; k < hi; k++ {
			r, rk := l.rank(sample[k])
			if len(rk.top) == 0 {
				continue
			}
			p, best := rk.posterior(0), rk.top[0].i
			pt.total += p
			found, n := -1, 0
			for rule := range nr {
				if rule < nRulesAll {
					buf, _ = l.candidatesBy(&r, 1<<rule, buf[:0])
				} else {
					buf = append(buf[:0], l.ruleBlock(&r, rule-nRulesAll)...)
					slices.Sort(buf)
				}
				if _, ok := slices.BinarySearch(buf, best); ok {
					pt.share[rule] += p
					found, n = rule, n+1
				}
			}
			if n == 1 {
				pt.only[found] += p
			}
		}
	})
	sum := part{share: make([]float64, nr), only: make([]float64, nr)}
	for _, pt := range parts {
		sum.total += pt.total
		for r := range nr {
			sum.share[r] += pt.share[r]
			sum.only[r] += pt.only[r]
		}
	}
	if sum.total == 0 {
		return nil
	}
	out := make([]RuleCoverage, nr)
	for r := range nr {
		name := RuleNames[min(r, nRulesAll-1)]
		if r >= nRulesAll {
			name = l.rules[r-nRulesAll].name
		}
		out[r] = RuleCoverage{Rule: name, Share: round4(sum.share[r] / sum.total), Only: round4(sum.only[r] / sum.total)}
	}
	return out
}

// Bounds of the estimated share of records that are in the register: an
// estimate of 1 would make "nobody" impossible.
const (
	minRate = 0.01
	maxRate = 0.995
)

func clampRate(r float64) float64 { return math.Min(math.Max(r, minRate), maxRate) }

// setPrior sets the model's prior from the share of records that are in
// the register. A record is either one of the N citizens, each with prior
// rate/N, or nobody in the register, with prior 1-rate; the odds of
// "citizen i" against "nobody" are rate/((1-rate)·N) times the evidence
// 2^e_i of the fields, so the prior weight is log2(rate/((1-rate)·N)).
func (l *Linker) setPrior(rate float64) {
	m := l.model
	n := float64(max(l.pop.Len(), 1))
	m.MatchRate = round4(rate)
	m.Lambda = rate / n
	m.PriorWeight = math.Log2(rate / ((1 - rate) * n))
}

// estimateRate estimates the share of the sample's records that are in the
// register by expectation–maximisation of the mixture "some citizen" /
// "nobody", with the fitted m and u fixed: each record's candidates are
// ranked once under every blocking rule, then the share is iterated as the
// mean probability that a record is somebody. A record whose citizen no
// block finds counts as nobody, so the estimate errs low (towards fewer
// links), never high.
func (l *Linker) estimateRate(sample []Record, rate float64) float64 {
	prior := l.model.PriorWeight
	evidence := make([][]float64, len(sample)) // top candidates' weights without the prior
	parallel(len(sample), func(lo, hi int) {
		for k := lo; k < hi; k++ {
			_, rk := l.rank(sample[k])
			e := make([]float64, len(rk.top))
			for j, s := range rk.top {
				e[j] = s.w - prior
			}
			evidence[k] = e
		}
	})
	if len(sample) == 0 {
		return rate
	}
	n := float64(max(l.pop.Len(), 1))
	for range 200 {
		odds := rate / ((1 - rate) * n)
		sum := 0.0
		for _, e := range evidence {
			s := 0.0
			for _, w := range e {
				s += odds * math.Exp2(w)
			}
			sum += s / (1 + s)
		}
		next := clampRate(sum / float64(len(sample)))
		if math.Abs(next-rate) < 1e-7 {
			return next
		}
		rate = next
	}
	return rate
}

// candidatePatterns are the comparison vectors of a sample's candidate
// pairs under some blocking rules: the distinct vectors, and for each
// record with at least one candidate the vectors of its candidates (as
// indexes into the distinct ones).
type candidatePatterns struct {
	pats    []pattern
	records [][]uint32
}

// patterns compares every record of the sample with its candidates under
// the given rules.
func (l *Linker) patterns(sample []Record, rules uint8) candidatePatterns {
	perRec := make([][]pattern, len(sample))
	parallel(len(sample), func(lo, hi int) {
		var cands []uint32
		var c side
		for k := lo; k < hi; k++ {
			r := l.prepare(sample[k])
			cands, _ = l.candidatesBy(&r, rules, cands[:0])
			if len(cands) == 0 {
				continue
			}
			ps := make([]pattern, len(cands))
			for j, i := range cands {
				l.pop.sideOf(i, &c)
				g := l.compare(&r, &c, i)
				ps[j] = pack(&g, l.sh.n)
			}
			perRec[k] = ps
		}
	})
	var cp candidatePatterns
	id := map[pattern]uint32{}
	for _, ps := range perRec {
		if ps == nil {
			continue
		}
		ids := make([]uint32, len(ps))
		for j, p := range ps {
			v, ok := id[p]
			if !ok {
				v = uint32(len(cp.pats))
				id[p] = v
				cp.pats = append(cp.pats, p)
			}
			ids[j] = v
		}
		cp.records = append(cp.records, ids)
	}
	return cp
}

// NewLinker returns a linker with a model fitted before (for example read
// back from a report). The model's extra fields must be the population's.
func NewLinker(pop *Population, m *Model, cfg Config) (*Linker, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	if !sameExtras(m.Extras(), pop.extras) {
		return nil, fmt.Errorf("linkage: the model's extra fields %s are not the population's %s", extraList(m.Extras()), extraList(pop.extras))
	}
	// the model's distance: its within_days weights were estimated for it
	l := &Linker{pop: pop, model: m, cfg: cfg, sh: m.shape(), near: cmp.Or(m.DateNearDays, dateNearDays)}
	l.setWeights()
	return l, nil
}

// NewLinkerWith is NewLinker with blocking rules of one's own, built as
// TrainWith builds them.
func NewLinkerWith(pop *Population, m *Model, cfg Config, rules []BlockingRule) (*Linker, error) {
	l, err := NewLinker(pop, m, cfg)
	if err != nil {
		return nil, err
	}
	if err := l.buildRules(rules); err != nil {
		return nil, err
	}
	return l, nil
}

// With returns a linker sharing l's population, model and built blocking
// rules that decides with cfg (its thresholds, cardinality and bounds; the
// model's within_days window is kept) and proposes the candidates of the
// built-in rules and of those of l's rules named in rules: one dataset's
// share of rules built once for several (see streamlink). It fails when a
// name is not one of l's rules.
func (l *Linker) With(cfg Config, rules []string) (*Linker, error) {
	out := *l
	out.cfg = cfg
	out.rules = nil
	for _, name := range rules {
		k := slices.IndexFunc(l.rules, func(ri *ruleIndex) bool { return ri.name == name })
		if k < 0 {
			return nil, fmt.Errorf("linkage: blocking rule %q was not built with this linker (TrainWith, NewLinkerWith)", name)
		}
		out.rules = append(out.rules, l.rules[k])
	}
	return &out, nil
}

// Rules names the linker's blocking rules of one's own.
func (l *Linker) Rules() []string {
	var out []string
	for _, ri := range l.rules {
		out = append(out, ri.name)
	}
	return out
}

func (l *Linker) setWeights() {
	for c, cp := range l.model.Comparisons {
		for k, lp := range cp.Levels {
			l.w[c][k] = lp.Weight
			if c == CompName {
				l.logM[k] = math.Log2(lp.M)
			}
		}
	}
	lv := l.model.Comparisons[CompName].Levels
	l.noMarks = lv[nameDiacritics].M / (lv[nameExact].M + lv[nameDiacritics].M)
}

// Model returns the fitted model (not to be modified).
func (l *Linker) Model() *Model { return l.model }

// Config returns the linker's configuration.
func (l *Linker) Config() Config { return l.cfg }

// Population returns the population the linker reads.
func (l *Linker) Population() *Population { return l.pop }

// prepared is a record in comparison form with the word ids its blocking
// probes use.
type prepared struct {
	side
	ext   []extProbe // the extra fields, against the population's columns
	words []uint32   // id of each folded word, or noWord
	// logFreq is log2 of the probability that a record of someone else
	// has exactly this name as written, 0 when no citizen has it
	logFreq float64
}

const noWord = math.MaxUint32

func prepare(rec Record) prepared {
	var r prepared
	r.setName(rec.Name)
	r.setDOB(rec.DOB)
	r.setSex(rec.Sex)
	r.setProvince(rec.Province)
	r.setOld(rec.OldID)
	r.setPID(rec.PersonalID)
	return r
}

func (l *Linker) prepare(rec Record) prepared {
	r := prepare(rec)
	if len(l.pop.cols) > 0 {
		r.ext = make([]extProbe, len(l.pop.cols))
		for k, col := range l.pop.cols {
			if k < len(rec.Extra) {
				r.ext[k] = col.probe(rec.Extra[k])
			}
		}
	}
	n := float64(max(l.pop.Len(), 1))
	if r.norm != r.fold {
		if c := l.pop.nameCount(l.pop.normKey(r.norm)); c > 0 {
			r.logFreq = math.Log2(float64(c) / n * (1 - l.noMarks))
		}
	} else if r.norm != "" {
		// written without diacritics: as likely as all the names that
		// fold to it, written so
		c := l.pop.nameCount(l.pop.foldKey(r.fold)) + l.pop.nameCount(l.pop.normKey(r.norm))
		if c > 0 {
			r.logFreq = math.Log2(float64(c) / n * l.noMarks)
		}
	}
	r.words = make([]uint32, len(r.toks))
	for i, t := range r.toks {
		if id, ok := l.pop.tokID[t]; ok {
			r.words[i] = id
		} else {
			r.words[i] = noWord
		}
	}
	return r
}

// candidates returns the union of the blocks of r (sorted, distinct) and
// how many oversized blocks were skipped.
func (l *Linker) candidates(r *prepared, out []uint32) ([]uint32, int) {
	return l.candidatesBy(r, allRules|customAll, out)
}

const allRules = 1<<nRulesAll - 1

// Bits of candidatesBy's rules beyond the built-in ones: every custom rule
// (BlockingRule), or only those whose key has no part of the date (their
// pairs can estimate the date's levels).
const (
	customAll   = 1 << nRulesAll
	customNoDOB = 1 << (nRulesAll + 1)
)

// maxNamedScan bounds the citizens of one surname and given name that
// RuleFullNameSex reads through (a common name is too ambiguous without a
// date anyway).
const maxNamedScan = 50_000

// candidatesBy is candidates under a subset of the rules (bit i = rule i).
func (l *Linker) candidatesBy(r *prepared, rules uint8, out []uint32) ([]uint32, int) {
	p := l.pop
	if r.words == nil {
		r.words = make([]uint32, len(r.toks))
		for i, t := range r.toks {
			if id, ok := p.tokID[t]; ok {
				r.words[i] = id
			} else {
				r.words[i] = noWord
			}
		}
	}
	skipped := 0
	add := func(b []uint32) {
		if len(b) > l.cfg.MaxBlock {
			skipped++
			return
		}
		out = append(out, b...)
	}
	type ymd struct{ y, m, d int }
	var dates []ymd
	if r.dobOK {
		dates = append(dates, ymd{r.y, r.m, r.d})
		if r.m != r.d && r.d <= 12 {
			dates = append(dates, ymd{r.y, r.d, r.m})
		}
	}
	sexes := []bool{false, true}
	switch {
	case p.noSex:
		// citizens without a sex are keyed as male: a record of either
		// sex probes both
	case r.sex == 'M':
		sexes = sexes[:1]
	case r.sex == 'F':
		sexes = sexes[1:]
	}
	for _, dt := range dates {
		if dt.m > 12 || rules&(1<<RuleDOBSex) == 0 {
			continue
		}
		for _, f := range sexes {
			add(p.block(RuleDOBSex, ruleKey(RuleDOBSex, 0, 0, dt.y, dt.m, dt.d, f)))
		}
	}
	// (surname, given) pairs: as written, and in any order for reordered
	// names, limited to words that are a surname / given name of someone
	for i, s := range r.words {
		if s == noWord || p.sur[s] == 0 {
			continue
		}
		for j, g := range r.words {
			if j == i || g == noWord || p.given[g] == 0 {
				continue
			}
			for _, dt := range dates {
				for _, rule := range [...]int{RuleNameYearMonth, RuleNameMonthDay, RuleNameYearDay} {
					if rules&(1<<rule) == 0 {
						continue
					}
					add(p.block(rule, ruleKey(rule, s, g, dt.y, dt.m, dt.d, false)))
				}
			}
			if !r.dobOK && rules&(1<<RuleFullNameSex) != 0 {
				// no date to block on: the citizens with this surname and
				// given name, of the record's sex and with its other
				// words (in written order) as middle name
				named := p.named(s, g)
				if len(named) > maxNamedScan {
					skipped++
					continue
				}
				mid := middleHash(r.toks, i, j)
				n := len(out)
				for _, c := range named {
					k := p.keys[c]
					if p.infos[p.names[c]].mid == mid && (r.sex == 0 || k&noSexBit != 0 || (k&sexBit != 0) == (r.sex == 'F')) {
						out = append(out, c)
					}
				}
				if len(out)-n > l.cfg.MaxBlock {
					out = out[:n]
					skipped++
				}
			}
		}
	}
	if r.hasOld && rules&(1<<RuleOldID) != 0 {
		if i := p.byOldID(r.old); i >= 0 {
			out = append(out, uint32(i))
		}
		for _, v := range oneEditVariants(r.old) {
			if i := p.byOldID(v); i >= 0 {
				out = append(out, uint32(i))
			}
		}
	}
	for k, ri := range l.rules {
		if ri.via >= 0 && !ri.stretch && rules&(1<<ri.via) != 0 {
			continue // its block is inside one proposed above
		}
		if rules&customAll != 0 || (rules&customNoDOB != 0 && !ri.dated()) {
			add(l.ruleBlock(r, k))
		}
	}
	slices.Sort(out)
	return slices.Compact(out), skipped
}

// oneEditVariants returns the 9-digit numbers one digit or one adjacent
// swap away from v.
func oneEditVariants(v uint64) []uint64 {
	out := make([]uint64, 0, 90)
	for pos := range 9 {
		p := pow10[pos]
		d := v / p % 10
		for alt := range uint64(10) {
			if alt != d {
				out = append(out, v-d*p+alt*p)
			}
		}
		if pos < 8 {
			q := pow10[pos+1]
			e := v / q % 10
			if e != d {
				out = append(out, v-d*p-e*q+e*p+d*q)
			}
		}
	}
	return out
}

var pow10 = [...]uint64{1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9}

// FieldWeight is one term of a match weight.
type FieldWeight struct {
	Field  string  `json:"field"`
	Level  string  `json:"level"` // "missing" when either side lacks the field
	Weight float64 `json:"weight"`
	// Record and Candidate are the two values compared, as the linker read
	// them (names normalized, dates YYYY-MM-DD, numbers in full), for the
	// clerk deciding a review item; "" when a side lacks the field, and
	// for a mapping's extra fields and the frequency adjustments.
	Record    string `json:"record,omitempty"`
	Candidate string `json:"candidate,omitempty"`
}

// Explanation is a match weight taken apart: the prior, then each field's
// weight (and the name-frequency adjustments); they sum to Total.
type Explanation struct {
	Prior  float64       `json:"prior"`
	Fields []FieldWeight `json:"fields"`
	Total  float64       `json:"total"`
}

// withoutValues is e without the values compared: the register's values
// of a candidate are shown to the clerk deciding a review item, never
// written where the record's sender or anyone else reads them (a bulk
// reconciliation's output, which also explains candidates it rejects).
func (e *Explanation) withoutValues() *Explanation {
	if e == nil {
		return nil
	}
	out := *e
	out.Fields = make([]FieldWeight, len(e.Fields))
	for k, f := range e.Fields {
		f.Record, f.Candidate = "", ""
		out.Fields[k] = f
	}
	return &out
}

// compare is the comparison vector of r against citizen ci (c its
// comparison form; ci = noWord: a citizen not in the population, whose
// extra fields are missing).
func (l *Linker) compare(r *prepared, c *side, ci uint32) vector {
	g := compareNear(&r.side, c, l.near)
	for k, col := range l.pop.cols {
		g[nBase+k] = null
		if ci != noWord && k < len(r.ext) {
			g[nBase+k] = col.level(&r.ext[k], ci)
		}
	}
	return g
}

// score returns the match weight of r against citizen i, and the
// explanation when want is set.
func (l *Linker) score(r *prepared, c *side, ci uint32, want bool) (float64, *Explanation) {
	g := l.compare(r, c, ci)
	total := l.model.PriorWeight
	var ex *Explanation
	if want {
		ex = &Explanation{Prior: round2(total)}
	}
	for k, lv := range g[:l.sh.n] {
		w := 0.0
		if lv >= 0 {
			w = l.w[k][lv]
		}
		total += w
		if want {
			cp := &l.model.Comparisons[k]
			name := "missing"
			if lv >= 0 {
				name = cp.Levels[lv].Level
			}
			fw := FieldWeight{Field: cp.Field, Level: name, Weight: round2(w)}
			if k < nBase {
				fw.Record, fw.Candidate = r.value(k), c.value(k)
			}
			ex.Fields = append(ex.Fields, fw)
		}
	}
	// term frequency of the name-like extra fields (exact, jaro_winkler)
	// agreeing exactly: a common value weighs less than a rare one
	if ci != noWord {
		for k, col := range l.pop.cols {
			if g[nBase+k] != 0 || col.counts == nil {
				continue
			}
			if w := col.tf(ci, l.cfg.MaxTF); w != 0 {
				total += w
				if want {
					ex.Fields = append(ex.Fields, FieldWeight{Field: col.field.Name + "_tf", Level: "frequency", Weight: round2(w)})
				}
			}
		}
	}
	if lv := int(g[CompName]); lv >= nameMiddle && lv <= nameJW92 && r.logFreq != 0 {
		if adj := l.spelling(r, lv); adj < 0 {
			total += adj
			if want {
				ex.Fields = append(ex.Fields, FieldWeight{Field: "name_spelling", Level: "registered_name", Weight: round2(adj)})
			}
		}
	}
	if lv := int(g[CompName]); lv >= nameExact && lv <= nameMiddle && ci != noWord {
		info := &l.pop.infos[l.pop.names[ci]]
		n := float64(l.pop.Len())
		adj := func(field string, count uint32, base float64) {
			if count == 0 || base == 0 {
				return
			}
			w := math.Log2(base / (float64(count) / n))
			w = math.Max(-l.cfg.MaxTF, math.Min(l.cfg.MaxTF, w))
			total += w
			if want {
				ex.Fields = append(ex.Fields, FieldWeight{Field: field, Level: "frequency", Weight: round2(w)})
			}
		}
		adj("given_name_tf", l.pop.given[info.given], l.pop.tfGiven)
		adj("surname_tf", l.pop.sur[info.sur], l.pop.tfSur)
	}
	if want {
		ex.Total = round2(total)
	}
	return total, ex
}

// spelling is the adjustment (≤ 0) of the weight of a name that agrees
// only approximately (a middle name dropped, a slip, …) when the record's
// name, as written, is itself the name of other citizens. The level's
// weight log2(m/u) averages over every spelling at that level; but a
// record naming "Nguyễn Văn Chiến" is far better explained by a Chiến
// than by a Chiếm misspelt into exactly that name. Against someone else,
// the record's name is as likely as its frequency f; from this candidate,
// as likely as m of the level shared among the V spellings the level
// allows (V = 1 for a dropped middle name, 20 per letter for a slip, 400
// per letter for two). The weight is capped at log2(m/V / f).
func (l *Linker) spelling(r *prepared, lv int) float64 {
	letters := float64(len(r.fold) - len(r.toks) + 1)
	logV := 0.0
	switch lv {
	case nameSlip, nameDroppedSlip:
		logV = math.Log2(20 * letters)
	case nameJW92:
		logV = math.Log2(400 * letters)
	}
	alt := l.logM[lv] - logV - r.logFreq
	return math.Min(alt-l.w[CompName][lv], 0)
}

func round2(x float64) float64 { return math.Round(x*100) / 100 }

// Decision is the outcome for one record without a usable number.
type Decision struct {
	RecordID    string           `json:"record_id"`
	Outcome     identity.Outcome `json:"outcome"` // linked, review or unmatched
	PersonalID  string           `json:"personal_id,omitempty"`
	Score       float64          `json:"score"` // match weight, bits
	Probability float64          `json:"probability"`
	Explanation *Explanation     `json:"explanation,omitempty"`
	Candidates  int              `json:"candidates"`          // pairs compared
	RunnerUp    float64          `json:"runner_up,omitempty"` // weight of the next-best candidate
	Skipped     int              `json:"skipped_blocks,omitempty"`
	Deceased    bool             `json:"deceased,omitempty"` // the citizen is recorded as deceased
	Reason      string           `json:"reason,omitempty"`
	// somebody is the probability that the record's person is one of its
	// candidates (any of them: the sum of their probabilities), what the
	// expected recall of a threshold is measured against
	somebody float64
}

type scored struct {
	w float64
	i uint32
}

// ranked is a record's best candidates, best first.
type ranked struct {
	top        []scored
	candidates int
	skipped    int
}

func (l *Linker) rank(rec Record) (prepared, ranked) {
	r := l.prepare(rec)
	cands, skipped := l.candidates(&r, nil)
	rk := ranked{candidates: len(cands), skipped: skipped}
	var c side
	for _, i := range cands {
		l.pop.sideOf(i, &c)
		w, _ := l.score(&r, &c, i, false)
		if len(rk.top) < l.cfg.TopK || w > rk.top[len(rk.top)-1].w {
			at, _ := slices.BinarySearchFunc(rk.top, w, func(s scored, w float64) int {
				if s.w > w {
					return -1
				}
				return 1
			})
			rk.top = slices.Insert(rk.top, at, scored{w, i})
			if len(rk.top) > l.cfg.TopK {
				rk.top = rk.top[:l.cfg.TopK]
			}
		}
	}
	return r, rk
}

// Link decides one record on its own (the streaming path: no 1:1
// constraint across records).
func (l *Linker) Link(rec Record) Decision {
	return l.LinkBatch([]Record{rec})[0]
}

// LinkBatch decides a batch: every record is ranked against its candidates
// (in parallel), then pairs are assigned best weight first; with
// Config.Cardinality OneToOne each citizen is linked to at most one record
// of the batch, with ManyToOne every record takes its best candidate.
func (l *Linker) LinkBatch(recs []Record) []Decision {
	return l.linkBatch(recs, nil)
}

// linkBatch is LinkBatch calling tick (when set) with the number of
// records ranked, every few records, from the ranking goroutines.
func (l *Linker) linkBatch(recs []Record, tick func(int)) []Decision {
	preps := make([]prepared, len(recs))
	ranks := make([]ranked, len(recs))
	parallel(len(recs), func(lo, hi int) {
		n := 0
		for k := lo; k < hi; k++ {
			preps[k], ranks[k] = l.rank(recs[k])
			if n++; n == 64 && tick != nil {
				tick(n)
				n = 0
			}
		}
		if tick != nil && n > 0 {
			tick(n)
		}
	})
	type pair struct {
		w   float64
		rec int
		i   uint32
	}
	var pairs []pair
	for k, rk := range ranks {
		for j, s := range rk.top {
			if rk.posterior(j) >= l.cfg.ReviewProbability {
				pairs = append(pairs, pair{s.w, k, s.i})
			}
		}
	}
	slices.SortStableFunc(pairs, func(a, b pair) int {
		switch {
		case a.w > b.w:
			return -1
		case a.w < b.w:
			return 1
		}
		return a.rec - b.rec
	})
	out := make([]Decision, len(recs))
	defer func() {
		for k := range out {
			out[k].somebody = ranks[k].somebody()
		}
	}()
	assigned := make([]bool, len(recs))
	taken := map[uint32]int{}
	many := l.cfg.Cardinality == ManyToOne
	for _, p := range pairs {
		if assigned[p.rec] {
			continue
		}
		if _, ok := taken[p.i]; ok && !many {
			continue
		}
		assigned[p.rec] = true
		taken[p.i] = p.rec
		out[p.rec] = l.decide(recs[p.rec], &preps[p.rec], ranks[p.rec], p.i, p.w)
	}
	for k := range recs {
		if assigned[k] {
			continue
		}
		d := Decision{RecordID: recs[k].ID, Outcome: identity.Unmatched, Candidates: ranks[k].candidates, Skipped: ranks[k].skipped}
		if top := ranks[k].top; len(top) > 0 {
			d.Score = round2(top[0].w)
			d.Probability = round4(ranks[k].posterior(0))
			var c side
			l.pop.sideOf(top[0].i, &c)
			_, d.Explanation = l.score(&preps[k], &c, top[0].i, true)
			if d.Probability >= l.cfg.ReviewProbability {
				d.Outcome = identity.Review
				d.PersonalID = l.pop.personalID(top[0].i)
				d.Reason = "best candidate already linked to record " + recs[taken[top[0].i]].ID + " of this batch"
			} else {
				d.Reason = "best candidate's probability below " + strconv.FormatFloat(l.cfg.ReviewProbability, 'g', -1, 64)
			}
		} else {
			d.Reason = "no candidate in any block"
		}
		out[k] = d
	}
	return out
}

func (l *Linker) decide(rec Record, r *prepared, rk ranked, i uint32, w float64) Decision {
	var c side
	l.pop.sideOf(i, &c)
	_, ex := l.score(r, &c, i, true)
	d := Decision{
		RecordID: rec.ID, PersonalID: l.pop.personalID(i), Score: round2(w),
		Explanation: ex, Candidates: rk.candidates, Skipped: rk.skipped,
		Outcome: identity.Review,
	}
	for j, s := range rk.top {
		if s.i == i {
			d.Probability = round4(rk.posterior(j))
		} else if d.RunnerUp == 0 {
			d.RunnerUp = round2(s.w)
		}
	}
	l.setOutcome(&d, w)
	if l.pop.keys[i]&deadBit != 0 {
		d.Deceased = true
	}
	return d
}

// setOutcome decides linked or review for a candidate whose probability
// reached the review threshold, with the reason.
func (l *Linker) setOutcome(d *Decision, w float64) {
	switch {
	case d.Probability < l.cfg.LinkProbability:
		d.Reason = "probability below " + strconv.FormatFloat(l.cfg.LinkProbability, 'g', -1, 64)
		if d.RunnerUp != 0 && d.RunnerUp > w-7 {
			d.Reason += ": another citizen scores close"
		}
	default:
		d.Outcome = identity.Linked
		d.Reason = "probability " + strconv.FormatFloat(d.Probability, 'f', 4, 64) + " of being this citizen"
		if d.RunnerUp != 0 {
			d.Reason += ", next candidate " + strconv.FormatFloat(w-d.RunnerUp, 'f', 1, 64) + " bits lower"
		}
	}
}

// LinkWith is Link against the register as it is now rather than as the
// population was built: candidates whose personal number stale reports
// (changed since the build) are left out, and each citizen of changed
// (registered or changed since the build: a few) is scored in full, as
// Compare does. The streaming linker uses it between two rebuilds.
func (l *Linker) LinkWith(rec Record, changed []store.Citizen, stale func(personalID string) bool) Decision {
	r, rk := l.rank(rec)
	type cand struct {
		w  float64
		i  uint32
		c  *store.Citizen // a changed citizen, scored by Compare
		ex *Explanation   // Compare's, for a changed citizen
	}
	var cs []cand
	for _, s := range rk.top {
		if stale == nil || !stale(l.pop.personalID(s.i)) {
			cs = append(cs, cand{w: s.w, i: s.i})
		}
	}
	for k := range changed {
		w, ex := l.Compare(rec, changed[k])
		cs = append(cs, cand{w: w, c: &changed[k], ex: ex})
	}
	d := Decision{RecordID: rec.ID, Outcome: identity.Unmatched, Candidates: rk.candidates + len(changed), Skipped: rk.skipped}
	if len(cs) == 0 {
		d.Reason = "no candidate in any block"
		return d
	}
	slices.SortStableFunc(cs, func(a, b cand) int { return cmp.Compare(b.w, a.w) })
	best := cs[0]
	all := ranked{top: make([]scored, len(cs))}
	for k, c := range cs {
		all.top[k].w = c.w
	}
	d.Score, d.Probability = round2(best.w), round4(all.posterior(0))
	if best.c != nil {
		d.Explanation = best.ex
		d.PersonalID, d.Deceased = best.c.ID, best.c.Deceased
	} else {
		var c side
		l.pop.sideOf(best.i, &c)
		_, d.Explanation = l.score(&r, &c, best.i, true)
		d.PersonalID, d.Deceased = l.pop.personalID(best.i), l.pop.keys[best.i]&deadBit != 0
	}
	if d.Probability < l.cfg.ReviewProbability {
		d.PersonalID, d.Deceased = "", false
		d.Reason = "best candidate's probability below " + strconv.FormatFloat(l.cfg.ReviewProbability, 'g', -1, 64)
		return d
	}
	if len(cs) > 1 {
		d.RunnerUp = round2(cs[1].w)
	}
	d.Outcome = identity.Review
	l.setOutcome(&d, best.w)
	return d
}

// posterior is the probability that candidate j is the record's person,
// against its other candidates and against nobody.
func (rk ranked) posterior(j int) float64 {
	wj := rk.top[j].w
	sum := math.Exp2(-wj) // nobody, relative to candidate j
	for _, s := range rk.top {
		sum += math.Exp2(s.w - wj)
	}
	return 1 / sum
}

// somebody is the probability that the record's person is one of its best
// candidates rather than nobody in the register: Σ posterior(j).
func (rk ranked) somebody() float64 {
	s := 0.0
	for _, c := range rk.top {
		s += math.Exp2(c.w)
	}
	return s / (1 + s)
}

func round4(x float64) float64 { return math.Round(x*1e4) / 1e4 }

// Compare scores a record against one citizen given in full (for example
// the holder of the number a record claims), with the explanation. The
// citizen need not be in the population; term-frequency adjustments use
// the population's name counts. The extra fields weigh nothing (missing):
// the citizen's values of them are the population's, not the given one's.
func (l *Linker) Compare(rec Record, cz store.Citizen) (float64, *Explanation) {
	r := l.prepare(rec)
	var c side
	c.setName(cz.FullName)
	c.setDOB(cz.DOB)
	c.setSex(cz.Sex)
	c.setProvince(cz.BirthProvince)
	if c.prov == 0 && len(cz.ID) == 12 {
		c.setProvince(cz.ID[:3])
	}
	c.setOld(cz.OldID)
	w, ex := l.score(&r, &c, noWord, true)
	// name frequency from the population's word counts
	if lv := nameLevel(&r.side, &c); lv >= nameExact && lv <= nameMiddle && len(c.toks) > 0 {
		n := float64(l.pop.Len())
		for _, f := range [...]struct {
			field string
			word  string
			cnt   []uint32
			base  float64
		}{
			{"given_name_tf", c.toks[len(c.toks)-1], l.pop.given, l.pop.tfGiven},
			{"surname_tf", c.toks[0], l.pop.sur, l.pop.tfSur},
		} {
			id, ok := l.pop.tokID[f.word]
			if !ok || f.cnt[id] == 0 || f.base == 0 {
				continue
			}
			a := math.Max(-l.cfg.MaxTF, math.Min(l.cfg.MaxTF, math.Log2(f.base/(float64(f.cnt[id])/n))))
			w += a
			ex.Fields = append(ex.Fields, FieldWeight{Field: f.field, Level: "frequency", Weight: round2(a)})
		}
		ex.Total = round2(w)
	}
	return w, ex
}

// parallel runs fn over [0, n) in contiguous chunks, one per core.
func parallel(n int, fn func(lo, hi int)) {
	workers := min(runtime.GOMAXPROCS(0), max(n/64, 1))
	if workers <= 1 {
		fn(0, n)
		return
	}
	var wg sync.WaitGroup
	chunk := (n + workers - 1) / workers
	for lo := 0; lo < n; lo += chunk {
		hi := min(lo+chunk, n)
		wg.Go(func() { fn(lo, hi) })
	}
	wg.Wait()
}

// extraList writes extra fields as "name (comparison), …" for messages.
func extraList(fs []ExtraField) string {
	if len(fs) == 0 {
		return "(none)"
	}
	var parts []string
	for _, f := range fs {
		parts = append(parts, f.Name+" ("+f.Comparison+")")
	}
	return strings.Join(parts, ", ")
}
