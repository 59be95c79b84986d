package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/hamba/avro/v2"

	"github.com/lgsp-bus/lgsp/broker/store"
)

// Modes, spelled as Confluent spells them.
const (
	ModeReadWrite = "READWRITE"
	ModeReadOnly  = "READONLY"
	ModeImport    = "IMPORT"
)

// maxRefDepth bounds how deep references may chain.
const maxRefDepth = 32

// maxRegisterAttempts bounds how often RegisterSchema checks a schema
// again because the subject changed under it (store.ErrStale): another bus
// instance registering into the same subject at the same moment.
const maxRegisterAttempts = 16

// RegisterRequest is a schema to register (or to check or look up) with
// its references; ID and Version are for IMPORT mode only.
type RegisterRequest struct {
	Schema     string
	SchemaType string
	References []store.Reference
	ID         int
	Version    int
	// Metadata and RuleSet are Confluent's data-contract fields as JSON
	// objects ("" or "null" when absent). They are checked against
	// Confluent's shapes and kept verbatim with the schema's id.
	Metadata string
	RuleSet  string
	// Normalize stores and compares the schema in canonical form
	// (?normalize=true); see canonical.
	Normalize bool
	// Deleted makes a lookup consider soft-deleted versions too
	// (?deleted=true); only LookupSchema reads it.
	Deleted bool
}

// request is a RegisterRequest checked and prepared: the schema parsed
// and normalised, its references resolved, its data-contract fields
// validated.
type request struct {
	p                 prepared
	refs              []store.Reference // as stored: version -1 resolved
	deps              []dep
	metadata, ruleSet string
	normalize         bool
}

func (r *Registry) prepareRequest(ctx context.Context, req RegisterRequest) (request, error) {
	refs, deps, err := r.resolveRefs(ctx, req.References)
	if err != nil {
		return request{}, err
	}
	p, err := prepareRefs(req.SchemaType, req.Schema, deps)
	if err != nil {
		return request{}, err
	}
	if req.Normalize {
		p = canonical(p, deps)
	}
	q := request{p: p, refs: refs, deps: deps, normalize: req.Normalize}
	if q.metadata, err = parseMetadata(json.RawMessage(req.Metadata)); err != nil {
		return request{}, err
	}
	if q.ruleSet, err = parseRuleSet(json.RawMessage(req.RuleSet)); err != nil {
		return request{}, err
	}
	return q, nil
}

func (q request) stored() store.Schema {
	return store.Schema{Type: q.p.typ, Text: q.p.text, Metadata: q.metadata, RuleSet: q.ruleSet}
}

