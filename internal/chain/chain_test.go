package chain

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/config"
	"github.com/rpcmesh/rpcmesh/internal/fakenode"
	"github.com/rpcmesh/rpcmesh/internal/metrics"
	"github.com/rpcmesh/rpcmesh/internal/testwait"
)

// testSet builds (not runs) a set of one chain "dev" over n fake nodes of
// one shared chain, each its own operator.
func testSet(t *testing.T, n int, edit func(*config.Config)) (*Set, *fakenode.Chain, []*fakenode.Node) {
	t.Helper()
	fc := fakenode.NewChain(1337, 500)
	cfg := config.Default()
	cfg.Health.PollInterval = config.Duration(20 * time.Millisecond)
	cfg.Health.ProbeInterval = config.Duration(50 * time.Millisecond)
	cfg.Health.BreakerCooldown = config.Duration(time.Minute)
	cfg.Health.BreakerFailures = 3
	cfg.Health.ProviderTimeout = config.Duration(2 * time.Second)
	cfg.Verify.Enabled = false // the fake nodes' answers back no proofs
	ch := config.DefaultChain()
	ch.Name, ch.ChainID = "dev", fc.ID
	var nodes []*fakenode.Node
	for i := range n {
		node := fakenode.Start(fmt.Sprintf("n%d", i), fc)
		t.Cleanup(node.Close)
		nodes = append(nodes, node)
		p := config.DefaultProvider()
		p.Name, p.HTTP = node.Name, node.URL()
		p.Labels = config.Labels{Operator: "op-" + node.Name, Cloud: "aws", Region: "eu", Tier: "own"}
		ch.Providers = append(ch.Providers, p)
	}
	cfg.Chains = []config.Chain{ch}
	if edit != nil {
		edit(cfg)
	}
	cfg.Complete()
	return NewSet(cfg, metrics.New(), nil), fc, nodes
}

// run runs s until the test ends, and closes it.
func run(t *testing.T, s *Set) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
}

// TestReadyAndStatus: before it runs a chain has no head and is not ready;
// running, its head agrees with the nodes', and /status, the metrics' state
// and the head header's trust say the same.
func TestReadyAndStatus(t *testing.T) {
	s, fc, _ := testSet(t, 2, nil)
	c := s.Chains()[0]
	if ok, why := c.Ready(); ok || why != "no agreed head" {
		t.Fatalf("before running: Ready() = %v, %q; want false, no agreed head", ok, why)
	}
	if tr := c.Trust(); tr.Head {
		t.Fatalf("before running: Trust() = %+v, want no head", tr)
	}
	run(t, s)
	testwait.For(t, 5*time.Second, "ready", func() bool { ok, _ := c.Ready(); return ok })

	st := c.Status(time.Now())
	if st.Name != "dev" || st.ChainID != fc.ID || !st.Ready || st.NotReady != "" || st.HeadAgreement != 2 {
		t.Errorf("status %+v: want dev, chain %d, ready, head agreement 2 (the default)", st, fc.ID)
	}
	if st.Head == nil || st.Head.Number != fc.Head() || st.Head.Hash != fc.Hash(fc.Head()) {
		t.Errorf("status head %+v, want %d %s", st.Head, fc.Head(), fc.Hash(fc.Head()))
	}
	if st.HeadTrust.Level != "agreed" || st.HeadTrust.Operators != 2 {
		t.Errorf("status head trust %+v, want agreed by both operators", st.HeadTrust)
	}
	if len(st.Providers) != 2 {
		t.Fatalf("status lists %d providers, want 2", len(st.Providers))
	}
	for i, p := range st.Providers {
		want := map[string]string{"operator": fmt.Sprintf("op-n%d", i), "cloud": "aws", "region": "eu", "tier": "own"}
		if p.Name != fmt.Sprintf("n%d", i) || fmt.Sprint(p.Labels) != fmt.Sprint(want) {
			t.Errorf("provider %d: %s %v, want n%d %v", i, p.Name, p.Labels, i, want)
		}
	}
	if tr := c.Trust(); !tr.Head || tr.Degraded || tr.Required != 2 || tr.Operators != 2 {
		t.Errorf("Trust() = %+v, want a head agreed by both operators (2 required)", tr)
	}
	ms := c.State(time.Now())
	if ms.Chain != "dev" || !ms.Ready || ms.Head != st.Head.Number || len(ms.Providers) != 2 || ms.Filters != 0 {
		t.Errorf("metrics state %+v: want dev, ready, head %d, 2 providers, no filters", ms, st.Head.Number)
	}
}

// TestNotReady: a chain whose head stands still for ready_stale_blocks
// block times, or that has no usable provider left, is not ready, and
// says why.
func TestNotReady(t *testing.T) {
	t.Run("head stands still", func(t *testing.T) {
		s, fc, _ := testSet(t, 1, func(c *config.Config) { c.Health.ReadyStaleBlocks = 3 })
		c := s.Chains()[0]
		run(t, s)
		// Move the head a few times, each once the chain has it, so that
		// a block time is measured; then stop.
		for range 4 {
			next := fc.Head() + 1
			fc.SetHead(next)
			testwait.For(t, 5*time.Second, fmt.Sprintf("head %d", next), func() bool {
				h := c.Status(time.Now()).Head
				return h != nil && h.Number == next
			})
		}
		testwait.For(t, 5*time.Second, "not ready: head still", func() bool {
			ok, why := c.Ready()
			return !ok && strings.HasPrefix(why, "head has not moved for ")
		})
		if st := c.Status(time.Now()); st.Ready || !strings.HasPrefix(st.NotReady, "head has not moved") || st.BlockTimeMs == 0 {
			t.Errorf("status ready %v (%q), block time %d ms; want not ready, head still, a measured block time", st.Ready, st.NotReady, st.BlockTimeMs)
		}
	})
	t.Run("no usable provider", func(t *testing.T) {
		s, _, nodes := testSet(t, 2, func(c *config.Config) { c.Health.ReadyStaleBlocks = 0 })
		c := s.Chains()[0]
		run(t, s)
		testwait.For(t, 5*time.Second, "ready", func() bool { ok, _ := c.Ready(); return ok })
		for _, n := range nodes {
			n.SetFault(fakenode.Fault{Down: true})
		}
		testwait.For(t, 5*time.Second, "not ready: no usable provider", func() bool {
			ok, why := c.Ready()
			return !ok && why == "no usable provider"
		})
		if ms := c.State(time.Now()); ms.Ready {
			t.Error("the metrics' state says ready")
		}
	})
}

// TestSetStore: broadcast.store is opened for every chain's watch and
// closed by Close; a store that cannot be opened fails Open.
func TestSetStore(t *testing.T) {
	dir := t.TempDir()
	s, _, _ := testSet(t, 1, func(c *config.Config) { c.Broadcast.Store = filepath.Join(dir, "tx.db") })
	if err := s.Open(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	bad, _, _ := testSet(t, 1, func(c *config.Config) { c.Broadcast.Store = filepath.Join(dir, "missing", "tx.db") })
	if err := bad.Open(); err == nil {
		bad.Close()
		t.Fatal("Open of a store in a missing folder succeeded")
	}
}
