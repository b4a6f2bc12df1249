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
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		if s := p.Snapshot(time.Now()); s.State == want {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	s := p.Snapshot(time.Now())
	t.Fatalf("provider state %s, want %s (%+v)", s.State, want, s)
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

func TestMaxRPSAndConcurrency(t *testing.T) {
	chain := fakenode.NewChain(7, 100)
	n := fakenode.Start("a", chain)
	defer n.Close()
	p := New(Options{ChainID: 7, Health: testHealth(),
		Provider: config.Provider{Name: "a", HTTP: n.URL(), MaxRPS: 10, MaxConcurrency: 2}})
	if err := p.CheckChainID(context.Background()); err != nil {
		t.Fatal(err)
	}
	busy := 0
	for i := 0; i < 20; i++ {
		if _, err := p.Call(context.Background(), "eth_gasPrice", nil); errors.Is(err, ErrBusy) {
			var ue *Error
			if !errors.As(err, &ue) || ue.Sent {
				t.Fatal("a call refused by the limiter must count as not sent")
			}
			busy++
		}
	}
	if busy == 0 || busy == 20 {
		t.Fatalf("%d of 20 back-to-back calls refused at max_rps 10", busy)
	}
	if !p.Saturated() {
		t.Fatal("out of rate tokens but not saturated")
	}
	// Concurrency: a third concurrent call waits for a slot.
	n.SetFault(fakenode.Fault{Delay: 100 * time.Millisecond})
	p2 := New(Options{ChainID: 7, Health: testHealth(), Provider: config.Provider{Name: "b", HTTP: n.URL(), MaxConcurrency: 2}})
	start := time.Now()
	done := make(chan struct{}, 3)
	for i := 0; i < 3; i++ {
		go func() { _, _ = p2.Call(context.Background(), "eth_gasPrice", nil); done <- struct{}{} }()
	}
	for i := 0; i < 3; i++ {
		<-done
	}
	if d := time.Since(start); d < 200*time.Millisecond {
		t.Fatalf("3 calls at max_concurrency 2 with 100ms each took %s; want two rounds", d)
	}
}
