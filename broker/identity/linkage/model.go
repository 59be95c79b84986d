package linkage

import (
	"fmt"
	"math"
)

// Model is a fitted Fellegi–Sunter model: for each comparison and level,
// m = P(level | same person) and u = P(level | different people), and the
// prior share Lambda of true matches among the compared pairs. Its JSON
// form is what a report shows.
type Model struct {
	Lambda      float64            `json:"lambda"`
	PriorWeight float64            `json:"prior_weight"`
	Comparisons []ComparisonParams `json:"comparisons"`
	// How the model was estimated.
	RandomPairs int         `json:"random_pairs"` // pairs of citizens sampled for u
	Sessions    []EMSession `json:"em_sessions"`
	Population  int         `json:"population"`
	MatchRate   float64     `json:"match_rate"`          // estimated share of records that are in the register
	TFGiven     float64     `json:"tf_given_baseline"`   // P(two random citizens share the given name)
	TFSurname   float64     `json:"tf_surname_baseline"` // P(… share the surname)
	// DateNearDays is the within_days level's distance the model was
	// estimated with (0 in an older model: 7).
	DateNearDays int `json:"date_near_days,omitempty"`
	// Blocking is what each blocking rule contributes, estimated on the
	// training sample (see RuleCoverage).
	Blocking []RuleCoverage `json:"blocking,omitempty"`
}

// RuleCoverage is one blocking rule's share of the true pairs, estimated
// from the model: over the training records, each record's best candidate
// counts with its probability of being the record's person; Share is the
// part of that mass the rule's block holds, Only the part no other rule
// holds (what dropping the rule would lose). True pairs that no rule
// finds are not seen, so the shares are of the pairs some rule finds.
type RuleCoverage struct {
	Rule  string  `json:"rule"`
	Share float64 `json:"share"`
	Only  float64 `json:"only"`
}

// EMSession is one expectation–maximisation run: the blocking rule whose
// candidate pairs it ran on and the comparisons it estimated.
type EMSession struct {
	Rule       string   `json:"blocking_rule"`
	Pairs      int      `json:"pairs"`
	Records    int      `json:"records"`
	Matches    float64  `json:"expected_matches"`
	Iterations int      `json:"iterations"`
	Converged  bool     `json:"converged"`
	Estimated  []string `json:"estimated"`
}

// ComparisonParams are one comparison's levels. Comparison is set for a
// mapping's extra field: the comparison it uses (see Comparisons).
type ComparisonParams struct {
	Field      string        `json:"field"`
	Comparison string        `json:"comparison,omitempty"`
	Levels     []LevelParams `json:"levels"`
}

// LevelParams are one agreement level's probabilities and its weight
// log2(m/u), the evidence in bits that the level gives.
type LevelParams struct {
	Level  string  `json:"level"`
	M      float64 `json:"m"`
	U      float64 `json:"u"`
	Weight float64 `json:"weight"`
}

const (
	minProb = 1e-6
	maxLvl  = 9
)

type probs [maxComp][maxLvl]float64

// shape is the number of comparisons of a model and the number of levels
// of each.
type shape struct {
	n      int
	levels [maxComp]int
}

// newModel returns an empty model of the built-in comparisons followed by
// the extra fields'.
func newModel(extras []ExtraField) *Model {
	m := &Model{}
	for c := range nBase {
		cp := ComparisonParams{Field: compNames[c]}
		for _, l := range levelNames[c] {
			cp.Levels = append(cp.Levels, LevelParams{Level: l})
		}
		m.Comparisons = append(m.Comparisons, cp)
	}
	for _, f := range extras {
		k, _ := parseKind(f.Comparison)
		cp := ComparisonParams{Field: f.Name, Comparison: f.Comparison}
		for _, l := range kindLevels[k] {
			cp.Levels = append(cp.Levels, LevelParams{Level: l})
		}
		m.Comparisons = append(m.Comparisons, cp)
	}
	return m
}

func (m *Model) shape() (s shape) {
	s.n = len(m.Comparisons)
	for c, cp := range m.Comparisons {
		s.levels[c] = len(cp.Levels)
	}
	return s
}

// Extras are the model's extra fields (their names and comparisons).
func (m *Model) Extras() []ExtraField {
	var out []ExtraField
	for _, cp := range m.Comparisons[min(nBase, len(m.Comparisons)):] {
		out = append(out, ExtraField{Name: cp.Field, Comparison: cp.Comparison})
	}
	return out
}

func (m *Model) get(which byte) (p probs) {
	for c, cp := range m.Comparisons {
		for l, lp := range cp.Levels {
			if which == 'm' {
				p[c][l] = lp.M
			} else {
				p[c][l] = lp.U
			}
		}
	}
	return p
}

