// Package streamlink runs the probabilistic identity linkage of
// broker/identity/linkage on streamed records, one at a time: a record that
// carries no usable personal number is linked to a citizen of the
// population register (linked / review / unmatched). The linker reads a
// linkage population built from the register. A citizen the population
// change stream registers or changes (see Notifying) is seen by the next
// record at once: until the next rebuild, Link scores the changed citizens
// one by one besides the population and leaves out their stale versions
// (linkage.LinkWith). The rebuild, in the background, puts them in the
// population and is swapped in. The model's m-probabilities are estimated from the records being
// linked, as the bulk reconciler estimates them from its file: until enough
// have been seen, from a sample of the register itself, which links only
// records close to their citizen and sends the others to review.
package streamlink

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lgsp-bus/lgsp/broker/identity"
	"github.com/lgsp-bus/lgsp/broker/identity/linkage"
	"github.com/lgsp-bus/lgsp/broker/store"
	"github.com/lgsp-bus/lgsp/schemas"
)

// Config tunes the streaming linker; zero fields take their defaults.
type Config struct {
	// Linkage holds the decision thresholds and work bounds (default
	// linkage.DefaultConfig()). RandomPairs is capped at 50 per citizen
	// (at least 20000) for a small register.
	Linkage linkage.Config
	// SampleSize is how many of the records linked so far are kept, drawn
	// uniformly, to estimate the model (default 20000).
	SampleSize int
	// MinSample is how many records must have been linked before the model
	// is estimated from them rather than from the register's own sample
	// (default 500).
	MinSample int
	// RegisterSample is how many citizens stand in for records while fewer
	// than MinSample have been seen (default 5000).
	RegisterSample int
	// Refresh is how often Run checks whether the linker must be rebuilt:
	// the register changed (the population is rebuilt, the model kept), the
	// sample reached MinSample, or the number of records seen doubled since
	// the model was estimated (both estimate the model again) (default 1
	// minute).
	Refresh time.Duration
	// MaxPending bounds the citizens changed since the last build that
	// Link scores one by one (default 1000): a larger burst, such as a
	// register loaded through the stream, waits for the next rebuild, as
	// every change did before.
	MaxPending int
	// Datasets are the datasets' own linkage settings, by dataset name
	// (see FromCatalog: schemas/catalog.yaml's linkage keys). A record of
	// one (LinkDataset) is decided with its thresholds, compared with its
	// date window and blocked with its rules besides the built-in ones; the
	// other records with Linkage and the built-in rules. The rules of all
	// datasets are built once: one array of 4 bytes a citizen per distinct
	// key (the same parts in any order are one key), none for a key a
	// built-in rule's array serves (name+dob_year, sex+dob; see
	// linkage.BlockingRule).
	Datasets map[string]Dataset
}

// Dataset is one dataset's linkage settings; zero thresholds and window
// are Config.Linkage's.
type Dataset struct {
	LinkProbability, ReviewProbability float64
	// DateWithinDays: dates of birth at most this many days apart agree at
	// the within_days level for this dataset's records. Each distinct
	// window has a model of its own (estimated from the same sample; the
	// population and the blocking arrays are shared), since the level's
	// weight depends on its width.
	DateWithinDays int
	// Blocking rules on the fields a streamed record carries: its
	// identity's name, date of birth, sex and personal number.
	Blocking []linkage.BlockingRule
}

// FromCatalog is Config.Datasets from the catalog's linkage settings (the
// datasets that have thresholds, a date window or blocking rules of their
// own), as lgsp reconcile --dataset reads them.
func FromCatalog(cat *schemas.Catalog) map[string]Dataset {
	out := map[string]Dataset{}
	for _, d := range cat.Datasets() {
		lk := d.Linkage
		if lk.LinkProbability == 0 && lk.ReviewProbability == 0 && lk.DateWithinDays == 0 && len(lk.Blocking) == 0 {
			continue
		}
		ds := Dataset{LinkProbability: lk.LinkProbability, ReviewProbability: lk.ReviewProbability, DateWithinDays: lk.DateWithinDays}
		for _, r := range lk.Blocking {
			ds.Blocking = append(ds.Blocking, linkage.BlockingRule{Name: r.Name, Keys: r.Keys})
		}
		out[d.Name] = ds
	}
	return out
}

