package upstream

import (
	"context"
	"testing"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/config"
	"github.com/rpcmesh/rpcmesh/internal/fakenode"
	"github.com/rpcmesh/rpcmesh/internal/head"
)

// TestNextPoll: head polls are timed to when the provider's next block is
// nearly due, then repeated every tenth of a block time, within the
// configured bounds.
func TestNextPoll(t *testing.T) {
	const maxWait = 2 * time.Second
	now := time.Unix(1_700_000_000, 0)
	cases := []struct {
		name      string
		blockTime time.Duration
		sinceRise time.Duration // since the provider's last new head
		want      time.Duration
	}{
		{"block time unknown", 0, 0, maxWait},
		{"just saw a block", 500 * time.Millisecond, 0, 375 * time.Millisecond},
		{"block nearly due", 500 * time.Millisecond, 300 * time.Millisecond, 100 * time.Millisecond},
		{"block late: a tenth of a block time, at least poll_min_interval", 500 * time.Millisecond, 600 * time.Millisecond, 100 * time.Millisecond},
		{"12s blocks, late", 12 * time.Second, 13 * time.Second, 1200 * time.Millisecond},
		{"12s blocks, just seen: at most poll_interval", 12 * time.Second, 0, maxWait},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := config.Default().Health
			p := New(Options{Chain: "c", ChainID: 1, Provider: config.Provider{Name: "a", HTTP: "http://127.0.0.1:1"}, Health: h,
				BlockTime: func() time.Duration { return tc.blockTime }})
			p.headRiseAt = now.Add(-tc.sinceRise)
			if got := p.nextPoll(now, maxWait); got != tc.want {
				t.Fatalf("nextPoll = %s, want %s", got, tc.want)
			}
		})
	}
}

// TestBlockNumberAnswerPushesHead: a client's eth_blockNumber answer above
// the provider's last head polls it at once, at most once per
// poll_min_interval.
func TestBlockNumberAnswerPushesHead(t *testing.T) {
	chain := fakenode.NewChain(7, 100)
	n := fakenode.Start("a", chain)
	defer n.Close()
	h := testHealth()
	h.PollMinInterval = config.Duration(time.Hour) // one push per test
	p := New(Options{ChainID: 7, Provider: config.Provider{Name: "a", HTTP: n.URL()}, Health: h})
	p.head = head.Block{Number: 100, Hash: chain.Hash(100)}
	poked := func() bool {
		select {
		case <-p.poke:
			return true
		default:
			return false
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	steps := []struct {
		name      string
		chainHead uint64
		want      bool
	}{
		{"at the known head", 100, false},
		{"past it", 101, true},
		{"past it again within poll_min_interval", 102, false},
	}
	for _, s := range steps {
		chain.SetHead(s.chainHead)
		if _, err := p.Call(ctx, "eth_blockNumber", nil); err != nil {
			t.Fatal(err)
		}
		if got := poked(); got != s.want {
			t.Errorf("%s: poked %v, want %v", s.name, got, s.want)
		}
	}
}