// RegisterSchema validates, normalises and registers req under subject.
//
//   - READONLY mode (of the subject, else global) refuses with 42205.
//   - IMPORT mode requires req.ID (and takes req.Version, or the next
//     number): the schema is stored under that id, with no compatibility
//     check. An id outside IMPORT mode is 42205.
//   - Otherwise a schema the subject already has returns its id and
//     version and writes nothing; a new one is checked against the
//     subject's live versions at the subject's compatibility level (else
//     the global one, else BACKWARD) and refused with 409 when
//     incompatible.
//
// The check and the write are one step even across bus instances sharing
// the store: the store refuses the write if the subject's versions changed
// since they were checked (store.ErrStale), and the check is done again.
// On any error nothing is written.
func (r *Registry) RegisterSchema(ctx context.Context, subject string, req RegisterRequest) (id int, version int, err error) {
	if err := checkSubject(subject); err != nil {
		return 0, 0, err
	}
	mode, err := r.effective(ctx, store.SettingMode, subject, ModeReadWrite)
	if err != nil {
		return 0, 0, err
	}
	switch {
	case mode == ModeReadOnly:
		return 0, 0, notPermitted(fmt.Sprintf("Subject %s is in read-only mode", subject))
	case mode == ModeImport && req.ID <= 0:
		return 0, 0, notPermitted(fmt.Sprintf("Subject %s is in import mode: give the schema's id (and version)", subject))
	case mode != ModeImport && (req.ID > 0 || req.Version > 0):
		return 0, 0, notPermitted(fmt.Sprintf("Subject %s is not in import mode", subject))
	}
	q, err := r.prepareRequest(ctx, req)
	if err != nil {
		return 0, 0, err
	}
	// Within this process, registrations of one subject queue here
	// rather than race to the store and retry.
	defer r.lockSubject(subject)()
	if mode == ModeImport {
		return r.importSchema(ctx, subject, req, q)
	}
	lvlName, err := r.effective(ctx, store.SettingCompatibility, subject, DefaultCompatibility)
	if err != nil {
		return 0, 0, err
	}
	lvl, ok := parseLevel(lvlName)
	if !ok {
		lvl, _ = parseLevel(DefaultCompatibility)
	}
	cand, err := compile(q.p, q.deps)
	if err != nil {
		return 0, 0, err
	}
	for attempt := 1; ; attempt++ {
		live, err := r.store.Versions(ctx, subject, false)
		if err != nil {
			return 0, 0, storeErr(fmt.Errorf("versions of %q: %w", subject, err))
		}
		if sv, ok, err := r.findSchema(ctx, live, q); err != nil || ok {
			return sv.SchemaID, sv.Version, err
		}
		msgs, err := r.checkAgainst(ctx, lvl, cand, live)
		if err != nil {
			return 0, 0, err
		}
		if len(msgs) > 0 {
			return 0, 0, &Error{Code: ErrIncompatibleSchema.Code, Message: fmt.Sprintf(
				"Schema being registered is incompatible with an earlier schema for subject %q, details: [%s]",
				subject, strings.Join(msgs, ", "))}
		}
		sv, err := r.store.RegisterVersion(ctx, store.Registration{
			Subject: subject, Schema: q.stored(), References: q.refs, Live: live,
		})
		switch {
		case errors.Is(err, store.ErrStale) && attempt < maxRegisterAttempts:
			continue // another instance changed the subject: check again
		case errors.Is(err, store.ErrConflict):
			return 0, 0, invalidSchema(errors.New("the same schema is already registered with other references, " +
				"metadata or rule set, and a schema id never changes: register it with the same ones, or change the schema"))
		case err != nil:
			return 0, 0, storeErr(fmt.Errorf("register a version of %q: %w", subject, err))
		}
		r.remember(sv.SchemaID, q)
		return sv.SchemaID, sv.Version, nil
	}
}

// remember keeps what registering parsed for the first LookupAvro /
// LookupJSON of the id. The schema itself is read back from the store
// once: its stored metadata may be more than the request gave.
func (r *Registry) remember(id int, q request) {
	r.parsed.LoadOrStore(id, q.p.parsed)
	r.refs.LoadOrStore(id, q.refs)
}

func (r *Registry) importSchema(ctx context.Context, subject string, req RegisterRequest, q request) (int, int, error) {
	// Say which of id and version is the problem; the write below is
	// atomic whatever this finds.
	if req.Version > 0 {
		all, err := r.store.Versions(ctx, subject, true)
		if err != nil {
			return 0, 0, storeErr(err)
		}
		if i := slices.IndexFunc(all, func(sv store.SubjectVersion) bool { return sv.Version == req.Version }); i >= 0 && all[i].SchemaID != req.ID {
			return 0, 0, notPermitted(fmt.Sprintf("Version %d of subject %s is already taken by another schema", req.Version, subject))
		}
	}
	sc := q.stored()
	sc.ID = req.ID
	sv, err := r.store.RegisterVersion(ctx, store.Registration{Subject: subject, Schema: sc, References: q.refs, Version: req.Version})
	if errors.Is(err, store.ErrConflict) {
		return 0, 0, &Error{Code: ErrIDDoesNotMatch.Code,
			Message: fmt.Sprintf("Overwrite new schema with id %d is not permitted.", req.ID)}
	}
	if err != nil {
		return 0, 0, storeErr(fmt.Errorf("import schema %d into %q: %w", req.ID, subject, err))
	}
	r.remember(req.ID, q)
	return req.ID, sv.Version, nil
}

func notPermitted(msg string) error {
	return &Error{Code: ErrOperationNotPermitted.Code, Message: msg}
}

