package route

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/config"
	"github.com/rpcmesh/rpcmesh/internal/ethmethod"
	"github.com/rpcmesh/rpcmesh/internal/fakenode"
	"github.com/rpcmesh/rpcmesh/internal/head"
	"github.com/rpcmesh/rpcmesh/internal/testwait"
	"github.com/rpcmesh/rpcmesh/internal/upstream"
)

// nodeSpec is one fake provider of a test chain.
type nodeSpec struct {
	name, operator, cloud, tier string
	weight                      float64
	archive                     uint64
}

type testNet struct {
	chain  *fakenode.Chain
	nodes  map[string]*fakenode.Node
	router *Router
	head   *head.Tracker
}

func testRouting() config.Routing {
	return config.Routing{
		ShareWindow:      config.Duration(time.Minute),
		Retries:          2,
		RetryBackoff:     config.Duration(5 * time.Millisecond),
		Hedge:            true,
		HedgeQuantile:    0.9,
		HedgeMinDelay:    config.Duration(20 * time.Millisecond),
		HedgeMaxDelay:    config.Duration(300 * time.Millisecond),
		ExplorationShare: 0.05,
	}
}

func startNet(t *testing.T, routing config.Routing, specs ...nodeSpec) *testNet {
	t.Helper()
	return startNetWith(t, routing, testHealth(), specs...)
}

func testHealth() config.Health {
	return config.Health{
		PollInterval:    config.Duration(20 * time.Millisecond),
		ChainIDInterval: config.Duration(100 * time.Millisecond),
		MaxLagBlocks:    3,
		BreakerFailures: 3,
		BreakerCooldown: config.Duration(100 * time.Millisecond),
		ProbeInterval:   config.Duration(50 * time.Millisecond),
		EWMAHalfLife:    config.Duration(5 * time.Second),
		ProviderTimeout: config.Duration(2 * time.Second),
	}
}

func startNetWith(t *testing.T, routing config.Routing, health config.Health, specs ...nodeSpec) *testNet {
	t.Helper()
	return startNetAt(t, routing, health, nil, specs...)
}

// startNetAt is startNetWith with the providers' URLs from url (nil: a
// fake node per spec).
func startNetAt(t *testing.T, routing config.Routing, health config.Health, url func(name string) string, specs ...nodeSpec) *testNet {
	t.Helper()
	n := &testNet{chain: fakenode.NewChain(1337, 1000), nodes: map[string]*fakenode.Node{}}
	n.head = head.NewTracker(2, 64, nil)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var providers []*upstream.Provider
	for _, s := range specs {
		var u string
		if url != nil {
			u = url(s.name)
		} else {
			node := fakenode.Start(s.name, n.chain)
			n.nodes[s.name] = node
			u = node.URL()
		}
		p := upstream.New(upstream.Options{
			Chain: "test", ChainID: 1337, Health: health,
			Provider: config.Provider{Name: s.name, HTTP: u, Weight: s.weight, ArchiveDepth: s.archive,
				Labels: config.Labels{Operator: s.operator, Cloud: s.cloud, Tier: s.tier}},
			OnHead: func(p *upstream.Provider, b head.Block) { n.head.Observe(p.Name(), p.Labels().Operator, b) },
		})
		providers = append(providers, p)
		wg.Add(1)
		go func() { defer wg.Done(); p.Run(ctx) }()
	}
	n.router = New(Options{Chain: "test", Routing: routing, MaxLagBlocks: 3, ProviderTimeout: 2 * time.Second,
		Providers: providers, Head: n.head})
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		for _, node := range n.nodes {
			node.Close()
		}
	})
	waitFor(t, "every provider checked and a head agreed", func() bool {
		for _, p := range providers {
			if p.Snapshot(time.Now()).State != upstream.StateOK {
				return false
			}
		}
		_, agreed := n.head.Latest()
		return agreed
	})
	return n
}

// waitFor polls cond until it holds, failing the test after 10 s.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	testwait.For(t, 10*time.Second, what, cond)
}

