package registry

import (
	"context"
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

// RegisterRequest is a schema to register (or to check or look up) with
// its references; ID and Version are for IMPORT mode only.
type RegisterRequest struct {
	Schema     string
	SchemaType string
	References []store.Reference
	ID         int
	Version    int
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
	refs, deps, err := r.resolveRefs(ctx, req.References)
	if err != nil {
		return 0, 0, err
	}
	p, err := prepareRefs(req.SchemaType, req.Schema, deps)
	if err != nil {
		return 0, 0, err
	}
	defer r.lockSubject(subject)()
	if mode == ModeImport {
		return r.importSchema(ctx, subject, req, p, refs)
	}
	live, err := r.store.Versions(ctx, subject, false)
	if err != nil {
		return 0, 0, storeErr(fmt.Errorf("versions of %q: %w", subject, err))
	}
	if sv, ok, err := r.findSchema(ctx, live, p, refs); err != nil || ok {
		return sv.SchemaID, sv.Version, err
	}
	lvlName, err := r.effective(ctx, store.SettingCompatibility, subject, DefaultCompatibility)
	if err != nil {
		return 0, 0, err
	}
	lvl, ok := parseLevel(lvlName)
	if !ok {
		lvl, _ = parseLevel(DefaultCompatibility)
	}
	cand, err := compile(p, deps)
	if err != nil {
		return 0, 0, err
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
	id, _, err = r.store.PutSchemaRefs(ctx, p.typ, p.text, refs)
	if errors.Is(err, store.ErrConflict) {
		return 0, 0, invalidSchema(errors.New("the same schema text is already registered with other references"))
	}
	if err != nil {
		return 0, 0, storeErr(fmt.Errorf("put schema: %w", err))
	}
	r.remember(id, p, refs)
	sv, err := r.store.AddVersion(ctx, subject, id)
	if err != nil {
		return 0, 0, storeErr(fmt.Errorf("add version of %q: %w", subject, err))
	}
	return id, sv.Version, nil
}

func (r *Registry) remember(id int, p prepared, refs []store.Reference) {
	// The parse was needed for validation anyway; keep it for the first
	// LookupAvro / LookupJSON.
	r.schemas.LoadOrStore(id, store.Schema{ID: id, Type: p.typ, Text: p.text})
	r.parsed.LoadOrStore(id, p.parsed)
	r.refs.LoadOrStore(id, refs)
}

func (r *Registry) importSchema(ctx context.Context, subject string, req RegisterRequest, p prepared, refs []store.Reference) (int, int, error) {
	err := r.store.PutSchemaWithID(ctx, req.ID, p.typ, p.text, refs)
	if errors.Is(err, store.ErrConflict) {
		return 0, 0, &Error{Code: ErrIDDoesNotMatch.Code,
			Message: fmt.Sprintf("Overwrite new schema with id %d is not permitted.", req.ID)}
	}
	if err != nil {
		return 0, 0, storeErr(fmt.Errorf("put schema %d: %w", req.ID, err))
	}
	r.remember(req.ID, p, refs)
	v := req.Version
	if v <= 0 {
		all, err := r.store.Versions(ctx, subject, true)
		if err != nil {
			return 0, 0, storeErr(err)
		}
		v = 1
		if len(all) > 0 {
			v = all[len(all)-1].Version + 1
		}
	}
	sv, err := r.store.AddVersionAt(ctx, subject, v, req.ID)
	if errors.Is(err, store.ErrConflict) {
		return 0, 0, notPermitted(fmt.Sprintf("Version %d of subject %s is already taken by another schema", v, subject))
	}
	if err != nil {
		return 0, 0, storeErr(fmt.Errorf("add version %d of %q: %w", v, subject, err))
	}
	return req.ID, sv.Version, nil
}

func notPermitted(msg string) error {
	return &Error{Code: ErrOperationNotPermitted.Code, Message: msg}
}

// findSchema returns the newest of svs whose schema is p with refs.
func (r *Registry) findSchema(ctx context.Context, svs []store.SubjectVersion, p prepared, refs []store.Reference) (store.SubjectVersion, bool, error) {
	for i := len(svs) - 1; i >= 0; i-- {
		s, err := r.SchemaByID(ctx, svs[i].SchemaID)
		if err != nil {
			return store.SubjectVersion{}, false, err
		}
		if s.Type != p.typ || s.Text != p.text {
			continue
		}
		have, err := r.SchemaRefs(ctx, s.ID)
		if err != nil {
			return store.SubjectVersion{}, false, err
		}
		if len(have) == len(refs) && (len(refs) == 0 || slices.Equal(have, refs)) {
			return svs[i], true, nil
		}
	}
	return store.SubjectVersion{}, false, nil
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
	_, deps, err := r.resolveRefs(ctx, req.References)
	if err != nil {
		return false, nil, err
	}
	p, err := prepareRefs(req.SchemaType, req.Schema, deps)
	if err != nil {
		return false, nil, err
	}
	cand, err := compile(p, deps)
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
