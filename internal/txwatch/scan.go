package txwatch

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"

	"github.com/rpcmesh/rpcmesh/internal/txbroadcast"
)

// maxScanBack bounds how far below the agreed head the block scan starts
// (after a restart) and how many blocks one tick scans.
const maxScanBack = 256

// scan reads the blocks the agreed head moved past since the last tick,
// each from agreement distinct operators, and marks the pending
// transactions in them included when the operators agree on the block's
// hash. Its cost is per block, not per transaction; the per-transaction
// lookup (check) runs only when a re-broadcast is due.
func (w *Watcher) scan(ctx context.Context, targets []txbroadcast.Target) {
	head, ok := w.o.Head()
	if !ok {
		return
	}
	w.mu.Lock()
	from := w.scanned + 1
	if w.scanned == 0 {
		from = head
		for _, e := range w.txs {
			if e.State == StatePending {
				from = min(from, e.SentAtBlock)
			}
		}
	}
	if head >= maxScanBack && from+maxScanBack <= head {
		from = head - maxScanBack + 1
	}
	pending := w.pendingLocked()
	w.mu.Unlock()
	if pending == 0 {
		w.setScanned(head)
		return
	}
	need := min(w.o.Agreement, len(txbroadcast.Distinct(targets, len(targets), nil)))
	budget := time.Now().Add(max(2*w.o.Config.WatchInterval.D(), time.Second))
	for n := from; n <= head && time.Now().Before(budget); n++ {
		b, ops, ok := agreedBlock(ctx, targets, n, max(need, 1))
		if !ok {
			return // try again next tick
		}
		w.mu.Lock()
		var ours []string
		for _, h := range b.Transactions {
			if e, ok := w.txs[h.Hex()]; ok && e.State == StatePending {
				ours = append(ours, e.Hash)
			}
		}
		w.mu.Unlock()
		proven := true
		for _, hash := range ours {
			inc := &Inclusion{BlockNumber: n, BlockHash: b.Hash.Hex(), Operators: ops}
			if !w.prove(ctx, hash, inc) {
				proven = false // looked at again next tick
				continue
			}
			w.mu.Lock()
			if e, ok := w.txs[hash]; ok && e.State == StatePending {
				e.Included = inc
				w.recordCensorsLocked(e)
				w.finishLocked(e, StateIncluded)
			}
			w.mu.Unlock()
		}
		if !proven {
			return
		}
		w.setScanned(n)
	}
}

func (w *Watcher) setScanned(n uint64) {
	w.mu.Lock()
	w.scanned = max(w.scanned, n)
	w.mu.Unlock()
}

// block is the part of eth_getBlockByNumber(n, false) the scan reads.
type block struct {
	Hash         common.Hash   `json:"hash"`
	Transactions []common.Hash `json:"transactions"`
}

// agreedBlock fetches block n in parallel from need+1 distinct operators
// and returns it when need of them report the same hash.
func agreedBlock(ctx context.Context, targets []txbroadcast.Target, n uint64, need int) (block, []string, bool) {
	params, _ := json.Marshal([]any{hexutil.Uint64(n), false})
	cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	asked := txbroadcast.Distinct(targets, need+1, nil)
	blocks := make([]block, len(asked))
	var wg sync.WaitGroup
	for i, t := range asked {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if res, err := t.Call(cctx, "eth_getBlockByNumber", params); err == nil {
				_ = json.Unmarshal(res, &blocks[i])
			}
		}()
	}
	wg.Wait()
	byHash := map[common.Hash][]string{}
	for i, b := range blocks {
		if b.Hash == (common.Hash{}) {
			continue
		}
		op := asked[i].Labels().Operator
		if op == "" {
			op = asked[i].Name()
		}
		byHash[b.Hash] = append(byHash[b.Hash], op)
		if len(byHash[b.Hash]) >= need {
			return b, byHash[b.Hash], true
		}
	}
	return block{}, nil, false
}
