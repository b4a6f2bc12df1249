package subscribe

import (
	"sync"
	"testing"
)

// TestPendingFollowsTheSources: the pending sources are followed as they
// are now while clients subscribe: a source that appears gets a feed, one
// that goes has its feed stopped (its node filter removed, its hashes no
// longer sent), and the one that stays keeps its feed (its filter is not
// made again).
func TestPendingFollowsTheSources(t *testing.T) {
	a, b := newFilterNode(), newFilterNode()
	var mu sync.Mutex
	now := []PendingSource{{Name: "a", Poll: a}}
	set := func(srcs ...PendingSource) {
		mu.Lock()
		defer mu.Unlock()
		now = srcs
	}
	h := startPendingHub(t, func() []PendingSource {
		mu.Lock()
		defer mu.Unlock()
		return now
	})
	var got collector
	if _, err := h.Subscribe(KindPending, nil, got.sink); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a's filter", func() bool { return a.filterCount() == 1 })
	a.pool(txHash(1))
	got.wait(t, 1)

	made := a.made()
	set(PendingSource{Name: "a", Poll: a}, PendingSource{Name: "b", Poll: b})
	waitFor(t, "b's filter once b appears", func() bool { return b.filterCount() == 1 })
	b.pool(txHash(2))
	got.wait(t, 2)

	set(PendingSource{Name: "b", Poll: b})
	waitFor(t, "a's filter removed once a goes", func() bool { return a.filterCount() == 0 })
	a.pool(txHash(3)) // no filter of a's left to see it
	b.pool(txHash(4))
	waitFor(t, "b's hash after a went", func() bool { return counts(t, got.all())[txHash(4)] == 1 })
	m := counts(t, got.all())
	if m[txHash(3)] != 0 || len(m) != 3 {
		t.Errorf("notifications %v, want hashes 1, 2 and 4 only", m)
	}
	if a.made() != made {
		t.Errorf("a's filter was made %d times while b came, want it kept", a.made()-made)
	}
}
