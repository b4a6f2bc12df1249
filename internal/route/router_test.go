package route

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/config"
	"github.com/rpcmesh/rpcmesh/internal/ethmethod"
	"github.com/rpcmesh/rpcmesh/internal/fakenode"
	"github.com/rpcmesh/rpcmesh/internal/head"
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
	// Wait until every provider is checked and a head is agreed.
	deadline := time.Now().Add(3 * time.Second)
	for {
		ok := true
		for _, p := range providers {
			if p.Snapshot(time.Now()).State != upstream.StateOK {
				ok = false
			}
		}
		if _, agreed := n.head.Latest(); ok && agreed {
			return n
		}
		if time.Now().After(deadline) {
			t.Fatal("providers did not become healthy")
		}
		time.Sleep(10 * time.Millisecond)
	}
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

func TestFailoverEachFault(t *testing.T) {
	faults := []struct {
		name  string
		fault fakenode.Fault
	}{
		{"down", fakenode.Fault{Down: true}},
		{"hang", fakenode.Fault{Hang: true}},
		{"slow", fakenode.Fault{Delay: 400 * time.Millisecond}},
		{"http 500", fakenode.Fault{Status: 500}},
		{"ratelimit", fakenode.Fault{RateLimit: 1}},
		{"wrong chain", fakenode.Fault{ChainID: 5}},
	}
	for _, f := range faults {
		t.Run(f.name, func(t *testing.T) {
			t.Parallel()
			n := startNet(t, testRouting(), threeOperators()...)
			n.nodes["a"].SetFault(f.fault)
			start := time.Now()
			// A steady stream of reads for a second: none may fail.
			for time.Since(start) < time.Second {
				if failed := n.run(t, 20, "eth_gasPrice"); failed != 0 {
					t.Fatalf("%d reads failed with one faulty provider", failed)
				}
			}
			// After a short while the faulty provider gets (almost) no traffic.
			n.resetCalls()
			if failed := n.run(t, 100, "eth_gasPrice"); failed != 0 {
				t.Fatalf("%d reads failed", failed)
			}
			// Exploration (5% of picks, uniform) still samples a merely
			// slow provider now and then.
			if got := n.nodes["a"].Served(); got > 8 {
				t.Errorf("faulty provider still served %d of 100 reads (%s after the fault)", got, time.Since(start))
			}
		})
	}
}

func TestReadmission(t *testing.T) {
	n := startNet(t, testRouting(), threeOperators()...)
	n.nodes["a"].SetFault(fakenode.Fault{Down: true})
	if failed := n.run(t, 60, "eth_gasPrice"); failed != 0 {
		t.Fatalf("%d failed", failed)
	}
	n.nodes["a"].SetFault(fakenode.Fault{})
	deadline := time.Now().Add(3 * time.Second)
	for n.nodes["a"].Served() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("healed provider never readmitted")
		}
		n.run(t, 10, "eth_gasPrice")
	}
}

func TestTiers(t *testing.T) {
	n := startNet(t, testRouting(),
		nodeSpec{name: "own1", operator: "us", cloud: "aws", tier: "own"},
		nodeSpec{name: "own2", operator: "us2", cloud: "gcp", tier: "own"},
		nodeSpec{name: "pub1", operator: "them", cloud: "azure", tier: "public"},
		nodeSpec{name: "pub2", operator: "them2", cloud: "ovh", tier: "public"},
	)
	n.run(t, 100, "eth_gasPrice")
	if c := n.nodes["pub1"].Served() + n.nodes["pub2"].Served(); c != 0 {
		t.Fatalf("public tier served %d reads while own nodes are healthy", c)
	}
	n.nodes["own1"].SetFault(fakenode.Fault{Down: true})
	n.nodes["own2"].SetFault(fakenode.Fault{Down: true})
	if failed := n.run(t, 60, "eth_gasPrice"); failed != 0 {
		t.Fatalf("%d failed with own nodes down", failed)
	}
	if n.nodes["pub1"].Served()+n.nodes["pub2"].Served() < 50 {
		t.Fatal("public tier did not take over")
	}
	n.nodes["own1"].SetFault(fakenode.Fault{})
	n.nodes["own2"].SetFault(fakenode.Fault{})
	time.Sleep(1500 * time.Millisecond) // cooldown + probe + warm-up
	n.resetCalls()
	n.run(t, 100, "eth_gasPrice")
	if c := n.nodes["pub1"].Served() + n.nodes["pub2"].Served(); c != 0 {
		t.Fatalf("public tier still served %d reads after own nodes recovered", c)
	}
}