// ruleID names a rule by its canonical key, so that datasets sharing a
// rule share its index whatever they call it and in whatever order they
// list its parts.
func ruleID(r linkage.BlockingRule) string { return linkage.RuleKey(r) }

// allRules is the union of the datasets' rules, by ruleID, in a fixed
// order.
func (c Config) allRules() []linkage.BlockingRule {
	seen := map[string]bool{}
	var out []linkage.BlockingRule
	names := slices.Sorted(maps.Keys(c.Datasets))
	for _, n := range names {
		for _, r := range c.Datasets[n].Blocking {
			if id := ruleID(r); !seen[id] {
				seen[id] = true
				out = append(out, linkage.BlockingRule{Name: id, Keys: r.Keys})
			}
		}
	}
	return out
}

// window is the within_days distance of a dataset's records (0: the
// default records').
func (c Config) window(w int) int {
	return cmp.Or(w, c.Linkage.DateNearDays, linkage.DefaultDateNearDays)
}

// windows are the distinct date windows, the default records' first.
func (c Config) windows() []int {
	out := []int{c.window(0)}
	for _, ds := range c.Datasets {
		if w := c.window(ds.DateWithinDays); !slices.Contains(out, w) {
			out = append(out, w)
		}
	}
	slices.Sort(out[1:])
	return out
}

// linkers derives each dataset's linker from the linker of its date
// window (models, by window; all share one population and the rules of
// allRules): its thresholds and its share of the rules.
func (c Config) linkers(models map[int]*linkage.Linker) (map[string]*linkage.Linker, *linkage.Linker, error) {
	def, err := models[c.window(0)].With(c.Linkage, nil)
	if err != nil {
		return nil, nil, err
	}
	out := map[string]*linkage.Linker{}
	for name, ds := range c.Datasets {
		cfg := c.Linkage
		cfg.LinkProbability = cmp.Or(ds.LinkProbability, cfg.LinkProbability)
		cfg.ReviewProbability = cmp.Or(ds.ReviewProbability, cfg.ReviewProbability)
		if err := cfg.CheckThresholds(); err != nil {
			return nil, nil, fmt.Errorf("dataset %s: %w", name, err)
		}
		var ids []string
		for _, r := range ds.Blocking {
			ids = append(ids, ruleID(r))
		}
		if out[name], err = models[c.window(ds.DateWithinDays)].With(cfg, ids); err != nil {
			return nil, nil, fmt.Errorf("dataset %s: %w", name, err)
		}
	}
	return out, def, nil
}

func (c Config) withDefaults() Config {
	if c.Linkage == (linkage.Config{}) {
		c.Linkage = linkage.DefaultConfig()
	}
	if c.SampleSize <= 0 {
		c.SampleSize = 20_000
	}
	if c.MinSample <= 0 {
		c.MinSample = 500
	}
	c.MinSample = min(c.MinSample, c.SampleSize)
	if c.RegisterSample <= 0 {
		c.RegisterSample = 5000
	}
	if c.Refresh <= 0 {
		c.Refresh = time.Minute
	}
	if c.MaxPending <= 0 {
		c.MaxPending = 1000
	}
	return c
}

// Scan reads every citizen of the register (store.PopulationStore's
// ScanCitizens); an error from fn stops it.
type Scan func(ctx context.Context, fn func(store.Citizen) error) error

// Linker links streamed records. Link is safe for concurrent use and
// never waits for a rebuild.
type Linker struct {
	cfg  Config
	scan Scan
	log  *slog.Logger
	cur  atomic.Pointer[built]

	dirty atomic.Bool // the register changed since the last build
	mu    sync.Mutex  // guards what follows
	seen  uint64      // records linked so far
	pool  []linkage.Record
	rng   *rand.Rand // reservoir sampling
	build sync.Mutex // one rebuild at a time

	// The citizens the population stream changed since the population was
	// built, so that Link sees them before the next rebuild.
	deltaMu  sync.Mutex
	delta    map[string]change // by personal number
	version  uint64            // of the last change
	snapshot atomic.Pointer[deltaView]
}