func (m *Model) set(which byte, p probs) {
	for c := range m.Comparisons {
		for l := range m.Comparisons[c].Levels {
			lp := &m.Comparisons[c].Levels[l]
			v := math.Max(p[c][l], minProb)
			if which == 'm' {
				lp.M = v
			} else {
				lp.U = v
			}
			if lp.M > 0 && lp.U > 0 {
				lp.Weight = math.Log2(lp.M / lp.U)
			}
		}
		// levels are ordered from the strongest agreement down: a weaker
		// level never weighs more than a stronger one (a rare level, such
		// as a reordered name, can otherwise out-score an exact one)
		if c == CompPersonalID {
			// a record whose number the register has is verified, not
			// linked: the levels below exact weigh what they say given
			// that the numbers differ, m and u renormalised without exact.
			// When (almost) every true match has the exact number, the
			// data say little about how wrong numbers are wrong: m then
			// leans on pidPrior, with the weight of pidPriorMass matches
			lvs := m.Comparisons[c].Levels
			m0, u0 := math.Min(lvs[0].M, 1-minProb), math.Min(lvs[0].U, 1-minProb)
			for l := 1; l < len(lvs); l++ {
				mc := (lvs[l].M + pidPriorMass*pidPrior[l]) / (1 - m0 + pidPriorMass)
				lvs[l].Weight = math.Log2(mc / (lvs[l].U / (1 - u0)))
			}
			// the encoded facts are the province, sex and birth year the
			// other comparisons already weigh: agreeing on them adds
			// nothing (it would count that evidence twice: an outsider's
			// own number agrees with every namesake born in their year and
			// province); contradicting them weighs against
			lvs[pidFacts].Weight = 0
			lvs[pidDifferent].Weight = math.Min(lvs[pidDifferent].Weight, 0)
			continue
		}
		if c == CompDOB {
			// the date's partial levels are kinds of error, not degrees
			// of agreement (a transposition the data never shows says
			// nothing of a changed year digit): each is capped by exact
			// only, and different by every other level
			lvs := m.Comparisons[c].Levels
			last := len(lvs) - 1
			for l := 1; l < last; l++ {
				lvs[l].Weight = math.Min(lvs[l].Weight, lvs[0].Weight)
				lvs[last].Weight = math.Min(lvs[last].Weight, lvs[l].Weight)
			}
			continue
		}
		if c < nBase {
			// a level neither true matches nor random pairs show (m and
			// u at the floor: diacritics in an English register) weighs
			// nothing and does not cap the levels below it
			lvs := m.Comparisons[c].Levels
			limit := lvs[0].Weight
			for l := 1; l < len(lvs); l++ {
				if lvs[l].M <= 2*minProb && lvs[l].U <= unseenU {
					lvs[l].Weight = 0
					continue
				}
				lvs[l].Weight = math.Min(lvs[l].Weight, limit)
				limit = lvs[l].Weight
			}
			continue
		}
		// an extra field's level that no true match showed (m at the
		// floor: an address form the file never uses) says nothing about
		// the levels below it, so it does not cap them
		lvs := m.Comparisons[c].Levels
		limit := math.Inf(1)
		for l := range lvs {
			lvs[l].Weight = math.Min(lvs[l].Weight, limit)
			if lvs[l].M > 2*minProb {
				limit = lvs[l].Weight
			}
		}
	}
}

// unseenU bounds the u of a level no random pair showed (pseudo-count ½
// over at least 100,000 pairs).
const unseenU = 5e-6

// pidPrior is the assumed share of each personal-number level among true
// matches whose number is wrong (one_edit, same_facts, different: a typo,
// a number built from the right facts, someone else's number), and
// pidPriorMass its weight against the estimated m (the share of true
// matches with a wrong number).
var pidPrior = [...]float64{0, 0.5, 0.3, 0.2}

// Personal-number levels.
const (
	pidExact = iota
	pidOneEdit
	pidFacts
	pidDifferent
)

const pidPriorMass = 0.01

// Validate checks that the model has every built-in comparison, then
// extra fields of known comparisons, each with its levels, with
// probabilities in (0, 1].
func (m *Model) Validate() error {
	if len(m.Comparisons) < nBase || len(m.Comparisons) > maxComp {
		return fmt.Errorf("linkage: model has %d comparisons, want %d built-in ones and at most %d extra", len(m.Comparisons), nBase, maxExtra)
	}
	for c, cp := range m.Comparisons {
		name, levels := cp.Field, []string(nil)
		if c < nBase {
			name, levels = compNames[c], levelNames[c]
		} else if k, ok := parseKind(cp.Comparison); ok && cp.Field != "" {
			levels = kindLevels[k]
		} else {
			return fmt.Errorf("linkage: model comparison %d (%q) has no name or an unknown comparison %q", c, cp.Field, cp.Comparison)
		}
		if cp.Field != name || len(cp.Levels) != len(levels) {
			return fmt.Errorf("linkage: model comparison %d is %q with %d levels, want %q with %d", c, cp.Field, len(cp.Levels), name, len(levels))
		}
		for _, lp := range cp.Levels {
			if !(lp.M > 0 && lp.M <= 1 && lp.U > 0 && lp.U <= 1) {
				return fmt.Errorf("linkage: model %s/%s: m=%v u=%v not in (0,1]", cp.Field, lp.Level, lp.M, lp.U)
			}
		}
	}
	if !(m.Lambda > 0 && m.Lambda < 1) {
		return fmt.Errorf("linkage: model lambda %v not in (0,1)", m.Lambda)
	}
	return nil
}