func TestDiversityCap(t *testing.T) {
	routing := testRouting()
	routing.MaxOperatorShare = 0.4
	routing.MaxCloudShare = 0.5
	routing.Hedge = false
	n := startNet(t, routing,
		nodeSpec{name: "big", operator: "bigco", cloud: "aws", tier: "own", weight: 20},
		nodeSpec{name: "big2", operator: "bigco2", cloud: "aws", tier: "own", weight: 20},
		nodeSpec{name: "s1", operator: "small1", cloud: "gcp", tier: "own"},
		nodeSpec{name: "s2", operator: "small2", cloud: "hetzner", tier: "own"},
	)
	if failed := n.run(t, 2000, "eth_gasPrice"); failed != 0 {
		t.Fatalf("%d failed", failed)
	}
	total, ops, clouds := n.router.Shares()
	t.Logf("total %d operators %v clouds %v", total, ops, clouds)
	for op, s := range ops {
		if s > 0.4+0.01 {
			t.Errorf("operator %s share %.3f over cap 0.4", op, s)
		}
	}
	if clouds["aws"] > 0.5+0.01 {
		t.Errorf("cloud aws share %.3f over cap 0.5", clouds["aws"])
	}
}

func TestRetryGoesToAnotherOperator(t *testing.T) {
	routing := testRouting()
	routing.Hedge = false
	routing.ExplorationShare = 0
	n := startNet(t, routing,
		nodeSpec{name: "a1", operator: "alice", cloud: "aws", tier: "own", weight: 1000},
		nodeSpec{name: "a2", operator: "alice", cloud: "aws", tier: "own", weight: 1000},
		nodeSpec{name: "b", operator: "bob", cloud: "gcp", tier: "own", weight: 0.001},
	)
	n.nodes["a1"].SetFault(fakenode.Fault{Status: 502, OnlyMethod: "eth_gasPrice"})
	n.nodes["a2"].SetFault(fakenode.Fault{Status: 502, OnlyMethod: "eth_gasPrice"})
	retried := 0
	for i := 0; i < 20; i++ {
		res, err := n.router.Do(context.Background(), read("eth_gasPrice"))
		if err != nil {
			t.Fatal(err)
		}
		if res.Provider != "b" || res.Attempts > 2 {
			t.Fatalf("answered by %s after %d attempts, want b after at most 2 (retry to another operator)", res.Provider, res.Attempts)
		}
		if res.Attempts == 2 {
			retried++
		}
	}
	if retried == 0 {
		t.Fatal("no call was retried")
	}
}

