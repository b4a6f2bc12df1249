package route

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/config"
	"github.com/rpcmesh/rpcmesh/internal/fakenode"
)

// servedRecorder is a recorder that also keeps the answers routing handed
// back (ServedObserver), per provider.
type servedRecorder struct {
	*recorder
	mu     sync.Mutex
	served map[string]int
}

func (s *servedRecorder) Served(_, provider, _ string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.served[provider]++
}

func (s *servedRecorder) of(provider string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.served[provider]
}

func (s *servedRecorder) total() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.served {
		n += c
	}
	return n
}

// TestServedCountsOnlyUsedAnswers: with hedges racing, every call's answer
// is reported served once, by the provider that gave it, and the hedge
// losers' answers (successful attempts too) are not; batch items and
// Call's answers are served once each.
func TestServedCountsOnlyUsedAnswers(t *testing.T) {
	routing := testRouting()
	routing.ExplorationShare = 0.5
	routing.HedgeMinDelay = config.Duration(5 * time.Millisecond)
	routing.HedgeMaxDelay = config.Duration(10 * time.Millisecond)
	n := startNet(t, routing,
		nodeSpec{name: "slow", operator: "alice", tier: "own", weight: 1e6},
		nodeSpec{name: "fast", operator: "bob", tier: "own", weight: 1e-6},
	)
	obs := &servedRecorder{recorder: newRecorder(), served: map[string]int{}}
	n.router.obs, n.router.served = obs, servedObserver(obs)
	if n.router.served == nil {
		t.Fatal("a ServedObserver was not recognised")
	}
	n.nodes["slow"].SetFault(fakenode.Fault{Delay: 30 * time.Millisecond, OnlyMethod: "eth_gasPrice"})
	answeredBy := map[string]int{}
	launched := 0
	const calls = 40
	for range calls {
		res, err := n.router.Do(context.Background(), read("eth_gasPrice"))
		if err != nil {
			t.Fatal(err)
		}
		answeredBy[res.Provider]++
		launched += res.Attempts
	}
	if launched == calls {
		t.Fatal("no call was hedged: the test proves nothing")
	}
	obs.await(t, "", "ok", launched) // every attempt, losers included, succeeded
	for name := range n.nodes {
		if got := obs.of(name); got != answeredBy[name] {
			t.Errorf("%s: %d answers reported served, %d calls answered by it", name, got, answeredBy[name])
		}
	}

	before := obs.total()
	reqs := []*Request{read("eth_blockNumber"), read("eth_chainId"), read("eth_blockNumber")}
	runDoBatch(t, n.router, 0, reqs...)
	if got := obs.total() - before; got != len(reqs) {
		t.Errorf("a batch of %d calls reported %d served answers", len(reqs), got)
	}
	before = obs.total()
	if _, err := n.router.Call(context.Background(), n.provider("fast"), read("eth_blockNumber")); err != nil {
		t.Fatal(err)
	}
	if got := obs.total() - before; got != 1 {
		t.Errorf("Call reported %d served answers, want 1", got)
	}
}