// findSchema returns the newest of svs whose schema is what q registers.
func (r *Registry) findSchema(ctx context.Context, svs []store.SubjectVersion, q request) (store.SubjectVersion, bool, error) {
	for i := len(svs) - 1; i >= 0; i-- {
		ok, err := r.matches(ctx, svs[i].SchemaID, q)
		if err != nil || ok {
			return svs[i], ok, err
		}
	}
	return store.SubjectVersion{}, false, nil
}

// matches reports whether stored schema id is what q registers: the same
// type, text (canonical forms when q normalizes) and references, and the
// same metadata and rule set where q gives them.
func (r *Registry) matches(ctx context.Context, id int, q request) (bool, error) {
	s, err := r.SchemaByID(ctx, id)
	if err != nil {
		return false, err
	}
	if s.Type != q.p.typ {
		return false, nil
	}
	if s.Text != q.p.text {
		if !q.normalize {
			return false, nil
		}
		c, err := r.canonicalText(ctx, s)
		if err != nil || c != q.p.text {
			return false, err
		}
	}
	if q.metadata != "" && q.metadata != s.Metadata || q.ruleSet != "" && q.ruleSet != s.RuleSet {
		return false, nil
	}
	have, err := r.SchemaRefs(ctx, id)
	if err != nil {
		return false, err
	}
	return len(have) == len(q.refs) && (len(have) == 0 || slices.Equal(have, q.refs)), nil
}

// canonicalText returns the canonical form of stored schema s, computing
// it once per id.
func (r *Registry) canonicalText(ctx context.Context, s store.Schema) (string, error) {
	if v, ok := r.canon.Load(s.ID); ok {
		return v.(string), nil
	}
	parsed, err := r.lookupParsed(ctx, s.ID, s.Type)
	if err != nil {
		return "", err
	}
	deps, err := r.storedDeps(ctx, s.ID)
	if err != nil {
		return "", err
	}
	c := canonical(prepared{typ: s.Type, text: s.Text, parsed: parsed}, deps).text
	r.canon.Store(s.ID, c)
	return c, nil
}

// effective returns the subject's own setting, else the global one, else
// def.
func (r *Registry) effective(ctx context.Context, set store.Setting, subject, def string) (string, error) {
	for _, s := range []string{subject, ""} {
		v, err := r.store.GetSetting(ctx, set, s)
		if err == nil {
			return v, nil
		}
		if !errors.Is(err, store.ErrNotFound) {
			return "", storeErr(fmt.Errorf("%s of %q: %w", set, s, err))
		}
	}
	return def, nil
}

// SchemaRefs returns the references schema id was registered with.
func (r *Registry) SchemaRefs(ctx context.Context, id int) ([]store.Reference, error) {
	if v, ok := r.refs.Load(id); ok {
		return v.([]store.Reference), nil
	}
	refs, err := r.store.References(ctx, id)
	if err != nil {
		return nil, storeErr(fmt.Errorf("references of %d: %w", id, err))
	}
	if len(refs) == 0 {
		refs = nil
	}
	r.refs.Store(id, refs)
	return refs, nil
}

// resolveRefs checks that every reference names an existing subject
// version (version -1 is the latest, stored as its number) and returns the
// references as stored and the schemas they resolve to, dependencies
// first.
func (r *Registry) resolveRefs(ctx context.Context, refs []store.Reference) ([]store.Reference, []dep, error) {
	if len(refs) == 0 {
		return nil, nil, nil
	}
	out := make([]store.Reference, len(refs))
	var deps []dep
	seen := map[store.Reference]bool{}
	for i, ref := range refs {
		if ref.Name == "" || ref.Subject == "" {
			return nil, nil, invalidSchema(fmt.Errorf("reference %d needs a name and a subject", i))
		}
		if ref.Version == -1 {
			live, err := r.store.Versions(ctx, ref.Subject, false)
			if err != nil {
				return nil, nil, storeErr(err)
			}
			if len(live) == 0 {
				return nil, nil, invalidSchema(fmt.Errorf("reference %q: subject %q has no versions", ref.Name, ref.Subject))
			}
			ref.Version = live[len(live)-1].Version
		}
		out[i] = ref
		if err := r.collectDeps(ctx, ref, 0, seen, &deps); err != nil {
			return nil, nil, err
		}
	}
	return out, deps, nil
}

