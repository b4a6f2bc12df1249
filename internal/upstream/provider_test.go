package upstream

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/config"
	"github.com/rpcmesh/rpcmesh/internal/fakenode"
	"github.com/rpcmesh/rpcmesh/internal/head"
	"github.com/rpcmesh/rpcmesh/internal/jsonrpc"
	"github.com/rpcmesh/rpcmesh/internal/upstream/transport/wstest"
)

func testHealth() config.Health {
	return config.Health{
		PollInterval:    config.Duration(20 * time.Millisecond),
		ChainIDInterval: config.Duration(50 * time.Millisecond),
		MaxLagBlocks:    3,
		BreakerFailures: 3,
		BreakerCooldown: config.Duration(50 * time.Millisecond),
		ProbeInterval:   config.Duration(20 * time.Millisecond),
		EWMAHalfLife:    config.Duration(time.Second),
		ProviderTimeout: config.Duration(time.Second),
	}
}

func newProvider(t *testing.T, n *fakenode.Node, chainID uint64, heads chan head.Block) *Provider {
	t.Helper()
	return New(Options{
		Chain:    "test",
		ChainID:  chainID,
		Provider: config.Provider{Name: n.Name, HTTP: n.URL(), Labels: config.Labels{Operator: "op-" + n.Name, Tier: "own"}},
		Health:   testHealth(),
		OnHead: func(_ *Provider, b head.Block) {
			select {
			case heads <- b:
			default:
			}
		},
	})
}

func waitState(t *testing.T, p *Provider, want State) {
	t.Helper()
	wstest.WaitFor(t, "provider state "+string(want), func() bool { return p.Snapshot(time.Now()).State == want })
}

func TestChainIDAndHead(t *testing.T) {
	chain := fakenode.NewChain(7, 100)
	n := fakenode.Start("a", chain)
	defer n.Close()
	heads := make(chan head.Block, 16)
	p := newProvider(t, n, 7, heads)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go p.Run(ctx)
	waitState(t, p, StateOK)
	b := <-heads
	if b.Number != 100 || b.Hash != chain.Hash(100) || b.Parent != chain.Hash(99) {
		t.Fatalf("head %+v", b)
	}

	// Lie about the chain ID: excluded, then readmitted when it stops.
	n.SetFault(fakenode.Fault{ChainID: 1})
	waitState(t, p, StateWrongChain)
	if _, err := p.Call(ctx, "eth_gasPrice", nil); !errors.Is(err, ErrWrongChain) {
		t.Fatalf("call to a wrong-chain provider: %v", err)
	}
	n.SetFault(fakenode.Fault{})
	waitState(t, p, StateOK)
}

