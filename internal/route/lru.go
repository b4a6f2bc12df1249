package route

// lru is a map of at most capacity entries that, when full, drops the
// entry used least recently. Its entries live in one slice linked by
// index (no allocation per entry once grown, no pointers for the GC to
// follow), so the privacy policy's memory is the map and that slice. Not
// safe for concurrent use.
type lru[K comparable, V any] struct {
	capacity int
	index    map[K]int32
	nodes    []lruNode[K, V] // nodes[0] is the list's sentinel: next is the newest, prev the oldest
}

type lruNode[K comparable, V any] struct {
	key        K
	val        V
	prev, next int32
}

// newLRU returns an empty lru of capacity (at least 1) entries.
func newLRU[K comparable, V any](capacity int) *lru[K, V] {
	capacity = max(capacity, 1)
	return &lru[K, V]{capacity: capacity, index: make(map[K]int32), nodes: make([]lruNode[K, V], 1, min(capacity, 64)+1)}
}

// len returns the number of entries.
func (l *lru[K, V]) len() int { return len(l.index) }

// get returns k's value and marks it used.
func (l *lru[K, V]) get(k K) (V, bool) {
	i, ok := l.index[k]
	if !ok {
		var zero V
		return zero, false
	}
	l.toFront(i)
	return l.nodes[i].val, true
}

// peek returns k's value without marking it used.
func (l *lru[K, V]) peek(k K) (V, bool) {
	i, ok := l.index[k]
	if !ok {
		var zero V
		return zero, false
	}
	return l.nodes[i].val, true
}

// put sets k's value and marks it used. When a new key found the lru full,
// the least recently used entry made room: it is returned, with evicted.
func (l *lru[K, V]) put(k K, v V) (oldK K, oldV V, evicted bool) {
	if i, ok := l.index[k]; ok {
		l.nodes[i].val = v
		l.toFront(i)
		return oldK, oldV, false
	}
	var i int32
	if len(l.index) < l.capacity {
		l.nodes = append(l.nodes, lruNode[K, V]{})
		i = int32(len(l.nodes) - 1)
	} else {
		i = l.nodes[0].prev // the oldest
		oldK, oldV, evicted = l.nodes[i].key, l.nodes[i].val, true
		delete(l.index, oldK)
		l.unlink(i)
	}
	l.nodes[i].key, l.nodes[i].val = k, v
	l.index[k] = i
	l.linkFront(i)
	return oldK, oldV, evicted
}

func (l *lru[K, V]) toFront(i int32) {
	if l.nodes[0].next == i {
		return
	}
	l.unlink(i)
	l.linkFront(i)
}

func (l *lru[K, V]) unlink(i int32) {
	n := &l.nodes[i]
	l.nodes[n.prev].next = n.next
	l.nodes[n.next].prev = n.prev
}

func (l *lru[K, V]) linkFront(i int32) {
	head := l.nodes[0].next
	l.nodes[i].prev, l.nodes[i].next = 0, head
	l.nodes[head].prev = i
	l.nodes[0].next = i
}