// change is one citizen as the stream last gave it.
type change struct {
	c       store.Citizen
	version uint64
}

// deltaView is the delta as Link reads it, rebuilt when it changes.
type deltaView struct {
	version uint64
	changed []store.Citizen
	ids     map[string]bool
}

// built is one linker and how its model was estimated.
type built struct {
	l    *linkage.Linker // nil while the register has fewer than two citizens
	base *linkage.Linker // l with every dataset's rules (the model's owner)
	// models are base and its siblings of the other date windows (see
	// Dataset.DateWithinDays), by window
	models    map[int]*linkage.Linker
	byDataset map[string]*linkage.Linker
	citizens  int
	seenAt    uint64 // records seen when the model was estimated
	sample    int    // size of the sample the model was estimated from
	fromRecs  bool   // the sample is of records (else of the register)
	at        time.Time
	estimated time.Time
}

// State says what the current linker was built from.
type State struct {
	Citizens    int       `json:"citizens"`
	SampleFrom  string    `json:"sample_from"` // "records" or "register"
	SampleSize  int       `json:"sample_size"`
	RecordsSeen uint64    `json:"records_seen"`
	MatchRate   float64   `json:"match_rate"`
	Built       time.Time `json:"built"`     // population last rebuilt
	Estimated   time.Time `json:"estimated"` // model last estimated
}

// New builds the first linker from the register; it fails when the
// register cannot be read.
func New(ctx context.Context, scan Scan, cfg Config, log *slog.Logger) (*Linker, error) {
	if log == nil {
		log = slog.Default()
	}
	l := &Linker{cfg: cfg.withDefaults(), scan: scan, log: log, rng: rand.New(rand.NewPCG(0x11e4, 0x5a3b))}
	if err := l.Refresh(ctx); err != nil {
		return nil, err
	}
	return l, nil
}

// Link decides one record without a usable personal number against the
// register: the population of the last build, and the citizens the
// population stream changed or registered since (linkage.LinkWith), and
// keeps the record in the sample the model is next estimated from.
func (l *Linker) Link(rec linkage.Record) linkage.Decision {
	return l.LinkDataset("", rec)
}

// LinkDataset is Link for a record of a dataset: decided with the
// dataset's thresholds and blocked with its rules too (Config.Datasets); a
// dataset without settings of its own is linked as Link does.
func (l *Linker) LinkDataset(dataset string, rec linkage.Record) linkage.Decision {
	l.observe(rec)
	b := l.cur.Load()
	if b.l == nil {
		return linkage.Decision{RecordID: rec.ID, Outcome: identity.Unmatched, Reason: "the population register is empty"}
	}
	lk := b.l
	if d, ok := b.byDataset[dataset]; ok {
		lk = d
	}
	if v := l.deltaView(); v != nil {
		return lk.LinkWith(rec, v.changed, func(id string) bool { return v.ids[id] })
	}
	return lk.Link(rec)
}

// Apply records a citizen the population stream registered or changed:
// Link sees it at once, and the next rebuild puts it in the population.
func (l *Linker) Apply(c store.Citizen) {
	l.deltaMu.Lock()
	if l.delta == nil {
		l.delta = map[string]change{}
	}
	l.version++
	l.delta[c.ID] = change{c, l.version}
	l.deltaMu.Unlock()
	l.Changed()
}

// deltaView returns the changes since the build (nil: none, or more than
// MaxPending), rebuilding the shared view only when a change came in
// since it was made.
func (l *Linker) deltaView() *deltaView {
	l.deltaMu.Lock()
	defer l.deltaMu.Unlock()
	if len(l.delta) == 0 || len(l.delta) > l.cfg.MaxPending {
		return nil
	}
	if v := l.snapshot.Load(); v != nil && v.version == l.version {
		return v
	}
	v := &deltaView{version: l.version, ids: make(map[string]bool, len(l.delta))}
	for id, ch := range l.delta {
		v.changed = append(v.changed, ch.c)
		v.ids[id] = true
	}
	slices.SortFunc(v.changed, func(a, b store.Citizen) int { return strings.Compare(a.ID, b.ID) })
	l.snapshot.Store(v)
	return v
}

