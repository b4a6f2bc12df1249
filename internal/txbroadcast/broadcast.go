package txbroadcast

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"

	"github.com/rpcmesh/rpcmesh/internal/jsonrpc"
)

// Outcome is what one provider did with a transaction.
type Outcome struct {
	Provider string    `json:"provider"`
	Operator string    `json:"operator"`
	Cloud    string    `json:"cloud,omitempty"`
	At       time.Time `json:"at"`
	Accepted bool      `json:"accepted"`         // answered the hash, or "already known"
	Reason   Reason    `json:"reason,omitempty"` // why it rejected, or already_known
	Error    string    `json:"error,omitempty"`  // the node's message or the transport failure
	// InPool is the pool check right after an acceptance: whether the
	// provider then reported the transaction (nil: not checked). A provider
	// that accepts and does not have it is suspected of dropping it.
	InPool *bool `json:"inPool,omitempty"`
}

// defaultStagger is how long the first target has the transaction alone
// at most, when it is slow to answer.
const defaultStagger = 250 * time.Millisecond

// Broadcaster sends transactions to several providers at once. Safe for
// concurrent use; Close waits for sends still running.
type Broadcaster struct {
	fanout  int
	timeout time.Duration
	stagger time.Duration
	logger  *slog.Logger
	wg      sync.WaitGroup
}

// New builds a broadcaster sending to fanout providers, each attempt
// bounded by timeout.
func New(fanout int, timeout time.Duration, logger *slog.Logger) *Broadcaster {
	if fanout < 1 {
		fanout = 1
	}
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Broadcaster{fanout: fanout, timeout: timeout, stagger: defaultStagger, logger: logger}
}

// Close waits until every send started by Send has finished.
func (b *Broadcaster) Close() { b.wg.Wait() }

// Send sends tx to the broadcaster's fan-out of targets from ranked (see
// Distinct), skipping names in skip. The first target gets it alone for
// up to the stagger delay (until it answered and its pool was checked), so
// that its pool check cannot be masked by the others' gossip: a censoring
// first choice is always caught. Then the rest get it in parallel. A
// target that fails below the JSON-RPC level is replaced by the next one
// of another operator. Send returns at the first acceptance; every send
// runs to its end even after that (or after ctx ends), and done then gets
// every outcome. If no target accepts, the error is the most specific
// rejection (-32003), or -32011 when no provider answered, or -32002 when
// there was none.
func (b *Broadcaster) Send(ctx context.Context, tx *Tx, ranked []Target, skip map[string]bool, done func([]Outcome)) (Outcome, error) {
	params, _ := json.Marshal([]hexutil.Bytes{tx.Raw})
	first := Distinct(ranked, b.fanout, skip)
	if len(first) == 0 {
		if done != nil {
			done(nil)
		}
		return Outcome{}, jsonrpc.Errorf(jsonrpc.CodeNoProvider, "no provider available for eth_sendRawTransaction")
	}
	f := &fanout{b: b, ctx: context.WithoutCancel(ctx), params: params, hash: tx.Hash, ranked: ranked,
		tried: map[string]bool{}, usedOps: map[string]bool{},
		results: make(chan Outcome, len(ranked)), accepts: make(chan Outcome, len(ranked))}
	for n := range skip {
		f.tried[n] = true
	}
	for _, t := range first {
		f.usedOps[operator(t)] = true
	}
	answer := make(chan Outcome, 1)
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		all := f.run(first, answer)
		if done != nil {
			done(all)
		}
	}()
	select {
	case o := <-answer:
		if o.Accepted {
			return o, nil
		}
		return o, o.err()
	case <-ctx.Done():
		return Outcome{}, jsonrpc.Errorf(jsonrpc.CodeTimeout, "timeout waiting for providers to accept the transaction")
	}
}

// fanout is one Send in progress.
type fanout struct {
	b       *Broadcaster
	ctx     context.Context
	params  json.RawMessage
	hash    common.Hash
	ranked  []Target
	tried   map[string]bool
	usedOps map[string]bool
	results chan Outcome // every send's final outcome
	accepts chan Outcome // acceptances, as soon as they arrive
	running int
}

func (f *fanout) launch(t Target) {
	f.tried[t.Name()] = true
	f.running++
	f.b.wg.Add(1)
	go func() {
		defer f.b.wg.Done()
		f.results <- f.b.sendOne(f.ctx, t, f.params, f.hash, func(o Outcome) { f.accepts <- o })
	}()
}