func (r *Registry) collectDeps(ctx context.Context, ref store.Reference, depth int, seen map[store.Reference]bool, deps *[]dep) error {
	if depth > maxRefDepth {
		return invalidSchema(fmt.Errorf("references nest deeper than %d", maxRefDepth))
	}
	if seen[ref] {
		return nil
	}
	seen[ref] = true
	all, err := r.store.Versions(ctx, ref.Subject, true)
	if err != nil {
		return storeErr(err)
	}
	i := slices.IndexFunc(all, func(sv store.SubjectVersion) bool { return sv.Version == ref.Version })
	if i < 0 {
		return invalidSchema(fmt.Errorf("reference %q: subject %q has no version %d", ref.Name, ref.Subject, ref.Version))
	}
	s, err := r.SchemaByID(ctx, all[i].SchemaID)
	if err != nil {
		return err
	}
	sub, err := r.SchemaRefs(ctx, s.ID)
	if err != nil {
		return err
	}
	for _, x := range sub {
		if err := r.collectDeps(ctx, x, depth+1, seen, deps); err != nil {
			return err
		}
	}
	*deps = append(*deps, dep{name: ref.Name, text: s.Text})
	return nil
}

// storedDeps resolves the references of stored schema id.
func (r *Registry) storedDeps(ctx context.Context, id int) ([]dep, error) {
	refs, err := r.SchemaRefs(ctx, id)
	if err != nil || len(refs) == 0 {
		return nil, err
	}
	_, deps, err := r.resolveRefs(ctx, refs)
	return deps, err
}

// compile makes a prepared schema ready for compatibility checks.
func compile(p prepared, deps []dep) (compiled, error) {
	c := compiled{typ: p.typ}
	if p.typ == TypeAvro {
		c.avro = p.parsed.(avro.Schema)
		return c, nil
	}
	d, err := decodeJSONDoc(p.text, deps)
	if err != nil {
		return compiled{}, invalidSchema(err)
	}
	c.json = d
	return c, nil
}

// compiledByID returns stored schema id ready for compatibility checks.
func (r *Registry) compiledByID(ctx context.Context, id int) (compiled, error) {
	if v, ok := r.compat.Load(id); ok {
		return v.(compiled), nil
	}
	s, err := r.SchemaByID(ctx, id)
	if err != nil {
		return compiled{}, err
	}
	deps, err := r.storedDeps(ctx, id)
	if err != nil {
		return compiled{}, err
	}
	parsed, err := r.lookupParsed(ctx, id, s.Type)
	if err != nil {
		return compiled{}, err
	}
	c, err := compile(prepared{typ: s.Type, text: s.Text, parsed: parsed}, deps)
	if err != nil {
		return compiled{}, err
	}
	r.compat.Store(id, c)
	return c, nil
}

// checkAgainst checks cand against the versions lvl asks for among live
// (ascending): the latest, or all of them for a transitive level. It
// returns the messages of every incompatibility, newest version first.
func (r *Registry) checkAgainst(ctx context.Context, lvl level, cand compiled, live []store.SubjectVersion) ([]string, error) {
	if !lvl.backward && !lvl.forward || len(live) == 0 {
		return nil, nil
	}
	targets := live
	if !lvl.transitive {
		targets = live[len(live)-1:]
	}
	var out []string
	for i := len(targets) - 1; i >= 0; i-- {
		msgs, err := r.checkVersion(ctx, lvl, cand, targets[i])
		if err != nil {
			return nil, err
		}
		out = append(out, msgs...)
	}
	return out, nil
}

func (r *Registry) checkVersion(ctx context.Context, lvl level, cand compiled, sv store.SubjectVersion) ([]string, error) {
	old, err := r.compiledByID(ctx, sv.SchemaID)
	if err != nil {
		return nil, err
	}
	var msgs []string
	if lvl.backward {
		for _, m := range incompatibilities(cand, old) {
			msgs = append(msgs, fmt.Sprintf("{description:'the new schema cannot read data written with version %d: %s'}", sv.Version, m))
		}
	}
	if lvl.forward {
		for _, m := range incompatibilities(old, cand) {
			msgs = append(msgs, fmt.Sprintf("{description:'version %d cannot read data written with the new schema: %s'}", sv.Version, m))
		}
	}
	if len(msgs) == 0 {
		return nil, nil
	}
	s, err := r.SchemaByID(ctx, sv.SchemaID)
	if err != nil {
		return nil, err
	}
	return append(msgs,
		fmt.Sprintf("{oldSchemaVersion: %d}", sv.Version),
		fmt.Sprintf("{oldSchema: '%s'}", s.Text),
		fmt.Sprintf("{compatibility: '%s'}", lvl.name)), nil
}