func TestWritesNotRetriedOrHedged(t *testing.T) {
	n := startNet(t, testRouting(), threeOperators()...)
	for _, node := range n.nodes {
		node.SetFault(fakenode.Fault{Status: 500, OnlyMethod: "eth_sendRawTransaction"})
	}
	req := &Request{Method: "eth_sendRawTransaction", Params: []byte(`["0x00"]`), Info: ethmethod.Lookup("eth_sendRawTransaction")}
	_, err := n.router.Do(context.Background(), req)
	var ue *upstream.Error
	if !errors.As(err, &ue) {
		t.Fatalf("want the upstream error, got %v", err)
	}
	total := 0
	for _, node := range n.nodes {
		total += node.Calls("eth_sendRawTransaction")
	}
	if total != 1 {
		t.Fatalf("a write reached %d providers, want 1", total)
	}
	// Slow providers: a write is never hedged.
	for _, node := range n.nodes {
		node.SetFault(fakenode.Fault{Delay: 200 * time.Millisecond})
		node.ResetCalls()
	}
	if _, err := n.router.Do(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	total = 0
	for _, node := range n.nodes {
		total += node.Calls("eth_sendRawTransaction")
	}
	if total != 1 {
		t.Fatalf("a slow write reached %d providers, want 1", total)
	}
}

func TestHedgeWinsOverSlowProvider(t *testing.T) {
	routing := testRouting()
	routing.ExplorationShare = 0
	n := startNet(t, routing,
		nodeSpec{name: "slow", operator: "alice", cloud: "aws", tier: "own", weight: 1e6},
		nodeSpec{name: "fast", operator: "bob", cloud: "gcp", tier: "own", weight: 1e-6},
	)
	// Prime latencies.
	n.run(t, 20, "eth_gasPrice")
	n.nodes["slow"].SetFault(fakenode.Fault{Delay: time.Second, OnlyMethod: "eth_gasPrice"})
	start := time.Now()
	res, err := n.router.Do(context.Background(), read("eth_gasPrice"))
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 500*time.Millisecond || res.Provider != "fast" || !res.Hedged {
		t.Fatalf("answer from %s (hedged %v) after %s; want a fast hedged answer", res.Provider, res.Hedged, d)
	}
}

func TestBlockAware(t *testing.T) {
	routing := testRouting()
	routing.Hedge = false
	n := startNet(t, routing,
		nodeSpec{name: "a", operator: "alice", tier: "own"},
		nodeSpec{name: "b", operator: "bob", tier: "own"},
		nodeSpec{name: "lag", operator: "lagco", tier: "own", weight: 100},
		nodeSpec{name: "pruned", operator: "prune", tier: "own", weight: 100, archive: 10},
	)
	n.nodes["lag"].SetFault(fakenode.Fault{Lag: 20})
	time.Sleep(100 * time.Millisecond)
	n.resetCalls()
	for i := 0; i < 50; i++ {
		req := &Request{Method: "eth_getBalance", Params: []byte(`["0x01","0x3e8"]`), Info: ethmethod.Lookup("eth_getBalance"), Block: 1000, HasBlock: true}
		if _, err := n.router.Do(context.Background(), req); err != nil {
			t.Fatal(err)
		}
		old := &Request{Method: "eth_getBalance", Params: []byte(`["0x01","0x64"]`), Info: ethmethod.Lookup("eth_getBalance"), Block: 100, HasBlock: true}
		if _, err := n.router.Do(context.Background(), old); err != nil {
			t.Fatal(err)
		}
		if _, err := n.router.Do(context.Background(), read("eth_gasPrice")); err != nil {
			t.Fatal(err)
		}
	}
	if c := n.nodes["lag"].Calls(""); c != 50 {
		// Only the 50 old reads may go there, never the latest ones or un-pinned ones.
		t.Logf("lagging provider got %d calls", c)
	}
	if c := n.nodes["lag"].Calls("eth_gasPrice"); c != 0 {
		t.Errorf("lagging provider got %d unpinned reads", c)
	}
	if c := n.nodes["pruned"].Calls("eth_getBalance"); c > 50 {
		t.Errorf("pruned provider got %d balance reads, only the 50 at head are allowed", c)
	}
}

func TestNoProvider(t *testing.T) {
	n := startNet(t, testRouting(), threeOperators()...)
	req := &Request{Method: "debug_traceTransaction", Info: ethmethod.Lookup("debug_traceTransaction")}
	if _, err := n.router.Do(context.Background(), req); !errors.Is(err, ErrNoProvider) {
		t.Fatalf("debug call without debug providers: %v", err)
	}
	fut := &Request{Method: "eth_getBalance", Info: ethmethod.Lookup("eth_getBalance"), Block: 5000, HasBlock: true}
	if _, err := n.router.Do(context.Background(), fut); !errors.Is(err, ErrNoProvider) {
		t.Fatalf("future block: %v", err)
	}
}

func TestShareWindowExpires(t *testing.T) {
	w := newShareWindow(3 * time.Second)
	t0 := time.Unix(1000, 0)
	for i := 0; i < 10; i++ {
		w.add(t0, "a", "aws")
	}
	w.add(t0.Add(2*time.Second), "b", "gcp")
	if total, ops, _ := w.shares(); total != 11 || ops["a"] < 0.9 {
		t.Fatalf("total %d shares %v", total, ops)
	}
	w.add(t0.Add(4*time.Second), "b", "gcp")
	total, ops, clouds := w.shares()
	if total != 2 || ops["a"] != 0 || clouds["gcp"] != 1 {
		t.Fatalf("after expiry: total %d ops %v clouds %v", total, ops, clouds)
	}
	if !w.overCap("b", "", 0.5, 0) || w.overCap("a", "", 0.5, 0) {
		t.Fatal("overCap")
	}
	_ = fmt.Sprint()
}

func TestCloudOutage(t *testing.T) {
	n := startNet(t, testRouting(),
		nodeSpec{name: "aws1", operator: "alice", cloud: "aws", tier: "own"},
		nodeSpec{name: "aws2", operator: "bob", cloud: "aws", tier: "own"},
		nodeSpec{name: "aws3", operator: "carol", cloud: "aws", tier: "partner"},
		nodeSpec{name: "gcp1", operator: "dave", cloud: "gcp", tier: "own"},
		nodeSpec{name: "hz1", operator: "erin", cloud: "hetzner", tier: "community"},
	)
	for _, name := range []string{"aws1", "aws2", "aws3"} {
		n.nodes[name].SetFault(fakenode.Fault{Down: true})
	}
	start := time.Now()
	for time.Since(start) < time.Second {
		if failed := n.run(t, 20, "eth_gasPrice"); failed != 0 {
			t.Fatalf("%d reads failed during the aws outage", failed)
		}
	}
}

func TestLaggingProviderNeverAnswersLatest(t *testing.T) {
	routing := testRouting()
	n := startNet(t, routing,
		nodeSpec{name: "a", operator: "alice", tier: "own"},
		nodeSpec{name: "b", operator: "bob", tier: "own"},
		nodeSpec{name: "lag", operator: "lagco", tier: "own", weight: 1000},
	)
	n.nodes["lag"].SetFault(fakenode.Fault{Lag: 2}) // within max_lag_blocks, but behind
	time.Sleep(100 * time.Millisecond)
	n.resetCalls()
	agreed, _ := n.head.Latest()
	for i := 0; i < 100; i++ {
		req := &Request{Method: "eth_getBalance", Params: []byte(fmt.Sprintf(`["0x01","0x%x"]`, agreed.Number)),
			Info: ethmethod.Lookup("eth_getBalance"), Block: agreed.Number, HasBlock: true}
		res, err := n.router.Do(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		if res.Provider == "lag" {
			t.Fatal("a lagging provider answered a read at the agreed head")
		}
	}
	if c := n.nodes["lag"].Calls("eth_getBalance"); c != 0 {
		t.Fatalf("lagging provider was asked %d times", c)
	}
}

func TestLastResortWhenEveryBreakerIsOpen(t *testing.T) {
	health := testHealth()
	health.BreakerCooldown = config.Duration(time.Hour) // no probe will readmit them in this test
	n := startNetWith(t, testRouting(), health, threeOperators()...)
	for _, node := range n.nodes {
		node.SetFault(fakenode.Fault{Status: 503})
	}
	for i := 0; i < 10; i++ {
		_, _ = n.router.Do(context.Background(), read("eth_gasPrice"))
	}
	for _, p := range n.router.Providers() {
		if s := p.Snapshot(time.Now()); s.State != upstream.StateBreaker {
			t.Fatalf("%s: state %s, want breaker open", s.Name, s.State)
		}
	}
	// Every provider recovers; the breakers are still open. Calls succeed
	// through the last-resort path instead of failing with no provider.
	for _, node := range n.nodes {
		node.SetFault(fakenode.Fault{})
	}
	if failed := n.run(t, 20, "eth_gasPrice"); failed != 0 {
		t.Fatalf("%d calls failed with every breaker open and every provider healthy", failed)
	}
}

// TestPenalisedProviderIsAvoided: a provider caught out (an answer that
// failed verification, a censored transaction) loses its traffic to clean
// providers, even of a worse tier, and serves again when it is the only
// one left; the penalty fades with health.penalty_half_life.
func TestPenalisedProviderIsAvoided(t *testing.T) {
	health := testHealth()
	health.PenaltyHalfLife = config.Duration(300 * time.Millisecond)
	n := startNetWith(t, testRouting(), health,
		nodeSpec{name: "own", operator: "us", cloud: "aws", tier: "own"},
		nodeSpec{name: "pub", operator: "them", cloud: "gcp", tier: "public"},
	)
	own := n.router.Providers()[0]
	own.Penalise("state_proof")
	if s := own.Snapshot(time.Now()); s.Penalty < 0.9 {
		t.Fatalf("penalty right after Penalise = %.2f, want about 1", s.Penalty)
	}
	n.resetCalls()
	if failed := n.run(t, 50, "eth_gasPrice"); failed != 0 {
		t.Fatalf("%d reads failed", failed)
	}
	if c := n.nodes["own"].Served(); c != 0 {
		t.Fatalf("penalised own-tier provider served %d of 50 reads while a clean one exists", c)
	}
	if got := own.Penalties(); len(got) != 1 || got[0].Reason != "state_proof" || got[0].Count != 1 {
		t.Fatalf("Penalties() = %+v", got)
	}

	// The only provider left serves even when penalised.
	n.nodes["pub"].SetFault(fakenode.Fault{Down: true})
	n.resetCalls()
	if failed := n.run(t, 20, "eth_gasPrice"); failed != 0 {
		t.Fatalf("%d reads failed with only the penalised provider up", failed)
	}
	if c := n.nodes["own"].Served(); c < 20 {
		t.Fatalf("penalised provider served %d of 20 reads as the last one up", c)
	}
	n.nodes["pub"].SetFault(fakenode.Fault{})

	// Faded: after a few half-lives the tier preference is back.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for own.Snapshot(time.Now()).Penalty >= penaltyAvoid || n.router.Providers()[1].Snapshot(time.Now()).State != upstream.StateOK {
		select {
		case <-ctx.Done():
			t.Fatal("penalty did not fade or the public provider did not recover")
		case <-time.After(50 * time.Millisecond):
		}
	}
	n.resetCalls()
	n.run(t, 50, "eth_gasPrice")
	if c := n.nodes["pub"].Served(); c != 0 {
		t.Fatalf("public tier served %d reads after the own provider's penalty faded", c)
	}
}

// TestLateAttemptsStayWithTheirDo checks the reuse of a Do's state: a
// losing attempt that comes back after its Do returned must finish as
// itself (its provider, its report) and must not reach the Do that uses
// the state next.
func TestLateAttemptsStayWithTheirDo(t *testing.T) {
	routing := testRouting()
	routing.ExplorationShare = 0.5 // first attempts on either provider
	routing.HedgeMinDelay = config.Duration(5 * time.Millisecond)
	routing.HedgeMaxDelay = config.Duration(10 * time.Millisecond)
	n := startNet(t, routing,
		nodeSpec{name: "slow", operator: "alice", tier: "own", weight: 1e6},
		nodeSpec{name: "fast", operator: "bob", tier: "own", weight: 1e-6},
	)
	obs := &attemptCounter{n: map[string]int{}}
	n.router.obs = obs
	n.nodes["slow"].SetFault(fakenode.Fault{Delay: 30 * time.Millisecond, OnlyMethod: "eth_gasPrice"})
	n.resetCalls()
	hedged := 0
	var pooled []*doState // taken from the pool as a Do returns: no attempt may still use them
	for range 40 {
		res, err := n.router.Do(context.Background(), read("eth_gasPrice"))
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Value) == 0 || res.Provider == "" {
			t.Fatalf("an answer without a value: %+v", res)
		}
		if res.Hedged {
			hedged++
		}
		if d, ok := n.router.dos.Get().(*doState); ok {
			pooled = append(pooled, d)
		}
	}
	if hedged == 0 {
		t.Fatal("no Do was hedged: the test proves nothing")
	}
	time.Sleep(200 * time.Millisecond) // the late attempts come back
	for _, d := range pooled {
		if d.first.value != nil || d.first.p != nil || len(d.results) > 0 {
			t.Fatal("a late attempt wrote to a pooled doState")
		}
	}
	for name, node := range n.nodes {
		if got, want := obs.count(name), node.Calls("eth_gasPrice"); got != want {
			t.Errorf("%s: %d attempts reported, %d served", name, got, want)
		}
	}
}