// provider returns the router's provider named name.
func (n *testNet) provider(name string) *upstream.Provider {
	for _, p := range n.router.Providers() {
		if p.Name() == name {
			return p
		}
	}
	panic("no provider " + name)
}

// settled reports whether the named providers serve their share as any
// healthy provider does: checked, not degraded, past any warm-up.
func (n *testNet) settled(names ...string) bool {
	for _, name := range names {
		s := n.provider(name).Snapshot(time.Now())
		if s.State != upstream.StateOK || s.Degraded || s.Warmup < 1 {
			return false
		}
	}
	return true
}

// seenBehind reports whether the provider named name was seen at least
// lag blocks behind the chain's head.
func (n *testNet) seenBehind(name string, lag uint64) bool {
	return n.provider(name).Snapshot(time.Now()).HeadNumber+lag <= n.chain.Head()
}

// setLag makes the node named name report a head lag blocks behind, and
// waits until routing has seen it behind from two head polls sent after
// the fault: a poll sent before it may land after it, and until then the
// provider looks at the head.
func (n *testNet) setLag(t *testing.T, name string, lag uint64) {
	t.Helper()
	node := n.nodes[name]
	node.SetFault(fakenode.Fault{Lag: lag})
	polls := node.Calls("eth_getBlockByNumber")
	waitFor(t, name+" seen behind by two polls sent after its fault", func() bool {
		return node.Calls("eth_getBlockByNumber") >= polls+2 && n.seenBehind(name, lag)
	})
}

func read(method string) *Request {
	return &Request{Method: method, Info: ethmethod.Lookup(method)}
}

// run sends count reads and returns how many failed.
func (n *testNet) run(t *testing.T, count int, method string) int {
	t.Helper()
	failed := 0
	for i := 0; i < count; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		if _, err := n.router.Do(ctx, read(method)); err != nil {
			failed++
			t.Logf("read %d failed: %v", i, err)
		}
		cancel()
	}
	return failed
}

func (n *testNet) resetCalls() {
	for _, node := range n.nodes {
		node.ResetCalls()
	}
}

func threeOperators() []nodeSpec {
	return []nodeSpec{
		{name: "a", operator: "alice", cloud: "aws", tier: "own"},
		{name: "b", operator: "bob", cloud: "gcp", tier: "own"},
		{name: "c", operator: "carol", cloud: "hetzner", tier: "own"},
	}
}

// observed is one attempt as the router reported it.
type observed struct{ provider, outcome string }

// recorder is an Observer that keeps every attempt reported, in order.
type recorder struct {
	mu       sync.Mutex
	attempts []observed
	changed  chan struct{} // closed and replaced on every report
}

func newRecorder() *recorder { return &recorder{changed: make(chan struct{})} }

func (r *recorder) Attempt(_, provider, _ string, _ time.Duration, outcome string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.attempts = append(r.attempts, observed{provider, outcome})
	close(r.changed)
	r.changed = make(chan struct{})
}
func (r *recorder) Retry(string, string) {}
func (r *recorder) Hedge(string, string) {}

// count returns how many attempts were reported with outcome (any, when
// empty) at provider (any, when empty).
func (r *recorder) count(provider, outcome string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, a := range r.attempts {
		if (provider == "" || a.provider == provider) && (outcome == "" || a.outcome == outcome) {
			n++
		}
	}
	return n
}

// await waits until at least want attempts matching provider and outcome
// (see count) were reported, failing the test after 10 s.
func (r *recorder) await(t *testing.T, provider, outcome string, want int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		r.mu.Lock()
		changed := r.changed
		r.mu.Unlock()
		if r.count(provider, outcome) >= want {
			return
		}
		select {
		case <-changed:
		case <-ctx.Done():
			t.Fatalf("%d attempts (provider %q, outcome %q) reported, want %d", r.count(provider, outcome), provider, outcome, want)
		}
	}
}
