package route

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/config"
	"github.com/rpcmesh/rpcmesh/internal/ethmethod"
	"github.com/rpcmesh/rpcmesh/internal/fakenode"
)

// TestTiers: the own tier takes every read while it is healthy, the
// public tier takes over when it is down, and gives every read back once
// the own providers are readmitted and past their warm-up.
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
	// Readmitted by probes, then warmed up: they take a growing share
	// first (dropDegraded), so the give-back is asserted after it.
	waitFor(t, "the own providers readmitted and warmed up", func() bool { return n.settled("own1", "own2") })
	n.resetCalls()
	n.run(t, 100, "eth_gasPrice")
	if c := n.nodes["pub1"].Served() + n.nodes["pub2"].Served(); c != 0 {
		t.Fatalf("public tier still served %d reads after own nodes recovered", c)
	}
}

// TestDiversityCap: over 2000 reads no operator or cloud carries more than
// its cap of the share window's attempts, favourites included.
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

// TestBlockAware: a read pinned to a block goes only to providers that
// have it (head reached, archive depth covering state); unpinned reads
// skip a lagging provider.
func TestBlockAware(t *testing.T) {
	routing := testRouting()
	routing.Hedge = false
	n := startNet(t, routing,
		nodeSpec{name: "a", operator: "alice", tier: "own"},
		nodeSpec{name: "b", operator: "bob", tier: "own"},
		nodeSpec{name: "lag", operator: "lagco", tier: "own", weight: 100},
		nodeSpec{name: "pruned", operator: "prune", tier: "own", weight: 100, archive: 10},
	)
	n.setLag(t, "lag", 20)
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
	// Only the 50 old reads may go there, never the latest ones or unpinned ones.
	if c := n.nodes["lag"].Calls(""); c > 50 {
		t.Errorf("lagging provider got %d calls, at most the 50 old reads may go there", c)
	}
	if c := n.nodes["lag"].Calls("eth_gasPrice"); c != 0 {
		t.Errorf("lagging provider got %d unpinned reads", c)
	}
	if c := n.nodes["pruned"].Calls("eth_getBalance"); c > 50 {
		t.Errorf("pruned provider got %d balance reads, only the 50 at head are allowed", c)
	}
}

// TestLaggingProviderNeverAnswersLatest: a provider behind the agreed
// head, even within max_lag_blocks, is never asked for a read at that head.
func TestLaggingProviderNeverAnswersLatest(t *testing.T) {
	routing := testRouting()
	n := startNet(t, routing,
		nodeSpec{name: "a", operator: "alice", tier: "own"},
		nodeSpec{name: "b", operator: "bob", tier: "own"},
		nodeSpec{name: "lag", operator: "lagco", tier: "own", weight: 1000},
	)
	n.setLag(t, "lag", 2) // within max_lag_blocks, but behind
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

// TestNoProvider: a call no provider can serve (a namespace none offers, a
// block past every head) fails with ErrNoProvider.
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

// TestShareWindowExpires: attempts leave the share window once older than
// it, and the caps judge the shares that remain.
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
	waitFor(t, "the penalty to fade and the public provider to recover", func() bool {
		return own.Snapshot(time.Now()).Penalty < penaltyAvoid && n.settled("pub")
	})
	n.resetCalls()
	n.run(t, 50, "eth_gasPrice")
	if c := n.nodes["pub"].Served(); c != 0 {
		t.Fatalf("public tier served %d reads after the own provider's penalty faded", c)
	}
}