// attemptCounter is an Observer counting the successful attempts per provider.
type attemptCounter struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *attemptCounter) Attempt(_ string, p *upstream.Provider, _ string, _ time.Duration, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err == nil {
		c.n[p.Name()]++
	}
}
func (c *attemptCounter) Retry(string, string) {}
func (c *attemptCounter) Hedge(string, string) {}

func (c *attemptCounter) count(name string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[name]
}

// TestWorkersEndWhenIdle: workers run jobs at once (a new one when none is
// waiting), are reused while jobs keep coming, and all end once no job has
// started for the idle period; after that, new jobs start new workers.
func TestWorkersEndWhenIdle(t *testing.T) {
	w := &workers{work: make(chan job), idle: 20 * time.Millisecond}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(3 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s (live %d)", what, w.live.Load())
			}
			time.Sleep(2 * time.Millisecond)
		}
	}
	for round := range 2 {
		release := make(chan struct{})
		var wg sync.WaitGroup
		const n = 8
		wg.Add(n)
		for range n {
			w.Go(funcJob(func() {
				defer wg.Done()
				<-release
			}))
		}
		if got := w.live.Load(); got != n {
			t.Fatalf("round %d: %d workers for %d blocked jobs", round, got, n)
		}
		close(release)
		wg.Wait()
		// Jobs one after the other while the workers wait: they are reused
		// (at most one or two more start while the first ones get back to
		// waiting).
		for range 20 {
			var done sync.WaitGroup
			done.Add(1)
			w.Go(funcJob(done.Done))
			done.Wait()
		}
		if got := w.live.Load(); got > n+2 {
			t.Fatalf("round %d: %d workers after sequential jobs, want at most %d", round, got, n+2)
		}
		waitFor("idle workers to end", func() bool { return w.live.Load() == 0 && !w.reaping.Load() })
	}
}