// run sends to first[0], then to the rest, and collects the outcomes; the
// first acceptance (or the summed-up failure) goes to answer.
func (f *fanout) run(first []Target, answer chan<- Outcome) []Outcome {
	f.launch(first[0])
	rest := first[1:]
	var stagger <-chan time.Time
	if len(rest) > 0 {
		t := time.NewTimer(f.b.stagger)
		defer t.Stop()
		stagger = t.C
	}
	launchRest := func() {
		for _, t := range rest {
			f.launch(t)
		}
		rest, stagger = nil, nil
	}
	var all []Outcome
	answered := false
	for f.running > 0 {
		select {
		case o := <-f.accepts:
			if !answered {
				answered = true
				answer <- o
			}
		case <-stagger:
			launchRest()
		case o := <-f.results:
			f.running--
			all = append(all, o)
			if o.Accepted && !answered {
				// Its acceptance is still in f.accepts: select picked
				// the result first. Answer with it all the same.
				answered = true
				answer <- o
			}
			launchRest()
			if !o.Accepted && o.Reason == "" && !answered {
				// Not answered at all: try one more operator.
				if t := nextTarget(f.ranked, f.tried, f.usedOps); t != nil {
					f.usedOps[operator(t)] = true
					f.launch(t)
				}
			}
		}
	}
	if !answered {
		answer <- failed(all)
	}
	return all
}

// nextTarget is the best untried target of an operator not yet used.
func nextTarget(ranked []Target, tried, usedOps map[string]bool) Target {
	for _, t := range ranked {
		if !tried[t.Name()] && !usedOps[operator(t)] {
			return t
		}
	}
	return nil
}

// sendOne sends to one target and, on acceptance, checks its pool.
func (b *Broadcaster) sendOne(ctx context.Context, t Target, params json.RawMessage, hash common.Hash, accepted func(Outcome)) Outcome {
	l := t.Labels()
	o := Outcome{Provider: t.Name(), Operator: operator(t), Cloud: l.Cloud, At: time.Now()}
	cctx, cancel := context.WithTimeout(ctx, b.timeout)
	defer cancel()
	res, err := t.Call(cctx, "eth_sendRawTransaction", params)
	var je *jsonrpc.Error
	switch {
	case err == nil:
		var got common.Hash
		if json.Unmarshal(res, &got) != nil || got != hash {
			o.Error = fmt.Sprintf("answered hash %s, want %s", res, hash.Hex())
			o.Reason = ReasonOther
			return o
		}
		o.Accepted = true
	case errors.As(err, &je):
		o.Error = je.Message
		o.Reason = classify(je.Message)
		if o.Reason != ReasonAlreadyKnown {
			return o
		}
		o.Accepted = true
	default:
		o.Error = err.Error()
		return o
	}
	accepted(o)
	o.InPool = b.inPool(cctx, t, hash)
	b.logger.Debug("transaction accepted", "provider", o.Provider, "hash", hash.Hex(), "in_pool", o.InPool != nil && *o.InPool)
	return o
}

// inPool asks t whether it has the transaction it just accepted.
func (b *Broadcaster) inPool(ctx context.Context, t Target, hash common.Hash) *bool {
	params, _ := json.Marshal([]common.Hash{hash})
	res, err := t.Call(ctx, "eth_getTransactionByHash", params)
	var je *jsonrpc.Error
	if errors.As(err, &je) && strings.Contains(je.Message, "indexing is in progress") {
		// go-ethereum looks in its pool first; this answer means "not there".
		found := false
		return &found
	}
	if err != nil {
		b.logger.Debug("pool check failed", "provider", t.Name(), "hash", hash.Hex(), "err", err)
		return nil
	}
	found := len(res) > 0 && string(res) != "null"
	return &found
}

// failed sums up outcomes none of which accepted.
func failed(all []Outcome) Outcome {
	var best *Outcome
	for i := range all {
		o := &all[i]
		if o.Reason != "" && (best == nil || rank(o.Reason) < rank(best.Reason)) {
			best = o
		}
	}
	if best != nil {
		return *best
	}
	return Outcome{Error: "every provider failed"}
}

// err is the client's error for an outcome that was not accepted.
func (o Outcome) err() error {
	if o.Reason != "" {
		return rejectedError(o.Reason, o.Error)
	}
	return jsonrpc.Errorf(jsonrpc.CodeUpstreamError, "upstream error: no provider answered eth_sendRawTransaction")
}
