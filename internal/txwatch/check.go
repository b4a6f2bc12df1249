package txwatch

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"

	"github.com/rpcmesh/rpcmesh/internal/pause"
	"github.com/rpcmesh/rpcmesh/internal/txbroadcast"
)

// checkConcurrency bounds the transactions checked at once.
const checkConcurrency = 4

// Run checks the pending transactions every watch_interval until ctx ends.
func (w *Watcher) Run(ctx context.Context) {
	pause.Every(ctx, max(w.o.Config.WatchInterval.D(), 50*time.Millisecond), func() { w.tick(ctx) })
}

// tick checks every pending transaction once and forgets finished ones
// older than expire_after.
func (w *Watcher) tick(ctx context.Context) {
	now := time.Now()
	var pending []string
	w.mu.Lock()
	for k, e := range w.txs {
		switch {
		case e.State == StatePending && now.Sub(e.FirstSent) > w.o.Config.ExpireAfter.D():
			w.finishLocked(e, StateExpired)
		case e.State == StatePending:
			pending = append(pending, k)
		case now.Sub(e.UpdatedAt) > w.o.Config.ExpireAfter.D():
			delete(w.txs, k)
			if w.store != nil {
				_ = w.store.delete(txBucket(w.o.Chain), k)
			}
		}
	}
	w.mu.Unlock()
	targets := w.Ranked()
	if len(targets) == 0 {
		return
	}
	w.scan(ctx, targets)
	head, haveHead := w.o.Head()
	sem := make(chan struct{}, checkConcurrency)
	var wg sync.WaitGroup
	for _, h := range pending {
		if !w.due(h, head, haveHead) {
			continue
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			w.check(ctx, h, targets)
		}()
	}
	wg.Wait()
}

// due reports whether the transaction's re-broadcast check is due: it was
// last broadcast rebroadcast_blocks blocks ago and is still pending.
func (w *Watcher) due(hash string, head uint64, haveHead bool) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	e, ok := w.txs[hash]
	return ok && e.State == StatePending && haveHead && head >= e.LastBroadcastBlock+w.o.Config.RebroadcastBlocks
}

// sighting is one provider's answer to eth_getTransactionByHash.
type sighting struct {
	target    txbroadcast.Target
	known     bool
	blockHash string
	number    uint64
}

// check asks every provider about one transaction whose re-broadcast is
// due and acts on the answers: included (when the block scan missed it,
// e.g. before a restart), replaced, or re-broadcast when it did not spread.
func (w *Watcher) check(ctx context.Context, hash string, targets []txbroadcast.Target) {
	cctx, cancel := context.WithTimeout(ctx, max(w.o.Config.WatchInterval.D(), time.Second))
	defer cancel()
	sightings := lookup(cctx, hash, targets)
	head, haveHead := w.o.Head()
	inc := agreedInclusion(sightings, w.o.Agreement, head, haveHead)
	if inc != nil && !w.prove(cctx, hash, inc) {
		inc = nil
	}

	w.mu.Lock()
	e, ok := w.txs[hash]
	if !ok || e.State != StatePending {
		w.mu.Unlock()
		return
	}
	seenAnywhere := false
	for _, s := range sightings {
		if s.known {
			seenAnywhere = true
			if !slices.Contains(e.SeenIn, s.target.Name()) {
				e.SeenIn = append(e.SeenIn, s.target.Name())
			}
		}
	}
	if inc != nil {
		e.Included = inc
		w.recordCensorsLocked(e)
		w.finishLocked(e, StateIncluded)
		w.mu.Unlock()
		return
	}
	spread := false
	sent := e.sentTo()
	for _, p := range e.SeenIn {
		spread = spread || !sent[p]
	}
	due := haveHead && head >= e.LastBroadcastBlock+w.o.Config.RebroadcastBlocks
	if due {
		e.LastBroadcastBlock = head
	}
	w.saveLocked(e)
	raw, from, nonce := e.Raw, e.From, e.Nonce
	w.mu.Unlock()

	switch {
	case !seenAnywhere && due && w.replaced(cctx, targets, from, nonce):
		w.mu.Lock()
		w.finishLocked(e, StateReplaced)
		w.mu.Unlock()
	case due && !spread:
		w.rebroadcast(ctx, raw, sent)
	}
}

// prove checks inc against the receipt proven through the verification
// stage (Options.Receipt) and marks it proven; true without Receipt.
func (w *Watcher) prove(ctx context.Context, hash string, inc *Inclusion) bool {
	if w.o.Receipt == nil {
		return true
	}
	num, blockHash, err := w.o.Receipt(ctx, hash)
	switch {
	case err != nil:
		w.logger.Debug("transaction watch: inclusion not proven yet", "hash", hash, "err", err)
		return false
	case !strings.EqualFold(blockHash, inc.BlockHash):
		w.logger.Warn("transaction watch: proven receipt is in another block than operators report", "hash", hash,
			"proven_block", num, "reported_block", inc.BlockNumber)
		return false
	}
	inc.Proven = true
	return true
}

