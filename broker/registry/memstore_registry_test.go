package registry

import (
	"context"
	"slices"

	"github.com/lgsp-bus/lgsp/broker/store"
)

// The registry extension of the memStore test fake; see
// registry_memstore_test.go.

func (m *memStore) References(ctx context.Context, id int) ([]store.Reference, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return nil, m.fail
	}
	return slices.Clone(m.refs[id]), nil
}

func (m *memStore) PutSchemaRefs(ctx context.Context, schemaType, text string, refs []store.Reference) (int, bool, error) {
	m.mu.Lock()
	if m.fail != nil {
		m.mu.Unlock()
		return 0, false, m.fail
	}
	if id, ok := m.byText[[2]string{schemaType, text}]; ok {
		same := len(m.refs[id]) == len(refs) && (len(refs) == 0 || slices.Equal(m.refs[id], refs))
		m.mu.Unlock()
		if !same {
			return 0, false, store.ErrConflict
		}
		return id, false, nil
	}
	m.mu.Unlock()
	id, created, err := m.PutSchema(ctx, schemaType, text)
	if err == nil && len(refs) > 0 {
		m.mu.Lock()
		m.refs[id] = slices.Clone(refs)
		m.mu.Unlock()
	}
	return id, created, err
}

func (m *memStore) PutSchemaWithID(ctx context.Context, id int, schemaType, text string, refs []store.Reference) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return m.fail
	}
	k := [2]string{schemaType, text}
	if id <= len(m.schemas) && m.schemas[id-1].ID != 0 {
		if m.schemas[id-1].Type != schemaType || m.schemas[id-1].Text != text {
			return store.ErrConflict
		}
		return nil
	}
	if _, ok := m.byText[k]; ok {
		return store.ErrConflict
	}
	for len(m.schemas) < id {
		m.schemas = append(m.schemas, store.Schema{})
	}
	m.schemas[id-1] = store.Schema{ID: id, Type: schemaType, Text: text}
	m.byText[k] = id
	if len(refs) > 0 {
		m.refs[id] = slices.Clone(refs)
	}
	return nil
}

func (m *memStore) AddVersionAt(ctx context.Context, subject string, version, schemaID int) (store.SubjectVersion, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return store.SubjectVersion{}, m.fail
	}
	for _, v := range m.subjects[subject] {
		if v.Version == version {
			if v.SchemaID != schemaID {
				return store.SubjectVersion{}, store.ErrConflict
			}
			return v, nil
		}
	}
	if schemaID < 1 || schemaID > len(m.schemas) || m.schemas[schemaID-1].ID == 0 {
		return store.SubjectVersion{}, store.ErrNotFound
	}
	sv := store.SubjectVersion{Subject: subject, Version: version, SchemaID: schemaID}
	vs := append(m.subjects[subject], sv)
	slices.SortFunc(vs, func(a, b store.SubjectVersion) int { return a.Version - b.Version })
	m.subjects[subject] = vs
	return sv, nil
}

func (m *memStore) DeleteVersion(ctx context.Context, subject string, version int, permanent bool) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return m.fail
	}
	vs := m.subjects[subject]
	i := slices.IndexFunc(vs, func(v store.SubjectVersion) bool { return v.Version == version })
	if i < 0 || (vs[i].Deleted && !permanent) {
		return store.ErrNotFound
	}
	if !permanent {
		vs[i].Deleted = true
		return nil
	}
	if !vs[i].Deleted {
		return store.ErrConflict
	}
	m.subjects[subject] = slices.Delete(vs, i, i+1)
	return nil
}

func (m *memStore) DeleteSubject(ctx context.Context, subject string, permanent bool) ([]int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return nil, m.fail
	}
	var out []int
	for i, v := range m.subjects[subject] {
		if permanent && !v.Deleted {
			return nil, store.ErrConflict
		}
		if permanent || !v.Deleted {
			out = append(out, v.Version)
			m.subjects[subject][i].Deleted = true
		}
	}
	if len(out) == 0 {
		return nil, store.ErrNotFound
	}
	if permanent {
		delete(m.subjects, subject)
		for k := range m.settings {
			if k[1] == subject {
				delete(m.settings, k)
			}
		}
	}
	return out, nil
}

func (m *memStore) SchemaVersions(ctx context.Context, id int, includeDeleted bool) ([]store.SubjectVersion, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return nil, m.fail
	}
	out := []store.SubjectVersion{}
	for _, s := range sortedKeys(m.subjects) {
		for _, v := range m.subjects[s] {
			if v.SchemaID == id && (includeDeleted || !v.Deleted) {
				out = append(out, v)
			}
		}
	}
	return out, nil
}