// CheckCompatibility checks req against version v of subject (-1 is the
// latest), or, with v == 0, against the versions the subject's level asks
// for. It returns whether it is compatible and, when not, the messages.
// An unknown subject is compatible when v == 0 (nothing to break) and
// 40401 otherwise.
func (r *Registry) CheckCompatibility(ctx context.Context, subject string, v int, req RegisterRequest) (bool, []string, error) {
	if err := checkSubject(subject); err != nil {
		return false, nil, err
	}
	q, err := r.prepareRequest(ctx, req)
	if err != nil {
		return false, nil, err
	}
	cand, err := compile(q.p, q.deps)
	if err != nil {
		return false, nil, err
	}
	lvlName, err := r.effective(ctx, store.SettingCompatibility, subject, DefaultCompatibility)
	if err != nil {
		return false, nil, err
	}
	lvl, ok := parseLevel(lvlName)
	if !ok {
		lvl, _ = parseLevel(DefaultCompatibility)
	}
	live, err := r.store.Versions(ctx, subject, false)
	if err != nil {
		return false, nil, storeErr(err)
	}
	var msgs []string
	if v == 0 {
		msgs, err = r.checkAgainst(ctx, lvl, cand, live)
	} else {
		if len(live) == 0 {
			return false, nil, subjectNotFound(subject)
		}
		sv := live[len(live)-1]
		if v != -1 {
			i := slices.IndexFunc(live, func(x store.SubjectVersion) bool { return x.Version == v })
			if i < 0 {
				return false, nil, versionNotFound(v)
			}
			sv = live[i]
		}
		if lvl.backward || lvl.forward {
			msgs, err = r.checkVersion(ctx, lvl, cand, sv)
		}
	}
	if err != nil {
		return false, nil, err
	}
	return len(msgs) == 0, msgs, nil
}

func subjectNotFound(subject string) error {
	return &Error{Code: ErrSubjectNotFound.Code, Message: fmt.Sprintf("Subject '%s' not found.", subject)}
}

func versionNotFound(v int) error {
	return &Error{Code: ErrVersionNotFound.Code, Message: fmt.Sprintf("Version %d not found.", v)}
}

// ---- config and mode --------------------------------------------------------

// Compatibility returns the compatibility level of subject ("" for the
// global one). A subject without its own level answers 40408, unless
// defaultToGlobal, as Confluent does.
func (r *Registry) Compatibility(ctx context.Context, subject string, defaultToGlobal bool) (string, error) {
	if subject == "" || defaultToGlobal {
		return r.effective(ctx, store.SettingCompatibility, subject, DefaultCompatibility)
	}
	v, err := r.store.GetSetting(ctx, store.SettingCompatibility, subject)
	if errors.Is(err, store.ErrNotFound) {
		return "", &Error{Code: ErrSubjectCompatNotSet.Code,
			Message: fmt.Sprintf("Subject '%s' does not have subject-level compatibility configured", subject)}
	}
	if err != nil {
		return "", storeErr(err)
	}
	return v, nil
}

// SetCompatibility sets the level of subject ("" for the global one) and
// returns it as stored (upper case).
func (r *Registry) SetCompatibility(ctx context.Context, subject, lvl string) (string, error) {
	if subject != "" {
		if err := checkSubject(subject); err != nil {
			return "", err
		}
	}
	l, ok := parseLevel(lvl)
	if !ok {
		return "", &Error{Code: ErrInvalidCompatibility.Code, Message: "Invalid compatibility level. Valid values are none, backward, " +
			"forward, full, backward_transitive, forward_transitive, and full_transitive"}
	}
	if err := r.store.PutSetting(ctx, store.SettingCompatibility, subject, l.name); err != nil {
		return "", storeErr(err)
	}
	return l.name, nil
}