func TestBreakerAndProbe(t *testing.T) {
	chain := fakenode.NewChain(7, 100)
	n := fakenode.Start("a", chain)
	defer n.Close()
	p := newProvider(t, n, 7, make(chan head.Block, 1))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go p.Run(ctx)
	waitState(t, p, StateOK)

	n.SetFault(fakenode.Fault{Down: true})
	for i := 0; i < 3; i++ {
		_, err := p.Call(ctx, "eth_gasPrice", nil)
		var ue *Error
		if !errors.As(err, &ue) || ue.Class != ClassTransport && ue.Class != ClassUnavailable {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	waitState(t, p, StateBreaker)
	n.SetFault(fakenode.Fault{})
	waitState(t, p, StateOK) // the probe readmits it
	if res, err := p.Call(ctx, "eth_gasPrice", nil); err != nil || string(res) != `"0x3b9aca00"` {
		t.Fatalf("after readmission: %s %v", res, err)
	}
}

func TestRateLimitHonoured(t *testing.T) {
	chain := fakenode.NewChain(7, 100)
	n := fakenode.Start("a", chain)
	defer n.Close()
	p := newProvider(t, n, 7, make(chan head.Block, 1))
	ctx := context.Background()
	if err := p.CheckChainID(ctx); err != nil {
		t.Fatal(err)
	}
	n.SetFault(fakenode.Fault{RateLimit: 2, OnlyMethod: "eth_gasPrice"})
	_, err := p.Call(ctx, "eth_gasPrice", nil)
	var ue *Error
	if !errors.As(err, &ue) || ue.Class != ClassThrottled || ue.Sent {
		t.Fatalf("429: %v", err)
	}
	before := n.Calls("eth_gasPrice")
	if _, err := p.Call(ctx, "eth_gasPrice", nil); !errors.Is(err, ErrThrottled) {
		t.Fatalf("during Retry-After: %v", err)
	}
	if n.Calls("eth_gasPrice") != before {
		t.Fatal("a call reached the provider during its Retry-After")
	}
	if s := p.Snapshot(time.Now()); s.State != StateThrottled || s.Breaker != BreakerClosed {
		t.Fatalf("snapshot %+v", s)
	}
}

func TestNodeErrorIsAnAnswer(t *testing.T) {
	chain := fakenode.NewChain(7, 100)
	n := fakenode.Start("a", chain)
	defer n.Close()
	p := newProvider(t, n, 7, make(chan head.Block, 1))
	_, err := p.Call(context.Background(), "eth_nope", nil)
	var je *jsonrpc.Error
	if !errors.As(err, &je) || je.Code != -32601 {
		t.Fatalf("got %v", err)
	}
	if s := p.Snapshot(time.Now()); s.ErrorRate != 0 || s.LatencyEWMA == 0 {
		t.Fatalf("a node's error answer must count as a healthy answer: %+v", s)
	}
}

func TestTimeoutAndTooLarge(t *testing.T) {
	chain := fakenode.NewChain(7, 100)
	n := fakenode.Start("a", chain)
	defer n.Close()
	p := New(Options{ChainID: 7, Provider: config.Provider{Name: "a", HTTP: n.URL()}, Health: testHealth(), MaxResponseBytes: 10})
	if _, err := p.Call(context.Background(), "web3_clientVersion", nil); !errors.Is(err, ErrResponseTooLarge) {
		t.Fatalf("too large: %v", err)
	}
	n.SetFault(fakenode.Fault{Hang: true})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := p.Call(ctx, "eth_gasPrice", nil)
	var ue *Error
	if !errors.As(err, &ue) || ue.Class != ClassTimeout {
		t.Fatalf("hang: %v", err)
	}
	// Abandoned as stalled: an error for routing, not for the breaker.
	for i := 0; i < 10; i++ {
		sctx, scancel := context.WithTimeoutCause(context.Background(), 20*time.Millisecond, ErrStalled)
		_, err := p.Call(sctx, "eth_gasPrice", nil)
		scancel()
		if !errors.As(err, &ue) || ue.Class != ClassStalled {
			t.Fatalf("stalled: %v", err)
		}
	}
	if s := p.Snapshot(time.Now()); s.Breaker != BreakerClosed || s.ErrorRate < 0.5 {
		t.Fatalf("after stalls: %+v", s)
	}
}

func TestStatsQuantile(t *testing.T) {
	s := stats{halfLife: time.Second}
	now := time.Now()
	for i := 1; i <= 100; i++ {
		s.record(now, time.Duration(i)*time.Millisecond, false, false)
	}
	if q := s.quantile(0.9); q != 90*time.Millisecond {
		t.Fatalf("p90 = %s", q)
	}
	if q := s.quantile(0.5); q != 50*time.Millisecond {
		t.Fatalf("p50 = %s", q)
	}
}

// TestMaxRPSAndConcurrency: a call over max_rps is refused unsent, and one
// over max_concurrency waits for a slot (here until its context ends).
func TestMaxRPSAndConcurrency(t *testing.T) {
	chain := fakenode.NewChain(7, 100)
	n := fakenode.Start("a", chain)
	defer n.Close()
	// One token, refilled after 1000 s: the second call finds none.
	p := New(Options{ChainID: 7, Health: testHealth(),
		Provider: config.Provider{Name: "a", HTTP: n.URL(), MaxRPS: 0.001, MaxConcurrency: 2}})
	if _, err := p.Call(timed(t, 5*time.Second), "eth_gasPrice", nil); err != nil {
		t.Fatalf("first call: %v", err)
	}
	_, err := p.Call(timed(t, 5*time.Second), "eth_gasPrice", nil)
	if class, sent := classOf(err); !errors.Is(err, ErrBusy) || class != ClassUnavailable || sent {
		t.Fatalf("call over max_rps: %v (class %q, sent %v), want busy, unsent", err, class, sent)
	}
	if !p.Saturated() {
		t.Fatal("out of rate tokens but not saturated")
	}

	n.SetFault(fakenode.Fault{Hang: true})
	p2 := New(Options{ChainID: 7, Health: testHealth(), Provider: config.Provider{Name: "b", HTTP: n.URL(), MaxConcurrency: 2}})
	hold, release := context.WithCancel(context.Background())
	defer release()
	done := make(chan struct{}, 2)
	for range 2 {
		go func() { _, _ = p2.Call(hold, "eth_gasPrice", nil); done <- struct{}{} }()
	}
	wstest.WaitFor(t, "both slots taken", p2.Saturated)
	_, err = p2.Call(timed(t, 100*time.Millisecond), "eth_gasPrice", nil)
	if class, sent := classOf(err); class != ClassTimeout || sent {
		t.Fatalf("a third call at max_concurrency 2: %v (class %q, sent %v), want an unsent timeout waiting for a slot", err, class, sent)
	}
	release()
	for range 2 {
		<-done
	}
}
