package route

import (
	"context"
	"testing"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/config"
	"github.com/rpcmesh/rpcmesh/internal/fakenode"
	"github.com/rpcmesh/rpcmesh/internal/upstream"
)

// TestFailoverEachFault: with one provider faulty in each way a provider
// fails, no read fails, and once routing has learnt the fault the faulty
// provider receives almost none of the reads: at most 8 of 100
// (exploration samples a merely slow provider now and then). Routing may
// take rounds of 100 reads to learn it; the deadline only bounds how many.
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
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			for round := 1; ; round++ {
				n.resetCalls()
				if failed := n.run(t, 100, "eth_gasPrice"); failed != 0 {
					t.Fatalf("round %d: %d of 100 reads failed with one faulty provider", round, failed)
				}
				got := n.nodes["a"].Calls("eth_gasPrice")
				if got <= 8 {
					t.Logf("round %d: the faulty provider received %d of 100 reads", round, got)
					return
				}
				if ctx.Err() != nil {
					t.Fatalf("after %d rounds the faulty provider still received %d of 100 reads", round, got)
				}
			}
		})
	}
}

// TestReadmission: a provider that was down serves again once healed.
func TestReadmission(t *testing.T) {
	n := startNet(t, testRouting(), threeOperators()...)
	n.nodes["a"].SetFault(fakenode.Fault{Down: true})
	if failed := n.run(t, 60, "eth_gasPrice"); failed != 0 {
		t.Fatalf("%d failed", failed)
	}
	n.nodes["a"].SetFault(fakenode.Fault{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for n.nodes["a"].Served() == 0 {
		if ctx.Err() != nil {
			t.Fatal("healed provider never readmitted")
		}
		n.run(t, 10, "eth_gasPrice")
	}
}

// TestCloudOutage: with every provider of one cloud down (three operators,
// two tiers), no read fails.
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
	if failed := n.run(t, 200, "eth_gasPrice"); failed != 0 {
		t.Fatalf("%d of 200 reads failed during the aws outage", failed)
	}
}

// TestLastResortWhenEveryBreakerIsOpen: when every breaker is open and the
// providers have recovered, calls go through the last-resort path instead
// of failing with no provider.
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
	for _, node := range n.nodes {
		node.SetFault(fakenode.Fault{})
	}
	if failed := n.run(t, 20, "eth_gasPrice"); failed != 0 {
		t.Fatalf("%d calls failed with every breaker open and every provider healthy", failed)
	}
}
