package txwatch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/rpcmesh/rpcmesh/internal/config"
	"github.com/rpcmesh/rpcmesh/internal/jsonrpc"
	"github.com/rpcmesh/rpcmesh/internal/txbroadcast"
)

// maxEvidence bounds the censorship records kept in memory per chain.
const maxEvidence = 1000

// Options configure a Watcher.
type Options struct {
	Chain     string
	Config    config.Broadcast
	Agreement int // distinct operators that must report the inclusion block
	// Head is the chain's agreed head number.
	Head func() (uint64, bool)
	// Rank orders the usable providers for a broadcast, penalty giving
	// each provider's censorship count (txbroadcast.Ranked).
	Rank func(penalty func(name string) int) []txbroadcast.Target
	// Receipt, when set, looks the transaction's receipt up through the
	// verification stage: inclusion is recorded only when it is proven in
	// the block the operators report. Returns the block number and hash.
	Receipt func(ctx context.Context, hash string) (uint64, string, error)
	// Penalise lowers a provider's shared routing score when censorship
	// is recorded against it (upstream.Provider.Penalise); optional.
	Penalise    func(provider, reason string)
	Broadcaster *txbroadcast.Broadcaster
	Metrics     *Metrics
	Logger      *slog.Logger
}

// Watcher tracks one chain's transactions. Create it with New, give it a
// store with SetStore (optional), and run its loop with Run.
type Watcher struct {
	o      Options
	logger *slog.Logger

	mu       sync.Mutex
	store    *Store
	txs      map[string]*Entry
	evidence []Evidence
	censors  map[string]int // provider → censorship records
	scanned  uint64         // the last block the scan read
}

// New builds a watcher. It does no I/O.
func New(o Options) *Watcher {
	if o.Agreement < 1 {
		o.Agreement = 1
	}
	logger := o.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Watcher{o: o, logger: logger.With("chain", o.Chain), txs: map[string]*Entry{}, censors: map[string]int{}}
}

// SetStore loads what s holds for the chain and writes every later change
// there. Call it before Run.
func (w *Watcher) SetStore(s *Store) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	err := s.load(txBucket(w.o.Chain), func(v []byte) error {
		var e Entry
		if err := json.Unmarshal(v, &e); err != nil {
			return fmt.Errorf("txwatch: stored transaction: %w", err)
		}
		w.txs[e.Hash] = &e
		return nil
	})
	if err == nil {
		err = s.load(evidenceBucket(w.o.Chain), func(v []byte) error {
			var ev Evidence
			if err := json.Unmarshal(v, &ev); err != nil {
				return fmt.Errorf("txwatch: stored evidence: %w", err)
			}
			w.addEvidenceLocked(ev)
			return nil
		})
	}
	if err != nil {
		return err
	}
	w.store = s
	for _, e := range w.txs {
		w.saveLocked(e) // entries tracked before the store was set
	}
	return nil
}

// Ranked is the chain's providers in broadcast order, censors last.
func (w *Watcher) Ranked() []txbroadcast.Target { return w.o.Rank(w.Censorships) }

// Censorships is the number of censorship records of provider.
func (w *Watcher) Censorships(provider string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.censors[provider]
}

// Send broadcasts tx (txbroadcast.Broadcaster.Send) and tracks it. The
// entry exists before the first send, so every outcome lands in it; it is
// dropped again when no provider accepted.
func (w *Watcher) Send(ctx context.Context, tx *txbroadcast.Tx) (txbroadcast.Outcome, error) {
	head, _ := w.o.Head()
	created := w.begin(tx, head)
	o, err := w.o.Broadcaster.Send(ctx, tx, w.Ranked(), nil, func(all []txbroadcast.Outcome) { w.record(tx, all) })
	var je *jsonrpc.Error
	if err != nil && created && !(errors.As(err, &je) && je.Code == jsonrpc.CodeTimeout) {
		// Rejected everywhere or no provider: nothing to watch. After a
		// timeout a send may still be accepted, so the entry stays.
		w.forget(tx.Hash.Hex())
	}
	return o, err
}

