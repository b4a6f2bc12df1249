package verify

import (
	"context"
	"encoding/json"
	"fmt"
	"math/big"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/consensus/beacon"
	"github.com/ethereum/go-ethereum/consensus/ethash"
	"github.com/ethereum/go-ethereum/core"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/params"
)

// longChain returns n empty blocks' headers as JSON by hash, and the top.
func longChain(t *testing.T, n int) (map[common.Hash]json.RawMessage, *types.Block) {
	t.Helper()
	genesis := &core.Genesis{Config: ChainConfigFor(1337), Alloc: core.SystemContractAllocs(), GasLimit: 30_000_000,
		BaseFee: big.NewInt(params.InitialBaseFee), Difficulty: big.NewInt(0)}
	_, blocks, _ := core.GenerateChainWithGenesis(genesis, beacon.New(ethash.NewFaker()), n, nil)
	byHash := map[common.Hash]json.RawMessage{}
	for _, b := range blocks {
		raw, err := json.Marshal(b.Header())
		if err != nil {
			t.Fatal(err)
		}
		byHash[b.Hash()] = raw
	}
	return byHash, blocks[len(blocks)-1]
}

// TestConcurrentWalksShared: clients asking at once for an old block share
// one walk; without it each walk fetches every header (walks x depth).
func TestConcurrentWalksShared(t *testing.T) {
	const depth, walkers = 64, 8
	byHash, top := longChain(t, depth)
	var fetches atomic.Int32
	fetch := func(ctx context.Context, h common.Hash, _ uint64) (json.RawMessage, error) {
		fetches.Add(1)
		select { // an upstream round trip
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(2 * time.Millisecond):
		}
		raw, ok := byHash[h]
		if !ok {
			return nil, fmt.Errorf("unknown block")
		}
		return raw, nil
	}
	anchor := func() (uint64, common.Hash, bool) { return top.NumberU64(), top.Hash(), true }
	tr := NewLinkedTrust(anchor, fetch, 1024, 4096)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	concurrently(t, walkers, func() error {
		h, err := tr.HeaderByNumber(ctx, 1)
		if err == nil && h.Number.Uint64() != 1 {
			err = fmt.Errorf("header %d", h.Number)
		}
		return err
	})
	if n := fetches.Load(); n > depth+1 {
		t.Fatalf("%d concurrent walks of %d blocks made %d fetches; shared walks make at most %d", walkers, depth, n, depth+1)
	}
	t.Logf("%d concurrent walks of %d blocks: %d fetches", walkers, depth, fetches.Load())
}

// TestWalksBounded: at most the configured number of walks run at once.
func TestWalksBounded(t *testing.T) {
	const depth = 32
	byHash, top := longChain(t, depth)
	var inFlight, peak atomic.Int32
	fetch := func(ctx context.Context, h common.Hash, _ uint64) (json.RawMessage, error) {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Millisecond): // an upstream round trip
		}
		return byHash[h], nil
	}
	anchor := func() (uint64, common.Hash, bool) { return top.NumberU64(), top.Hash(), true }
	tr := NewLinkedTrust(anchor, fetch, 1024, 4096).WithMaxWalks(2)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := tr.HeaderByNumber(ctx, uint64(1+i)); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if p := peak.Load(); p > 2 {
		t.Fatalf("%d walks fetched at once, bound 2", p)
	}
}

// concurrently runs f on n goroutines at once and fails t with the first
// error any of them returned, after all are done.
func concurrently(t *testing.T, n int, f func() error) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- f()
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}