// Pending is how many citizens changed since the population was built.
func (l *Linker) Pending() int {
	l.deltaMu.Lock()
	defer l.deltaMu.Unlock()
	return len(l.delta)
}

// observe keeps rec in a uniform sample of the records seen (reservoir
// sampling), without the record's own id.
func (l *Linker) observe(rec linkage.Record) {
	rec.ID = ""
	l.mu.Lock()
	defer l.mu.Unlock()
	l.seen++
	switch {
	case len(l.pool) < l.cfg.SampleSize:
		l.pool = append(l.pool, rec)
	default:
		if j := l.rng.Uint64N(l.seen); j < uint64(len(l.pool)) {
			l.pool[j] = rec
		}
	}
}

// Changed records that the register changed: the next Run tick rebuilds.
func (l *Linker) Changed() { l.dirty.Store(true) }

// Due reports whether the linker should be rebuilt: the register changed,
// or the records seen justify estimating the model again.
func (l *Linker) Due() bool {
	return l.dirty.Load() || l.modelDue(l.cur.Load())
}

// modelDue: the first MinSample records have been seen since the model
// came from the register, or the records seen doubled since it was
// estimated from records.
func (l *Linker) modelDue(b *built) bool {
	l.mu.Lock()
	seen, pooled := l.seen, len(l.pool)
	l.mu.Unlock()
	if b == nil || b.l == nil {
		return true
	}
	if !b.fromRecs {
		return pooled >= l.cfg.MinSample
	}
	return seen >= 2*b.seenAt
}

// Run rebuilds the linker when due, checking every Config.Refresh, until
// ctx ends. A failed rebuild keeps the current linker and is retried.
func (l *Linker) Run(ctx context.Context) {
	t := time.NewTicker(l.cfg.Refresh)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if !l.Due() {
				continue
			}
			if err := l.Refresh(ctx); err != nil && ctx.Err() == nil {
				l.log.Error("identity linker not rebuilt; the previous one stays in use", "error", err)
			}
		}
	}
}

// errStop ends a scan early.
var errStop = errors.New("streamlink: scan stopped")

