package upstream

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/config"
	"github.com/rpcmesh/rpcmesh/internal/devnet"
	"github.com/rpcmesh/rpcmesh/internal/head"
	"github.com/rpcmesh/rpcmesh/internal/upstream/transport/wstest"
)

// headLog is what a provider reported, in order.
type headLog struct {
	mu     sync.Mutex
	blocks []head.Block
}

func (l *headLog) add(_ *Provider, b head.Block) {
	l.mu.Lock()
	l.blocks = append(l.blocks, b)
	l.mu.Unlock()
}

func (l *headLog) snapshot() []head.Block {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]head.Block(nil), l.blocks...)
}

// unlinked returns the reported blocks, after the first, whose parent is not
// the block the provider reported last at the height below.
func unlinked(blocks []head.Block) []head.Block {
	last := map[uint64]string{}
	var bad []head.Block
	for i, b := range blocks {
		if i > 0 && last[b.Number-1] != b.Parent {
			bad = append(bad, b)
		}
		last[b.Number] = b.Hash
	}
	return bad
}

// TestNewHeadsFillGaps follows a real go-ethereum node's newHeads feed
// (with no head polls, so that only the feed reports) across the two ways
// a feed jumps: a reorg, after which geth sends only the new branch's head,
// and a catch-up after the node lagged, after which it sends only the head
// it caught up to. Every block the provider reports must link by parent
// hash to the one it reported below it: the skipped blocks are fetched by
// parent hash, as a poll does. On b7e1cca the feed's heads were reported
// as they came, with the gap.
func TestNewHeadsFillGaps(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	d, err := devnet.Start(ctx, devnet.Options{Nodes: 2, BlockTime: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	node := d.Info().Nodes[1] // a follower: lagging it leaves the chain going
	wstest.WaitFor(t, "blocks to reorg", func() bool { n, _ := d.Head(); return n >= 4 })
	cases := []struct {
		name string
		// jump makes the node's feed jump and returns the height the
		// provider must reach after it.
		jump func(t *testing.T) uint64
	}{
		{"reorg of two blocks", func(t *testing.T) uint64 {
			f, err := d.SetFault(ctx, devnet.FaultSpec{Target: "all", Kind: devnet.FaultReorg, Params: json.RawMessage(`{"depth":2}`)})
			if err != nil {
				t.Fatal(err)
			}
			return f.Reorg.FromNumber + 1
		}},
		{"catch-up after lag", func(t *testing.T) uint64 {
			clear := d.Stage(t, devnet.FaultSpec{Target: node.Name, Kind: devnet.FaultLag})
			from, _ := d.Head()
			wstest.WaitFor(t, "three blocks while the node lags", func() bool { n, _ := d.Head(); return n >= from+3 })
			clear()
			n, _ := d.Head()
			return n
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var log headLog
			h := testHealth()
			h.ProviderTimeout = config.Duration(5 * time.Second)
			p := New(Options{Chain: "dev", ChainID: d.Info().ChainID, Health: h, CheckHeaderHash: true, OnHead: log.add,
				Provider: config.Provider{Name: node.Name, HTTP: node.HTTP, WS: node.WS}})
			defer p.Close()
			if err := p.CheckChainID(ctx); err != nil {
				t.Fatal(err)
			}
			fctx, stop := context.WithCancel(ctx)
			followed := make(chan struct{})
			go func() { p.followNewHeads(fctx); close(followed) }()
			defer func() { stop(); <-followed }()
			reported := func(n uint64) func() bool {
				return func() bool {
					b := log.snapshot()
					return len(b) > 0 && b[len(b)-1].Number >= n
				}
			}
			now, _ := d.Head()
			// Three heads first: the reorg's branch then starts above the
			// first reported, where there is a block to link to.
			wstest.WaitFor(t, "three heads over newHeads", reported(now+3))
			wstest.WaitFor(t, "the head after the jump", reported(tc.jump(t)+1))
			blocks := log.snapshot()
			if bad := unlinked(blocks); len(bad) > 0 {
				var s []string
				for _, b := range blocks {
					s = append(s, b.Hash[:10]+"@"+strconv.FormatUint(b.Number, 10))
				}
				t.Fatalf("%d reported blocks do not link to the block reported below them (first: %d); reported: %s",
					len(bad), bad[0].Number, strings.Join(s, " "))
			}
		})
	}
}
