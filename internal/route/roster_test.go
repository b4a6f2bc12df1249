package route

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/config"
	"github.com/rpcmesh/rpcmesh/internal/ethmethod"
	"github.com/rpcmesh/rpcmesh/internal/fakenode"
	"github.com/rpcmesh/rpcmesh/internal/upstream"
)

// stagedBalance is a verified-or-not eth_getBalance for the roster tests.
func stagedBalance(verified bool) *Request {
	return &Request{Method: "eth_getBalance", Params: json.RawMessage(`["0x0000000000000000000000000000000000000001","latest"]`),
		Info: ethmethod.Lookup("eth_getBalance"), Verified: verified}
}

// TestProbationCap: a provider on probation (in a worse tier than the
// others: it is still tried) takes only verified calls, and its share of the window's attempts never goes above the cap over a
// run of calls; a candidate takes none; neither is picked for a vote.
func TestProbationCap(t *testing.T) {
	routing := testRouting()
	routing.ExplorationShare = 0
	n := startNet(t, routing,
		nodeSpec{name: "a", operator: "a", tier: "own"}, nodeSpec{name: "b", operator: "b", tier: "own"},
		nodeSpec{name: "new", operator: "new", tier: "public"}, nodeSpec{name: "cand", operator: "cand", tier: "own"})
	n.router.probationCap = 0.05
	n.router.SetStage("new", Probation)
	n.router.SetStage("cand", Candidate)
	ctx := context.Background()
	for _, node := range n.nodes {
		node.ResetCalls()
	}

	const calls = 400
	for i := range calls {
		if _, err := n.router.Do(ctx, stagedBalance(i%2 == 0)); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	served := n.nodes["new"].Calls("eth_getBalance")
	if served == 0 {
		t.Fatal("the provider on probation served no verified call: the cap should let some through")
	}
	if limit := calls * 5 / 100; served > limit {
		t.Errorf("probation provider served %d of %d calls, over its 5%% cap (%d)", served, calls, limit)
	}
	if got := n.router.ProbationShare("new"); got > 0.05 {
		t.Errorf("probation share %.3f, want at most 0.05", got)
	}
	if c := n.nodes["cand"].Calls(""); c != 0 {
		t.Errorf("the candidate served %d calls, want none", c)
	}
	// Unverified calls only: the provider on probation gets none.
	n.nodes["new"].ResetCalls()
	for i := range 100 {
		if _, err := n.router.Do(ctx, stagedBalance(false)); err != nil {
			t.Fatalf("unverified call %d: %v", i, err)
		}
	}
	if c := n.nodes["new"].Calls(""); c != 0 {
		t.Errorf("the provider on probation served %d unverified calls, want none", c)
	}
	for range 50 {
		for _, p := range n.router.PickDistinct(stagedBalance(true), 4, nil, nil) {
			if p.Name() == "new" || p.Name() == "cand" {
				t.Fatalf("PickDistinct picked %s, which is not admitted: it must never vote", p.Name())
			}
		}
	}
}

// TestRosterChangesUnderTraffic adds and removes providers while calls
// run (run with -race): no call fails, removed providers get no new call,
// and a provider added takes calls.
func TestRosterChangesUnderTraffic(t *testing.T) {
	n := startNet(t, testRouting(), nodeSpec{name: "a", operator: "a"}, nodeSpec{name: "b", operator: "b"})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	var stop atomic.Bool
	var wg sync.WaitGroup
	var failed atomic.Int64
	for w := range 4 {
		wg.Go(func() {
			for i := 0; !stop.Load(); i++ {
				if _, err := n.router.Do(ctx, stagedBalance((w+i)%2 == 0)); err != nil {
					failed.Add(1)
					t.Errorf("call failed: %v", err)
					return
				}
			}
		})
	}
	for round := range 20 {
		name := fmt.Sprintf("x%d", round)
		node := fakenode.Start(name, n.chain)
		p := upstream.New(upstream.Options{Chain: "test", ChainID: 1337, Health: testHealth(),
			Provider: config.Provider{Name: name, HTTP: node.URL(), Weight: 1, Labels: config.Labels{Operator: name}}})
		pctx, pcancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { defer close(done); p.Run(pctx) }()
		n.router.Add(p, []Stage{Admitted, Probation}[round%2])
		waitFor(t, name+" served a call", func() bool { return node.Calls("") > 0 })
		if n.router.Remove(name) != p {
			t.Fatalf("Remove(%s) did not return the provider added", name)
		}
		waitFor(t, name+" drained", func() bool { return p.RouteSnapshot(time.Now()).Inflight == 0 })
		pcancel()
		<-done
		node.Close()
		if n.router.Provider(name) != nil {
			t.Fatalf("%s still routed after Remove", name)
		}
		// A call still routed to it now would fail on its closed server
		// and show as a failed call above.
	}
	stop.Store(true)
	wg.Wait()
	if failed.Load() > 0 {
		t.Fatalf("%d calls failed while providers came and went", failed.Load())
	}
	if got := len(n.router.Providers()); got != 2 {
		t.Errorf("%d providers left, want the 2 started with", got)
	}
}

// TestPrivacyRuntimeOperator: under the privacy policy, an operator added
// at run time joins the spread: a client's new address goes to it when the
// operators of the start are over their share, is kept with it, and the
// addresses kept before stay where they were.
func TestPrivacyRuntimeOperator(t *testing.T) {
	routing := privacyRouting(0.34, 4096, 16)
	routing.ExplorationShare = 0
	n := startNet(t, routing, operators(2)...)
	waitFor(t, "n0 and n1 settled", func() bool { return n.settled("n0", "n1") })
	first := map[string]string{} // address → operator
	for i := range 10 {
		first[testAddress(i)] = n.ask(t, "c", testAddress(i))
	}

	node := fakenode.Start("n2", n.chain)
	defer node.Close()
	p := upstream.New(upstream.Options{Chain: "test", ChainID: 1337, Health: testHealth(),
		Provider: config.Provider{Name: "n2", HTTP: node.URL(), Weight: 1, Labels: config.Labels{Operator: "op2", Cloud: "c2", Tier: "own"}}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); p.Run(ctx) }()
	defer func() { cancel(); <-done }()
	n.router.Add(p, Admitted)
	waitFor(t, "n2 usable", func() bool { s := p.RouteSnapshot(time.Now()); return s.Usable() })

	// op0 and op1 hold 5 of the client's 10 addresses each: over 0.34 of 11.
	if op := n.ask(t, "c", testAddress(10)); op != "op2" {
		t.Fatalf("a new address went to %s, want op2, the only operator under its share", op)
	}
	if _, addrs := n.router.PrivacyMemory(); addrs != 11 {
		t.Errorf("the policy keeps %d addresses, want 11 (the new operator's one kept)", addrs)
	}
	for range 3 {
		if op := n.ask(t, "c", testAddress(10)); op != "op2" {
			t.Errorf("the address kept with op2 went to %s", op)
		}
	}
	for addr, op := range first {
		if got := n.ask(t, "c", addr); got != op {
			t.Errorf("%s went to %s, kept with %s", addr, got, op)
		}
	}
}

// TestProbationUnderPrivacy: with the privacy policy on, a verified call
// naming an address goes where the policy keeps it: a provider on
// probation in a worse tier is not tried on it ahead of its tier, while a
// verified call of the gateway's own (no client) still may be.
func TestProbationUnderPrivacy(t *testing.T) {
	routing := privacyRouting(0.5, 4096, 16)
	routing.ExplorationShare = 0
	n := startNet(t, routing,
		nodeSpec{name: "a", operator: "a", tier: "own"}, nodeSpec{name: "b", operator: "b", tier: "own"},
		nodeSpec{name: "new", operator: "new", tier: "public"})
	n.router.probationCap = 0.5 // tried on verified calls often, were it not for privacy
	n.router.SetStage("new", Probation)
	waitFor(t, "settled", func() bool { return n.settled("a", "b", "new") })
	n.nodes["new"].ResetCalls()
	ctx := context.Background()
	for i := range 100 {
		req := balance("c", testAddress(i%10))
		req.Verified = true
		if _, err := n.router.Do(ctx, req); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	if got := n.nodes["new"].Calls("eth_getBalance"); got != 0 {
		t.Errorf("the provider on probation served %d of a client's calls the privacy policy routes, want none", got)
	}
	for range 100 {
		if _, err := n.router.Do(ctx, stagedBalance(true)); err != nil {
			t.Fatal(err)
		}
	}
	if n.nodes["new"].Calls("eth_getBalance") == 0 {
		t.Error("the provider on probation served none of the gateway's own verified calls")
	}
}
