package registry

import (
	"context"
	"sort"
	"sync"

	"github.com/lgsp-bus/lgsp/broker/store"
)

// memStore is a TEST FAKE of store.SchemaStore, kept in memory so these
// tests do not depend on a real backend. It follows the SchemaStore
// contract as documented in broker/store; the real backends are checked by
// broker/store/storetest, not here. Setting fail makes every call fail, to
// exercise the registry's store-error path.
type memStore struct {
	mu       sync.Mutex
	fail     error
	schemas  []store.Schema // id = index + 1
	byText   map[[2]string]int
	subjects map[string][]store.SubjectVersion
	refs     map[int][]store.Reference
	settings map[[2]string]string
}

var _ store.SchemaStore = (*memStore)(nil)

func newMemStore() *memStore {
	return &memStore{byText: map[[2]string]int{}, subjects: map[string][]store.SubjectVersion{},
		refs: map[int][]store.Reference{}, settings: map[[2]string]string{}}
}

func (m *memStore) setFail(err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.fail = err
}

func (m *memStore) PutSchema(ctx context.Context, schemaType, text string) (int, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return 0, false, m.fail
	}
	k := [2]string{schemaType, text}
	if id, ok := m.byText[k]; ok {
		return id, false, nil
	}
	id := len(m.schemas) + 1
	m.schemas = append(m.schemas, store.Schema{ID: id, Type: schemaType, Text: text})
	m.byText[k] = id
	return id, true, nil
}

func (m *memStore) SchemaByID(ctx context.Context, id int) (store.Schema, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return store.Schema{}, m.fail
	}
	if id < 1 || id > len(m.schemas) || m.schemas[id-1].ID == 0 {
		return store.Schema{}, store.ErrNotFound
	}
	return m.schemas[id-1], nil
}

func (m *memStore) AddVersion(ctx context.Context, subject string, schemaID int) (store.SubjectVersion, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return store.SubjectVersion{}, m.fail
	}
	if schemaID < 1 || schemaID > len(m.schemas) || m.schemas[schemaID-1].ID == 0 {
		return store.SubjectVersion{}, store.ErrNotFound
	}
	vs := m.subjects[subject]
	next := 1
	for _, v := range vs {
		if v.SchemaID == schemaID && !v.Deleted {
			return v, nil
		}
		next = max(next, v.Version+1)
	}
	sv := store.SubjectVersion{Subject: subject, Version: next, SchemaID: schemaID}
	m.subjects[subject] = append(vs, sv)
	return sv, nil
}

func (m *memStore) Versions(ctx context.Context, subject string, includeDeleted bool) ([]store.SubjectVersion, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return nil, m.fail
	}
	var out []store.SubjectVersion
	for _, v := range m.subjects[subject] {
		if includeDeleted || !v.Deleted {
			out = append(out, v)
		}
	}
	return out, nil
}

func (m *memStore) Subjects(ctx context.Context, includeDeleted bool) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return nil, m.fail
	}
	var out []string
	for s, vs := range m.subjects {
		for _, v := range vs {
			if includeDeleted || !v.Deleted {
				out = append(out, s)
				break
			}
		}
	}
	sort.Strings(out)
	return out, nil
}