func (m *memStore) ReferencedBy(ctx context.Context, subject string, version int) ([]int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return nil, m.fail
	}
	out := []int{}
	for id, refs := range m.refs {
		if !slices.ContainsFunc(refs, func(r store.Reference) bool { return r.Subject == subject && r.Version == version }) {
			continue
		}
		live := false
		for _, vs := range m.subjects {
			for _, v := range vs {
				live = live || (v.SchemaID == id && !v.Deleted)
			}
		}
		if live {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out, nil
}

func (m *memStore) GetSetting(ctx context.Context, setting store.Setting, subject string) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return "", m.fail
	}
	v, ok := m.settings[[2]string{string(setting), subject}]
	if !ok {
		return "", store.ErrNotFound
	}
	return v, nil
}

func (m *memStore) PutSetting(ctx context.Context, setting store.Setting, subject, value string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return m.fail
	}
	m.settings[[2]string{string(setting), subject}] = value
	return nil
}

func (m *memStore) DeleteSetting(ctx context.Context, setting store.Setting, subject string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return m.fail
	}
	k := [2]string{string(setting), subject}
	if _, ok := m.settings[k]; !ok {
		return store.ErrNotFound
	}
	delete(m.settings, k)
	return nil
}

// RegisterVersion follows the store.SchemaStore contract under the one
// mutex, so it is as atomic as a backend's transaction.
func (m *memStore) RegisterVersion(ctx context.Context, reg store.Registration) (store.SubjectVersion, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return store.SubjectVersion{}, m.fail
	}
	sc := reg.Schema
	id, found := m.byText[[2]string{sc.Type, sc.Text}]
	if found {
		have := m.schemas[id-1]
		if !slices.Equal(m.refs[id], reg.References) && (len(m.refs[id]) > 0 || len(reg.References) > 0) ||
			sc.Metadata != "" && sc.Metadata != have.Metadata || sc.RuleSet != "" && sc.RuleSet != have.RuleSet {
			return store.SubjectVersion{}, store.ErrConflict
		}
	}
	store1 := func(id int) {
		for len(m.schemas) < id {
			m.schemas = append(m.schemas, store.Schema{})
		}
		m.schemas[id-1] = store.Schema{ID: id, Type: sc.Type, Text: sc.Text, Metadata: sc.Metadata, RuleSet: sc.RuleSet}
		m.byText[[2]string{sc.Type, sc.Text}] = id
		if len(reg.References) > 0 {
			m.refs[id] = slices.Clone(reg.References)
		}
	}
	vs := m.subjects[reg.Subject]
	next := 1
	for _, v := range vs {
		next = max(next, v.Version+1)
	}
	if sc.ID > 0 {
		if found && id != sc.ID || !found && sc.ID <= len(m.schemas) && m.schemas[sc.ID-1].ID != 0 {
			return store.SubjectVersion{}, store.ErrConflict
		}
		v := reg.Version
		if v <= 0 {
			v = next
		}
		if i := slices.IndexFunc(vs, func(x store.SubjectVersion) bool { return x.Version == v }); i >= 0 {
			if vs[i].SchemaID != sc.ID {
				return store.SubjectVersion{}, store.ErrConflict
			}
			return vs[i], nil
		}
		if !found {
			store1(sc.ID)
		}
		sv := store.SubjectVersion{Subject: reg.Subject, Version: v, SchemaID: sc.ID}
		vs = append(vs, sv)
		slices.SortFunc(vs, func(a, b store.SubjectVersion) int { return a.Version - b.Version })
		m.subjects[reg.Subject] = vs
		return sv, nil
	}
	var live []store.SubjectVersion
	for _, v := range vs {
		if !v.Deleted {
			if found && v.SchemaID == id {
				return v, nil
			}
			live = append(live, v)
		}
	}
	if !slices.EqualFunc(live, reg.Live, func(a, b store.SubjectVersion) bool {
		return a.Version == b.Version && a.SchemaID == b.SchemaID
	}) {
		return store.SubjectVersion{}, store.ErrStale
	}
	if !found {
		id = len(m.schemas) + 1
		store1(id)
	}
	sv := store.SubjectVersion{Subject: reg.Subject, Version: next, SchemaID: id}
	m.subjects[reg.Subject] = append(vs, sv)
	return sv, nil
}
