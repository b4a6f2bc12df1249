package verification

import (
	"bytes"
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common/hexutil"

	"github.com/rpcmesh/rpcmesh/internal/testwait"
	"github.com/rpcmesh/rpcmesh/internal/verify"
)

// countingAsker counts the full blocks fetched upstream and their bytes.
type countingAsker struct {
	Asker
	fullBlocks, bytes atomic.Int64
}

func (c *countingAsker) count(req Request, a Answer) Answer {
	if req.Method == "eth_getBlockByHash" && bytes.HasSuffix(bytes.TrimSpace(req.Params), []byte("true]")) {
		c.fullBlocks.Add(1)
		c.bytes.Add(int64(len(a.Value)))
	}
	return a
}

func (c *countingAsker) Ask(ctx context.Context, req Request, avoid map[string]bool) Answer {
	return c.count(req, c.Asker.Ask(ctx, req, avoid))
}

func (c *countingAsker) AskProvider(ctx context.Context, name string, req Request) Answer {
	return c.count(req, c.Asker.AskProvider(ctx, name, req))
}

// TestBlockHashesFetchedOnce: polling eth_getBlockByNumber(n, false), as
// wallets and indexers do, fetches each block in full once with the block
// cache; without it, once per call. The counts are the measurement.
func TestBlockHashesFetchedOnce(t *testing.T) {
	d, act := sharedDevnet(t)
	ctx := testwait.Context(t, 2*time.Minute)
	const rounds = 5
	blocks := act.Blocks
	for _, size := range []int{0, 256} {
		h := newHarness(t, d)
		counter := &countingAsker{Asker: h.asker}
		o := h.v.o
		o.Asker, o.BlockCache, o.CheckPlain = counter, size, false
		fullBlockCacheOptions(&o, size, 256<<20) // off with block_cache 0: every call fetched
		v := New(h.v.next, o)
		for range rounds {
			for _, n := range blocks {
				params := verify.Params(hexutil.EncodeUint64(n), false)
				got, err := handle(ctx, v, newCall("eth_getBlockByNumber", params))
				want, werr := h.direct.call(ctx, "eth_getBlockByNumber", params)
				if err != nil || werr != nil || !sameAnswer(got, want) {
					t.Fatalf("block %d: %s %v; the node: %s %v", n, got, err, want, werr)
				}
			}
		}
		calls := rounds * len(blocks)
		t.Logf("block_cache %d: %d calls fetched %d full blocks upstream (%d bytes)", size, calls, counter.fullBlocks.Load(), counter.bytes.Load())
		if size > 0 && counter.fullBlocks.Load() > int64(len(blocks)) {
			t.Errorf("with the cache, %d full fetches for %d distinct blocks", counter.fullBlocks.Load(), len(blocks))
		}
	}
}
