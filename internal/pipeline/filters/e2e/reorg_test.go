package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/params"

	"github.com/rpcmesh/rpcmesh/internal/devnet"
	"github.com/rpcmesh/rpcmesh/internal/devnetgw"
	"github.com/rpcmesh/rpcmesh/internal/testwait"
)

// trySend signs and sends a call of the log contract, without failing the
// test (it runs on a goroutine of its own); the nonce moves on success.
func (e *emitter) trySend(ctx context.Context, i int) error {
	id := new(big.Int).SetUint64(dn.Info().ChainID)
	tx, err := types.SignNewTx(e.key, types.LatestSignerForChainID(id), &types.DynamicFeeTx{
		ChainID: id, Nonce: e.nonce, GasTipCap: big.NewInt(params.GWei), GasFeeCap: big.NewInt(100 * params.GWei),
		Gas: 100000, To: &e.contract, Value: big.NewInt(0), Data: common.LeftPadBytes(big.NewInt(int64(i)).Bytes(), 32),
	})
	if err != nil {
		return err
	}
	if err := e.ec.SendTransaction(ctx, tx); err != nil {
		return err
	}
	e.nonce++
	return nil
}

// TestReorgRemovedLogsAndNewBranch keeps a contract emitting a log in
// every block, reorgs the last two blocks on every node, and checks what
// the filters give: the log filter the dropped blocks' logs again with
// removed: true (oldest block first, as go-ethereum), then the same
// transactions' logs from the new branch; the block filter the new
// branch's hashes after the old ones.
func TestReorgRemovedLogsAndNewBranch(t *testing.T) {
	devnetgw.AwaitHealthy(t, gw)
	ctx := testwait.Context(t, 90*time.Second)
	e := newEmitter(t, ctx, 4)
	logID := newFilter(t, ctx, url, "eth_newFilter", fmt.Sprintf(`[{"address":%q}]`, strings.ToLower(e.contract.Hex())))
	blockID := newFilter(t, ctx, url, "eth_newBlockFilter", `[]`)

	var logs []logSeen
	var blocks []string
	poll := func() {
		var l []logSeen
		_ = json.Unmarshal(must(t, ctx, url, "eth_getFilterChanges", fmt.Sprintf(`[%q]`, logID)), &l)
		logs = append(logs, l...)
		var b []string
		_ = json.Unmarshal(must(t, ctx, url, "eth_getFilterChanges", fmt.Sprintf(`[%q]`, blockID)), &b)
		blocks = append(blocks, b...)
	}
	pause := func(d time.Duration) {
		select {
		case <-ctx.Done():
			t.Fatalf("%v: %d logs, %d blocks", ctx.Err(), len(logs), len(blocks))
		case <-time.After(d):
		}
	}

	sendCtx, stopSending := context.WithCancel(ctx)
	var sendWG sync.WaitGroup
	sendWG.Add(1)
	go func() { // one call every 200 ms: every block holds logs
		defer sendWG.Done()
		for i := 0; sendCtx.Err() == nil; i++ {
			_ = e.trySend(sendCtx, i)
			select {
			case <-sendCtx.Done():
			case <-time.After(200 * time.Millisecond):
			}
		}
	}()
	defer func() { stopSending(); sendWG.Wait() }()

	for len(logs) < 4 {
		poll()
		pause(100 * time.Millisecond)
	}
	// Reorg once the filter has the devnet's head, so that the dropped
	// blocks are ones it gave.
	for {
		poll()
		if _, h := dn.Head(); len(blocks) > 0 && strings.EqualFold(blocks[len(blocks)-1], h) {
			break
		}
		pause(20 * time.Millisecond)
	}
	f, err := dn.SetFault(ctx, devnet.FaultSpec{Target: "all", Kind: devnet.FaultReorg, Params: json.RawMessage(`{"depth":2}`)})
	if err != nil {
		t.Fatal(err)
	}
	defer dn.ClearFault(f.ID)
	newTop := strings.ToLower(f.Reorg.NewHashes[len(f.Reorg.NewHashes)-1].Hex())
	for !contains(blocks, newTop) {
		poll()
		pause(100 * time.Millisecond)
	}
	waitBlocks(t, ctx, url, 3) // the new branch's logs, and blocks after it
	poll()
	stopSending()
	sendWG.Wait()

	old, neu := hashSet(f.Reorg.OldHashes), hashSet(f.Reorg.NewHashes)
	// Blocks: the old branch's hashes, then the new branch's, in order.
	at := func(h string) int {
		for i, b := range blocks {
			if strings.EqualFold(b, h) {
				return i
			}
		}
		return -1
	}
	prev := -1
	for _, h := range f.Reorg.NewHashes {
		i := at(h.Hex())
		if i < 0 || i < prev {
			t.Errorf("new branch block %s at %d in the block filter (after %d)", h, i, prev)
		}
		prev = i
	}
	for _, h := range f.Reorg.OldHashes {
		if i := at(h.Hex()); i < 0 || i > at(f.Reorg.NewHashes[0].Hex()) {
			t.Errorf("old branch block %s at %d, want before the new branch", h, i)
		}
	}
	// Logs: removed ones are of dropped blocks, were given before, read
	// oldest block first, and their transactions come back from the new branch.
	given := map[string]bool{}
	var removed []logSeen
	lastRemovedBlock := ""
	for _, l := range logs {
		key := strings.ToLower(l.TxHash + l.BlockHash)
		if !l.Removed {
			given[key] = true
			continue
		}
		removed = append(removed, l)
		if !old[strings.ToLower(l.BlockHash)] || !given[key] {
			t.Errorf("removed log %+v: not of a dropped block, or never given", l)
		}
		if lastRemovedBlock != "" && l.BlockNumber < lastRemovedBlock && len(l.BlockNumber) == len(lastRemovedBlock) {
			t.Errorf("removed logs not oldest block first: %s after %s", l.BlockNumber, lastRemovedBlock)
		}
		lastRemovedBlock = l.BlockNumber
	}
	if len(removed) == 0 {
		t.Fatalf("no removed logs among %d", len(logs))
	}
	for _, r := range removed {
		back := false
		for _, l := range logs {
			if !l.Removed && strings.EqualFold(l.TxHash, r.TxHash) && neu[strings.ToLower(l.BlockHash)] {
				back = true
			}
		}
		if !back {
			t.Errorf("transaction %s: log removed but not given again from the new branch", r.TxHash)
		}
	}
	t.Logf("%d blocks, %d logs, %d removed", len(blocks), len(logs), len(removed))
}

func hashSet(hs []common.Hash) map[string]bool {
	m := map[string]bool{}
	for _, h := range hs {
		m[strings.ToLower(h.Hex())] = true
	}
	return m
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}