// lookup asks every target for the transaction, in parallel.
func lookup(ctx context.Context, hash string, targets []txbroadcast.Target) []sighting {
	params, _ := json.Marshal([]string{hash})
	out := make([]sighting, len(targets))
	var wg sync.WaitGroup
	for i, t := range targets {
		out[i].target = t
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := t.Call(ctx, "eth_getTransactionByHash", params)
			if err != nil || len(res) == 0 || string(res) == "null" {
				return
			}
			var tx struct {
				BlockHash   *common.Hash    `json:"blockHash"`
				BlockNumber *hexutil.Uint64 `json:"blockNumber"`
			}
			if json.Unmarshal(res, &tx) != nil {
				return
			}
			out[i].known = true
			if tx.BlockHash != nil && tx.BlockNumber != nil {
				out[i].blockHash, out[i].number = tx.BlockHash.Hex(), uint64(*tx.BlockNumber)
			}
		}()
	}
	wg.Wait()
	return out
}

// agreedInclusion is the block that agreement distinct operators (or all
// that answered, when fewer answered at all) report the transaction in, at
// or below the agreed head.
func agreedInclusion(sightings []sighting, agreement int, head uint64, haveHead bool) *Inclusion {
	ops := map[string]map[string]bool{} // block hash → operators
	numbers := map[string]uint64{}
	answered := map[string]bool{}
	for _, s := range sightings {
		op := s.target.Labels().Operator
		if op == "" {
			op = s.target.Name()
		}
		if s.known {
			answered[op] = true
		}
		if s.blockHash == "" {
			continue
		}
		if ops[s.blockHash] == nil {
			ops[s.blockHash] = map[string]bool{}
		}
		ops[s.blockHash][op] = true
		numbers[s.blockHash] = s.number
	}
	need := min(agreement, max(len(answered), 1))
	for h, set := range ops {
		if len(set) >= need && (!haveHead || numbers[h] <= head) {
			inc := &Inclusion{BlockNumber: numbers[h], BlockHash: h}
			for op := range set {
				inc.Operators = append(inc.Operators, op)
			}
			slices.Sort(inc.Operators)
			return inc
		}
	}
	return nil
}

// replaced reports whether the account's mined nonce passed the
// transaction's without it: another transaction took its nonce.
func (w *Watcher) replaced(ctx context.Context, targets []txbroadcast.Target, from string, nonce uint64) bool {
	params, _ := json.Marshal([]string{from, "latest"})
	for _, t := range targets[:min(len(targets), 2)] {
		res, err := t.Call(ctx, "eth_getTransactionCount", params)
		if err != nil {
			continue
		}
		var n hexutil.Uint64
		if json.Unmarshal(res, &n) == nil {
			return uint64(n) > nonce
		}
	}
	return false
}

// rebroadcast sends the transaction to providers that have not had it; if
// every provider has, to all again (a pool may have evicted it).
func (w *Watcher) rebroadcast(ctx context.Context, raw []byte, sent map[string]bool) {
	tx, err := txbroadcast.FromRaw(raw)
	if err != nil {
		w.logger.Error("transaction watch: stored transaction does not decode", "err", err)
		return
	}
	ranked := w.Ranked()
	skip := sent
	if len(txbroadcast.Distinct(ranked, 1, skip)) == 0 {
		skip = nil
	}
	w.o.Metrics.rebroadcast(w.o.Chain)
	w.mu.Lock()
	if e, ok := w.txs[tx.Hash.Hex()]; ok {
		e.Rebroadcasts++
	}
	w.mu.Unlock()
	w.logger.Info("re-broadcasting transaction", "hash", tx.Hash.Hex(), "skip", len(skip))
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_, _ = w.o.Broadcaster.Send(sctx, tx, ranked, skip, func(all []txbroadcast.Outcome) { w.record(tx, all) })
}

// recordCensorsLocked records every provider that accepted e but did not
// hold it right after, now that e was mined through others.
func (w *Watcher) recordCensorsLocked(e *Entry) {
	var via []string
	for _, s := range e.Sends {
		if s.Accepted && (s.InPool == nil || *s.InPool) {
			via = append(via, s.Provider)
		}
	}
	now := time.Now()
	for _, s := range e.Sends {
		if !s.Accepted || s.InPool == nil || *s.InPool || slices.Contains(e.CensoredBy, s.Provider) {
			continue
		}
		ev := Evidence{Provider: s.Provider, Operator: s.Operator, Hash: e.Hash, AcceptedAt: s.At,
			BlockNumber: e.Included.BlockNumber, BlockHash: e.Included.BlockHash, MinedVia: via, RecordedAt: now}
		e.CensoredBy = append(e.CensoredBy, s.Provider)
		w.addEvidenceLocked(ev)
		w.o.Metrics.censor(w.o.Chain, s.Provider, s.Operator)
		if w.o.Penalise != nil {
			w.o.Penalise(s.Provider, "censored")
		}
		w.logger.Warn("censorship recorded", "provider", s.Provider, "operator", s.Operator, "hash", e.Hash, "block", ev.BlockNumber)
		if w.store != nil {
			if err := w.store.put(evidenceBucket(w.o.Chain), e.Hash+"/"+s.Provider, ev); err != nil {
				w.logger.Error("transaction watch: store write failed", "err", err)
			}
		}
	}
}

// finishLocked moves e to a final state. Called with mu held.
func (w *Watcher) finishLocked(e *Entry, s State) {
	e.State = s
	e.UpdatedAt = time.Now()
	w.saveLocked(e)
	w.o.Metrics.finish(w.o.Chain, s)
}