// pattern is a comparison vector packed 4 bits per comparison (15 = null).
type pattern uint64

func pack(g *vector, n int) pattern {
	var p pattern
	for c := range n {
		v := g[c]
		if v < 0 {
			v = 15
		}
		p |= pattern(v) << (4 * c)
	}
	return p
}

func (p pattern) level(c int) int {
	v := int(p >> (4 * c) & 15)
	if v == 15 {
		return null
	}
	return v
}

// estimateU sets u from the level frequencies among n random pairs of
// citizens (pseudo-count ½ per level, so an unseen level is rare but not
// impossible).
func (m *Model) estimateU(pop *Population, n int, seed uint64, near int) {
	var count [maxComp][maxLvl]float64
	var total [maxComp]float64
	sh := m.shape()
	var buf [32]uint32
	N := uint64(pop.Len())
	s := seed | 1
	next := func() uint64 { // xorshift64*
		s ^= s >> 12
		s ^= s << 25
		s ^= s >> 27
		return s * 2685821657736338717
	}
	var a, b side
	for range n {
		i, j := uint32(next()%N), uint32(next()%N)
		if i == j {
			continue
		}
		pop.sideOf(i, &a)
		pop.sideOf(j, &b)
		g := compareNear(&a, &b, near)
		for k, col := range pop.cols {
			p := col.probeOf(i, buf[:0])
			g[nBase+k] = col.level(&p, j)
		}
		for c, l := range g[:sh.n] {
			if l >= 0 {
				count[c][l]++
				total[c]++
			}
		}
	}
	var u probs
	for c := range sh.n {
		L := float64(sh.levels[c])
		for l := range sh.levels[c] {
			u[c][l] = (count[c][l] + 0.5) / (total[c] + 0.5*L)
		}
	}
	m.set('u', u)
	m.RandomPairs = n
}

// initialM is the starting point of EM: agreement likely, disagreement
// not, for every comparison.
func initialM(sh shape) (p probs) {
	for c := range sh.n {
		L := sh.levels[c]
		p[c][0] = 0.8
		for l := 1; l < L-1; l++ {
			p[c][l] = 0.15 / float64(L-2)
		}
		p[c][L-1] = 0.05
		if L == 2 {
			p[c][0], p[c][1] = 0.95, 0.05
		}
	}
	return p
}

// emSession runs expectation–maximisation over the candidate pairs of one
// blocking rule, with u fixed. Each record has at most one match among its
// candidates: the E-step gives each candidate its probability of being the
// record's match, against the record's other candidates and against none
// of them, (π/K)·LR_j / ((1-π) + (π/K)·Σ_k LR_k) for a record with K
// candidates, LR = m/u of the comparison vector; the M-step re-estimates m
// from those probabilities and π as the share of records matched. Treating
// pairs independently instead lets a namesake born the same day count as a
// second match of the same record, which at national scale inflates m of
// the disagreement levels (a different province, a slip in the name). The
// comparisons the rule blocks on agree on almost every pair whatever the
// truth, so they are left out of the likelihood and not estimated by this
// session (as Splink does).
func emSession(cp candidatePatterns, sh shape, u probs, exclude [maxComp]bool, iters int) (mp probs, matches float64, it int, converged bool) {
	mp = initialM(sh)
	if len(cp.records) == 0 {
		return mp, 0, 0, false
	}
	pi := 0.5
	lr := make([]float64, len(cp.pats))
	post := make([]float64, len(cp.pats)) // summed posterior of each distinct vector
	for it = 1; it <= iters; it++ {
		for k, p := range cp.pats {
			v := 1.0
			for c := range sh.n {
				if l := p.level(c); l >= 0 && !exclude[c] {
					v *= mp[c][l] / u[c][l]
				}
			}
			lr[k] = v
			post[k] = 0
		}
		matches = 0
		for _, ids := range cp.records {
			prior := pi / float64(len(ids))
			sum := 0.0
			for _, id := range ids {
				sum += lr[id]
			}
			denom := (1 - pi) + prior*sum
			for _, id := range ids {
				w := prior * lr[id] / denom
				post[id] += w
				matches += w
			}
		}
		var num probs
		var den [maxComp]float64
		for k, p := range cp.pats {
			w := post[k]
			for c := range sh.n {
				if l := p.level(c); l >= 0 {
					num[c][l] += w
					den[c] += w
				}
			}
		}
		delta := 0.0
		for c := range sh.n {
			if exclude[c] {
				continue
			}
			if den[c] == 0 {
				continue // no pair has the field: keep the starting guess
			}
			for l := range sh.levels[c] {
				v := math.Max(num[c][l]/den[c], minProb)
				delta = math.Max(delta, math.Abs(v-mp[c][l]))
				mp[c][l] = v
			}
		}
		np := math.Min(math.Max(matches/float64(len(cp.records)), 1e-6), 1-1e-6)
		delta = math.Max(delta, math.Abs(np-pi))
		pi = np
		if delta < 1e-7 {
			return mp, matches, it, true
		}
	}
	return mp, matches, iters, false
}