// DeleteCompatibility removes the level of subject ("" for the global
// one, which goes back to BACKWARD) and returns the level it had.
func (r *Registry) DeleteCompatibility(ctx context.Context, subject string) (string, error) {
	old, err := r.Compatibility(ctx, subject, false)
	if err != nil {
		return "", err
	}
	if err := r.store.DeleteSetting(ctx, store.SettingCompatibility, subject); err != nil && !errors.Is(err, store.ErrNotFound) {
		return "", storeErr(err)
	}
	return old, nil
}

// Mode returns the mode of subject ("" for the global one); a subject
// without its own answers 40409 unless defaultToGlobal.
func (r *Registry) Mode(ctx context.Context, subject string, defaultToGlobal bool) (string, error) {
	if subject == "" || defaultToGlobal {
		return r.effective(ctx, store.SettingMode, subject, ModeReadWrite)
	}
	v, err := r.store.GetSetting(ctx, store.SettingMode, subject)
	if errors.Is(err, store.ErrNotFound) {
		return "", &Error{Code: ErrSubjectModeNotSet.Code,
			Message: fmt.Sprintf("Subject '%s' does not have subject-level mode configured", subject)}
	}
	if err != nil {
		return "", storeErr(err)
	}
	return v, nil
}

// SetMode sets the mode of subject ("" for the global one). IMPORT is
// refused (42205) where schemas are registered already, unless force.
func (r *Registry) SetMode(ctx context.Context, subject, mode string, force bool) (string, error) {
	if subject != "" {
		if err := checkSubject(subject); err != nil {
			return "", err
		}
	}
	m := strings.ToUpper(strings.TrimSpace(mode))
	if m != ModeReadWrite && m != ModeReadOnly && m != ModeImport {
		return "", &Error{Code: ErrInvalidMode.Code, Message: "Invalid mode. Valid values are READWRITE, READONLY, IMPORT"}
	}
	if m == ModeImport && !force {
		var n int
		if subject == "" {
			subs, err := r.store.Subjects(ctx, false)
			if err != nil {
				return "", storeErr(err)
			}
			n = len(subs)
		} else {
			vs, err := r.store.Versions(ctx, subject, false)
			if err != nil {
				return "", storeErr(err)
			}
			n = len(vs)
		}
		if n > 0 {
			return "", notPermitted("Cannot import since found existing subjects")
		}
	}
	if err := r.store.PutSetting(ctx, store.SettingMode, subject, m); err != nil {
		return "", storeErr(err)
	}
	return m, nil
}

// DeleteMode removes the mode of subject and returns the one it had.
func (r *Registry) DeleteMode(ctx context.Context, subject string) (string, error) {
	old, err := r.Mode(ctx, subject, false)
	if err != nil {
		return "", err
	}
	if err := r.store.DeleteSetting(ctx, store.SettingMode, subject); err != nil && !errors.Is(err, store.ErrNotFound) {
		return "", storeErr(err)
	}
	return old, nil
}

// ---- deletes ----------------------------------------------------------------

func (r *Registry) checkWritable(ctx context.Context, subject string) error {
	mode, err := r.effective(ctx, store.SettingMode, subject, ModeReadWrite)
	if err != nil {
		return err
	}
	if mode == ModeReadOnly {
		return notPermitted(fmt.Sprintf("Subject %s is in read-only mode", subject))
	}
	return nil
}

func (r *Registry) checkNotReferenced(ctx context.Context, subject string, version int) error {
	ids, err := r.store.ReferencedBy(ctx, subject, version)
	if err != nil {
		return storeErr(err)
	}
	if len(ids) > 0 {
		return &Error{Code: ErrReferenceExists.Code, Message: fmt.Sprintf(
			"One or more references exist to the schema {magic=1,keytype=SCHEMA,subject=%s,version=%d}.", subject, version)}
	}
	return nil
}