// Refresh rebuilds the linker now and swaps it in: the linkage population
// from the register and, when due, the model, from the records seen (or,
// while they are too few, a sample of the register); otherwise the model
// in use is kept, since a few registrations do not change it.
func (l *Linker) Refresh(ctx context.Context) error {
	l.build.Lock()
	defer l.build.Unlock()
	start := time.Now()
	l.dirty.Store(false) // a change from here on is caught by the next build
	// the stream writes a change to the store before Apply, so every
	// change up to this version is in the scan below
	l.deltaMu.Lock()
	upTo := l.version
	l.deltaMu.Unlock()
	prev := l.cur.Load()
	estimate := l.modelDue(prev)
	l.mu.Lock()
	seen := l.seen
	var sample []linkage.Record
	if estimate && len(l.pool) >= l.cfg.MinSample {
		sample = slices.Clone(l.pool)
	}
	l.mu.Unlock()
	fromRegister := estimate && sample == nil

	// The register is read once, straight into the population; a uniform
	// sample of it stands in for records while too few have been seen.
	regRNG := rand.New(rand.NewPCG(0x5eed, 0x7e91))
	var regSample []linkage.Record
	n := 0
	var scanErr error
	citizens := iter.Seq[store.Citizen](func(yield func(store.Citizen) bool) {
		scanErr = l.scan(ctx, func(c store.Citizen) error {
			n++
			if fromRegister {
				rec := linkage.Record{OldID: c.OldID, Name: c.FullName, DOB: c.DOB, Sex: c.Sex, Province: c.BirthProvince}
				if len(regSample) < l.cfg.RegisterSample {
					regSample = append(regSample, rec)
				} else if j := regRNG.IntN(n); j < len(regSample) {
					regSample[j] = rec
				}
			}
			if !yield(c) {
				return errStop
			}
			return nil
		})
	})
	hint := 0
	if prev != nil {
		hint = prev.citizens
	}
	pop, err := linkage.NewPopulation(citizens, hint)
	if scanErr != nil {
		return fmt.Errorf("streamlink: read the population register: %w", scanErr)
	}
	if err != nil {
		// malformed register rows are skipped and counted, as the index does
		l.log.Warn("population rows left out of the identity linker", "error", err)
	}
	b := &built{citizens: pop.Len(), at: time.Now().UTC()}
	switch {
	case pop.Len() < 2: // no pairs to estimate u from, nobody to link
	case estimate:
		if fromRegister {
			sample = regSample
		}
		cfg := l.cfg.Linkage
		// u comes from random pairs: a small register has few distinct ones
		cfg.RandomPairs = min(cfg.RandomPairs, max(50*pop.Len(), 20_000))
		ws := l.cfg.windows()
		cfg.DateNearDays = ws[0]
		if b.base, err = linkage.TrainWith(pop, sample, cfg, l.cfg.allRules()); err != nil {
			return fmt.Errorf("streamlink: the datasets' blocking rules: %w", err)
		}
		b.models = map[int]*linkage.Linker{ws[0]: b.base}
		for _, w := range ws[1:] {
			cfg.DateNearDays = w
			if b.models[w], err = b.base.Retrain(sample, cfg); err != nil {
				return fmt.Errorf("streamlink: the model for dates within %d days: %w", w, err)
			}
		}
		b.seenAt, b.sample, b.fromRecs, b.estimated = seen, len(sample), !fromRegister, b.at
	default:
		if b.base, err = linkage.NewLinkerWith(pop, prev.base.Model(), l.cfg.Linkage, l.cfg.allRules()); err != nil {
			return fmt.Errorf("streamlink: reuse the model: %w", err)
		}
		b.models = map[int]*linkage.Linker{}
		for w, m := range prev.models {
			if m == prev.base {
				b.models[w] = b.base
				continue
			}
			if b.models[w], err = b.base.WithModel(m.Model(), l.cfg.Linkage); err != nil {
				return fmt.Errorf("streamlink: reuse the model for dates within %d days: %w", w, err)
			}
		}
		b.seenAt, b.sample, b.fromRecs, b.estimated = prev.seenAt, prev.sample, prev.fromRecs, prev.estimated
	}
	if b.base != nil {
		if b.byDataset, b.l, err = l.cfg.linkers(b.models); err != nil {
			return fmt.Errorf("streamlink: %w", err)
		}
	}
	l.cur.Store(b)
	l.deltaMu.Lock()
	for id, ch := range l.delta {
		if ch.version <= upTo {
			delete(l.delta, id)
		}
	}
	l.deltaMu.Unlock()
	st := l.State()
	l.log.Info("identity linker built", "citizens", st.Citizens, "model_estimated", estimate, "sample_from", st.SampleFrom,
		"sample", st.SampleSize, "match_rate", st.MatchRate, "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// State describes the current linker.
func (l *Linker) State() State {
	b := l.cur.Load()
	l.mu.Lock()
	seen := l.seen
	l.mu.Unlock()
	s := State{Citizens: b.citizens, SampleFrom: "register", SampleSize: b.sample, RecordsSeen: seen, Built: b.at, Estimated: b.estimated}
	if b.fromRecs {
		s.SampleFrom = "records"
	}
	if b.l != nil {
		s.MatchRate = b.l.Model().MatchRate
	}
	return s
}

// Index is the live population index the population stream updates.
type Index interface {
	Add(c store.Citizen) error
}

// Notifying returns idx with every successful Add also marking l's
// register changed, so the linker follows the index.
func Notifying(idx Index, l *Linker) Index { return notifying{idx, l} }

type notifying struct {
	Index
	l *Linker
}

func (n notifying) Add(c store.Citizen) error {
	if err := n.Index.Add(c); err != nil {
		return err
	}
	n.l.Apply(c)
	return nil
}
