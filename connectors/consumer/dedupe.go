package consumer

import (
	"container/list"
	"sync"
)

// DefaultDedupeWindow is how many recent (ce_source, ce_id) pairs a consumer
// remembers when Config.DedupeWindow is zero.
const DefaultDedupeWindow = 100000

// dedupeKey identifies an event: the bus keeps ce_id deterministic per
// (source, position), so a re-published record keeps its pair.
type dedupeKey struct{ source, id string }

// lru remembers the most recent n keys.
type lru struct {
	mu    sync.Mutex
	n     int
	order *list.List // front = most recent
	items map[dedupeKey]*list.Element
}

func newLRU(n int) *lru {
	return &lru{n: n, order: list.New(), items: make(map[dedupeKey]*list.Element, min(n, 1024))}
}

// seen reports whether k is remembered, refreshing it if so.
func (l *lru) seen(k dedupeKey) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if e, ok := l.items[k]; ok {
		l.order.MoveToFront(e)
		return true
	}
	return false
}

// add remembers k, forgetting the oldest key beyond the window.
func (l *lru) add(k dedupeKey) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if e, ok := l.items[k]; ok {
		l.order.MoveToFront(e)
		return
	}
	l.items[k] = l.order.PushFront(k)
	for l.order.Len() > l.n {
		old := l.order.Back()
		l.order.Remove(old)
		delete(l.items, old.Value.(dedupeKey))
	}
}

func (l *lru) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.order.Len()
}