// DeleteSubject soft-deletes every live version of subject, or, with
// permanent, removes a subject that was soft-deleted first. It returns
// the versions deleted.
func (r *Registry) DeleteSubject(ctx context.Context, subject string, permanent bool) ([]int, error) {
	if err := r.checkWritable(ctx, subject); err != nil {
		return nil, err
	}
	all, err := r.store.Versions(ctx, subject, true)
	if err != nil {
		return nil, storeErr(err)
	}
	if len(all) == 0 {
		return nil, subjectNotFound(subject)
	}
	live := 0
	for _, sv := range all {
		if !sv.Deleted {
			live++
		}
	}
	switch {
	case !permanent && live == 0:
		return nil, &Error{Code: ErrSubjectSoftDeleted.Code, Message: fmt.Sprintf(
			"Subject '%s' was soft deleted.Set permanent=true to delete permanently", subject)}
	case permanent && live > 0:
		return nil, &Error{Code: ErrSubjectNotSoftDeleted.Code, Message: fmt.Sprintf(
			"Subject '%s' was not deleted first before being permanently deleted", subject)}
	}
	for _, sv := range all {
		if err := r.checkNotReferenced(ctx, subject, sv.Version); err != nil {
			return nil, err
		}
	}
	vs, err := r.store.DeleteSubject(ctx, subject, permanent)
	if err != nil {
		return nil, storeErr(err)
	}
	return vs, nil
}

// DeleteVersion soft-deletes version v of subject (-1: the latest live
// one), or, with permanent, removes a version soft-deleted first.
func (r *Registry) DeleteVersion(ctx context.Context, subject string, v int, permanent bool) (int, error) {
	if err := r.checkWritable(ctx, subject); err != nil {
		return 0, err
	}
	all, err := r.store.Versions(ctx, subject, true)
	if err != nil {
		return 0, storeErr(err)
	}
	if len(all) == 0 {
		return 0, subjectNotFound(subject)
	}
	var sv *store.SubjectVersion
	for i := len(all) - 1; i >= 0; i-- {
		if (v == -1 && (permanent || !all[i].Deleted)) || all[i].Version == v {
			sv = &all[i]
			break
		}
	}
	if sv == nil {
		if v == -1 {
			return 0, subjectNotFound(subject)
		}
		return 0, versionNotFound(v)
	}
	switch {
	case !permanent && sv.Deleted:
		return 0, &Error{Code: ErrVersionSoftDeleted.Code, Message: fmt.Sprintf(
			"Subject '%s' Version %d was soft deleted.Set permanent=true to delete permanently", subject, sv.Version)}
	case permanent && !sv.Deleted:
		return 0, &Error{Code: ErrVersionNotSoftDeleted.Code, Message: fmt.Sprintf(
			"Subject '%s' Version %d was not deleted first before being permanently deleted", subject, sv.Version)}
	}
	if err := r.checkNotReferenced(ctx, subject, sv.Version); err != nil {
		return 0, err
	}
	if err := r.store.DeleteVersion(ctx, subject, sv.Version, permanent); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return 0, versionNotFound(sv.Version)
		}
		return 0, storeErr(err)
	}
	return sv.Version, nil
}

// ---- listings -----------------------------------------------------------------

// ListSubjects lists subjects starting with prefix; soft-deleted ones
// too when deleted.
func (r *Registry) ListSubjects(ctx context.Context, prefix string, deleted bool) ([]string, error) {
	subs, err := r.store.Subjects(ctx, deleted)
	if err != nil {
		return nil, storeErr(fmt.Errorf("list subjects: %w", err))
	}
	out := []string{}
	for _, s := range subs {
		if strings.HasPrefix(s, prefix) {
			out = append(out, s)
		}
	}
	return out, nil
}

// subjectVersions returns the versions of subject (soft-deleted ones too
// when deleted), or 40401 when there are none.
func (r *Registry) subjectVersions(ctx context.Context, subject string, deleted bool) ([]store.SubjectVersion, error) {
	svs, err := r.store.Versions(ctx, subject, deleted)
	if err != nil {
		return nil, storeErr(fmt.Errorf("versions of %q: %w", subject, err))
	}
	if len(svs) == 0 {
		return nil, subjectNotFound(subject)
	}
	return svs, nil
}