// begin starts tracking tx; it reports whether the entry is new.
func (w *Watcher) begin(tx *txbroadcast.Tx, head uint64) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	key := tx.Hash.Hex()
	if e, ok := w.txs[key]; ok {
		if e.State == StateExpired || e.State == StateReplaced {
			e.State = StatePending // sent again
			e.FirstSent, e.UpdatedAt = time.Now(), time.Now()
			w.saveLocked(e)
		}
		return false
	}
	if w.pendingLocked() >= w.o.Config.MaxTracked {
		w.logger.Warn("transaction watch full: not tracking", "hash", key, "max_tracked", w.o.Config.MaxTracked)
		return false
	}
	now := time.Now()
	e := &Entry{Hash: key, From: tx.From.Hex(), Nonce: tx.Nonce, State: StatePending, Raw: tx.Raw,
		FirstSent: now, SentAtBlock: head, LastBroadcastBlock: head, UpdatedAt: now}
	w.txs[key] = e
	w.saveLocked(e)
	return true
}

// forget stops tracking a transaction no provider accepted.
func (w *Watcher) forget(key string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	e, ok := w.txs[key]
	if !ok || slices.ContainsFunc(e.Sends, func(o txbroadcast.Outcome) bool { return o.Accepted }) {
		return
	}
	delete(w.txs, key)
	if w.store != nil {
		_ = w.store.delete(txBucket(w.o.Chain), key)
	}
}

// record merges the outcomes of a finished send into tx's entry.
func (w *Watcher) record(tx *txbroadcast.Tx, all []txbroadcast.Outcome) {
	for _, o := range all {
		outcome := "failed"
		switch {
		case o.Accepted:
			outcome = "accepted"
		case o.Reason != "":
			outcome = "rejected"
		}
		w.o.Metrics.send(w.o.Chain, o.Provider, outcome)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	e, ok := w.txs[tx.Hash.Hex()]
	if !ok {
		return
	}
	for _, o := range all {
		i := slices.IndexFunc(e.Sends, func(s txbroadcast.Outcome) bool { return s.Provider == o.Provider })
		if i >= 0 {
			if !e.Sends[i].Accepted || o.Accepted {
				e.Sends[i] = o
			}
			continue
		}
		e.Sends = append(e.Sends, o)
	}
	e.UpdatedAt = time.Now()
	w.saveLocked(e)
}

// Status is where the transaction with hash stands (StateUnknown when it
// is not tracked).
func (w *Watcher) Status(hash common.Hash) Entry {
	w.mu.Lock()
	defer w.mu.Unlock()
	e, ok := w.txs[hash.Hex()]
	if !ok {
		return Entry{Hash: hash.Hex(), State: StateUnknown}
	}
	cp := e.clone()
	cp.Raw = nil
	return cp
}

// Evidence returns the censorship records, oldest first, and the count per
// provider.
func (w *Watcher) Evidence() ([]Evidence, map[string]int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	counts := make(map[string]int, len(w.censors))
	for k, v := range w.censors {
		counts[k] = v
	}
	return slices.Clone(w.evidence), counts
}

// SetReceipt sets Options.Receipt; call it before Run.
func (w *Watcher) SetReceipt(f func(ctx context.Context, hash string) (uint64, string, error)) {
	w.o.Receipt = f
}

// NextNonce is the nonce after the highest of from's transactions this
// gateway watches that are pending, included or replaced (0 when it holds
// none): the count a "pending" eth_getTransactionCount must at least
// answer. An included one counts too: a node's "pending" count can lag a
// block it just imported (its pool resets afterwards), and the client
// would then sign its next transaction with a used nonce.
func (w *Watcher) NextNonce(from common.Address) uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	var next uint64
	for _, e := range w.txs {
		used := e.State == StatePending || e.State == StateIncluded || e.State == StateReplaced
		if used && strings.EqualFold(e.From, from.Hex()) {
			next = max(next, e.Nonce+1)
		}
	}
	return next
}

// Pending is the number of transactions still watched.
func (w *Watcher) Pending() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.pendingLocked()
}

func (w *Watcher) pendingLocked() int {
	n := 0
	for _, e := range w.txs {
		if e.State == StatePending {
			n++
		}
	}
	return n
}

// saveLocked writes e to the store, if any. Called with mu held.
func (w *Watcher) saveLocked(e *Entry) {
	if w.store == nil {
		return
	}
	if err := w.store.put(txBucket(w.o.Chain), e.Hash, e); err != nil {
		w.logger.Error("transaction watch: store write failed", "hash", e.Hash, "err", err)
	}
}

// addEvidenceLocked keeps ev and counts it. Called with mu held.
func (w *Watcher) addEvidenceLocked(ev Evidence) {
	w.censors[ev.Provider]++
	w.evidence = append(w.evidence, ev)
	if len(w.evidence) > maxEvidence {
		w.evidence = slices.Delete(w.evidence, 0, len(w.evidence)-maxEvidence)
	}
}