// VersionOf is Version that can also return a soft-deleted version.
func (r *Registry) VersionOf(ctx context.Context, subject string, v int, deleted bool) (SubjectSchema, error) {
	if !deleted {
		return r.Version(ctx, subject, v)
	}
	svs, err := r.subjectVersions(ctx, subject, true)
	if err != nil {
		return SubjectSchema{}, err
	}
	sv := svs[len(svs)-1]
	if v != -1 {
		i := slices.IndexFunc(svs, func(x store.SubjectVersion) bool { return x.Version == v })
		if i < 0 {
			return SubjectSchema{}, versionNotFound(v)
		}
		sv = svs[i]
	}
	s, err := r.SchemaByID(ctx, sv.SchemaID)
	if err != nil {
		return SubjectSchema{}, err
	}
	return subjectSchema(subject, sv, s), nil
}

// AllSchemas returns every version (soft-deleted ones too when deleted;
// only each subject's latest when latestOnly) of the subjects starting
// with prefix, by subject then version.
func (r *Registry) AllSchemas(ctx context.Context, prefix string, deleted, latestOnly bool) ([]SubjectSchema, error) {
	subjects, err := r.ListSubjects(ctx, prefix, deleted)
	if err != nil {
		return nil, err
	}
	var out []SubjectSchema
	for _, subject := range subjects {
		svs, err := r.store.Versions(ctx, subject, deleted)
		if err != nil {
			return nil, storeErr(fmt.Errorf("versions of %q: %w", subject, err))
		}
		if latestOnly && len(svs) > 0 {
			svs = svs[len(svs)-1:]
		}
		for _, sv := range svs {
			s, err := r.SchemaByID(ctx, sv.SchemaID)
			if err != nil {
				return nil, err
			}
			out = append(out, subjectSchema(subject, sv, s))
		}
	}
	return out, nil
}

// LatestWithMetadata returns the newest version of subject (soft-deleted
// ones too when deleted) whose schema's metadata properties include every
// one of props; 40401 for an unknown subject, 40403 when none matches.
func (r *Registry) LatestWithMetadata(ctx context.Context, subject string, props map[string]string, deleted bool) (SubjectSchema, error) {
	svs, err := r.subjectVersions(ctx, subject, deleted)
	if err != nil {
		return SubjectSchema{}, err
	}
	for i := len(svs) - 1; i >= 0; i-- {
		s, err := r.SchemaByID(ctx, svs[i].SchemaID)
		if err != nil {
			return SubjectSchema{}, err
		}
		var md contractMetadata
		if s.Metadata != "" {
			if err := json.Unmarshal([]byte(s.Metadata), &md); err != nil {
				return SubjectSchema{}, storeErr(fmt.Errorf("metadata of schema %d: %w", s.ID, err))
			}
		}
		ok := true
		for k, v := range props {
			if have, found := md.Properties[k]; !found || have != v {
				ok = false
				break
			}
		}
		if ok {
			return subjectSchema(subject, svs[i], s), nil
		}
	}
	want := make([]string, 0, len(props))
	for k, v := range props {
		want = append(want, k+"="+v)
	}
	slices.Sort(want)
	return SubjectSchema{}, &Error{Code: ErrSchemaNotFound.Code,
		Message: fmt.Sprintf("Subject '%s' has no schema whose metadata has the properties %s", subject, strings.Join(want, ", "))}
}

// ReferencedBy returns the ids of live schemas that reference version v
// of subject.
func (r *Registry) ReferencedBy(ctx context.Context, subject string, v int) ([]int, error) {
	s, err := r.Version(ctx, subject, v)
	if err != nil {
		return nil, err
	}
	ids, err := r.store.ReferencedBy(ctx, subject, s.Version)
	if err != nil {
		return nil, storeErr(err)
	}
	return ids, nil
}

// SchemaUses lists the subject versions that use schema id (soft-deleted
// ones too when deleted); 40403 for an unknown id.
func (r *Registry) SchemaUses(ctx context.Context, id int, deleted bool) ([]store.SubjectVersion, error) {
	if _, err := r.SchemaByID(ctx, id); err != nil {
		return nil, err
	}
	svs, err := r.store.SchemaVersions(ctx, id, deleted)
	if err != nil {
		return nil, storeErr(err)
	}
	return svs, nil
}
