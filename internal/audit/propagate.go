package audit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"golang.org/x/time/rate"

	"github.com/rpcmesh/rpcmesh/internal/jsonrpc"
	"github.com/rpcmesh/rpcmesh/internal/upstream"
)

// SentTx is a transaction users sent through the gateway, as the
// propagation check sees it.
type SentTx struct {
	Hash   common.Hash
	SentTo []string // providers the broadcast sent it to (never audited with it)
	HeldBy []string // providers that held it after accepting it, or reported it since
}

// SentSource gives the transactions users sent through the gateway (the
// chain's inclusion watch). Raw bytes are asked for only for the one
// transaction a check uses, and dropped when the check ends.
type SentSource interface {
	// Recent is up to n transactions first sent since since, pending or
	// included, newest first, leaving out those the broadcast sent to skip.
	Recent(since time.Time, n int, skip string) []SentTx
	// Raw is the signed transaction's bytes while they are still kept.
	Raw(hash common.Hash) ([]byte, bool)
}

// ErrCensored marks a provider that acknowledged a transaction and then
// did not know it, while another operator did.
var ErrCensored = errors.New("censored")

// propagationLoop runs p's propagation checks, as many a minute as
// audit.propagation.checks_per_minute allows, one at a time.
func (a *Auditor) propagationLoop(ctx context.Context, p *upstream.Provider) {
	lim := rate.NewLimiter(rate.Limit(a.o.Config.Propagation.ChecksPerMinute/60), 1)
	lim.Allow() // the bucket starts empty: a restart is no burst
	for {
		if err := lim.Wait(ctx); err != nil {
			return
		}
		a.runPropagation(ctx, p)
	}
}

// runPropagation checks p with one recent transaction another operator
// held and p was not sent, and records the outcome; with no such
// transaction nothing is counted.
func (a *Auditor) runPropagation(ctx context.Context, p *upstream.Provider) {
	pc := a.o.Config.Propagation
	var cands []SentTx
	for _, tx := range a.o.Sent.Recent(time.Now().Add(-pc.MaxAge.D()), pc.Transactions, p.Name()) {
		if len(a.witnesses(p, tx)) > 0 {
			cands = append(cands, tx)
		}
	}
	if len(cands) == 0 {
		return
	}
	cctx, cancel := context.WithTimeout(ctx, a.o.Config.Timeout.D()+pc.Wait.D())
	defer cancel()
	f := a.checkPropagation(cctx, p, cands[rand.IntN(len(cands))])
	if ctx.Err() != nil || f.skip {
		return
	}
	a.record(p, f)
}

// witnesses are the providers of other operators than p's that held tx,
// at most two: those that tell whether p's not knowing it is censorship.
func (a *Auditor) witnesses(p *upstream.Provider, tx SentTx) []*upstream.Provider {
	var out []*upstream.Provider
	for _, name := range tx.HeldBy {
		w := a.provider(name)
		if w == nil || w == p || operatorOf(w) == operatorOf(p) {
			continue
		}
		if out = append(out, w); len(out) == 2 {
			break
		}
	}
	return out
}

func operatorOf(p *upstream.Provider) string {
	if op := p.Labels().Operator; op != "" {
		return op
	}
	return p.Name()
}

// checkPropagation hands tx to p unless p already knows it, then waits
// (bounded, polling) for p to know it. Only an acknowledged transaction p
// still does not know while a witness does is a lie (ErrCensored); every
// honest refusal is absence or availability (sendOutcome).
func (a *Auditor) checkPropagation(ctx context.Context, p *upstream.Provider, tx SentTx) finding {
	hashParams := mustParams(tx.Hash)
	known, err := knows(ctx, p, tx.Hash)
	switch {
	case err != nil:
		return notLie(err)
	case known:
		return finding{outcome: Passed}
	}
	raw, ok := a.o.Sent.Raw(tx.Hash)
	if !ok {
		return finding{skip: true} // no longer tracked
	}
	// The bytes are public already; nothing keeps them past the send.
	res, err := p.AuditCall(ctx, "eth_sendRawTransaction", mustParams(hexutil.Bytes(raw)))
	if f, acked := sendOutcome(res, err, tx.Hash); !acked {
		return f
	}
	ackedAt := time.Now()
	wait := a.o.Config.Propagation.Wait.D()
	if known, err = pollKnows(ctx, p, tx.Hash, wait); known {
		return finding{outcome: Passed}
	}
	if err != nil {
		return notLie(err) // the last look failed: no answer is no lie
	}
	for _, w := range a.witnesses(p, tx) {
		if wk, werr := knows(ctx, w, tx.Hash); werr == nil && wk {
			return finding{outcome: Failed, method: "eth_getTransactionByHash", params: hashParams, answer: json.RawMessage("null"),
				err: fmt.Errorf("%w: acknowledged eth_sendRawTransaction of %s at %s, still did not know it %s later, while %s (operator %s) did",
					ErrCensored, tx.Hash.Hex(), ackedAt.UTC().Format(time.RFC3339Nano), wait, w.Name(), operatorOf(w))}
		}
	}
	// No witness knows it any more (replaced, evicted, or not answering):
	// nothing to hold against p.
	return finding{outcome: Absent}
}

// sendOutcome is what p's answer to eth_sendRawTransaction means: acked
// when it took the transaction (its hash, or "already known"); otherwise
// the finding. A refusal a node honestly gives (nonce too low after the
// transaction was mined, underpriced, replaced, insufficient funds) is
// Absent; a full pool, a rate limit, a timeout or a transport failure is
// Unavailable; a wrong hash is a lie.
func sendOutcome(res json.RawMessage, err error, hash common.Hash) (finding, bool) {
	if err == nil {
		var got common.Hash
		if json.Unmarshal(res, &got) != nil || got != hash {
			return finding{outcome: Failed, method: "eth_sendRawTransaction", params: mustParams(hash), answer: res,
				err: fmt.Errorf("answered %s for transaction %s: %w", res, hash.Hex(), errWrongHash)}, false
		}
		return finding{}, true
	}
	var je *jsonrpc.Error
	if !errors.As(err, &je) {
		return notLie(err), false
	}
	msg := strings.ToLower(je.Message)
	switch {
	case containsAny(msg, "already known", "known transaction", "alreadyknown", "already imported", "already exists"):
		return finding{}, true
	case containsAny(msg, "txpool is full", "pool is full", "rate limit", "too many requests", "limit exceeded"):
		return finding{outcome: Unavailable}, false
	}
	return notLie(err), false
}

// errWrongHash marks an acknowledgement with another transaction's hash.
var errWrongHash = errors.New("wrong transaction hash")

func containsAny(s string, subs ...string) bool {
	for _, x := range subs {
		if strings.Contains(s, x) {
			return true
		}
	}
	return false
}

// pollKnows asks p whether it knows hash until it does or wait has
// passed (a last look at the end); err is the last look's failure.
func pollKnows(ctx context.Context, p *upstream.Provider, hash common.Hash, wait time.Duration) (bool, error) {
	deadline := time.Now().Add(wait)
	every := max(wait/5, 100*time.Millisecond)
	for {
		known, err := knows(ctx, p, hash)
		if known || ctx.Err() != nil {
			return known, err
		}
		left := time.Until(deadline)
		if left <= 0 {
			return false, err
		}
		t := time.NewTimer(min(every, left))
		select {
		case <-ctx.Done():
			t.Stop()
			return false, ctx.Err()
		case <-t.C:
		}
	}
}

// knows asks p whether it has the transaction, in its pool or mined:
// eth_getTransactionByHash, then eth_getTransactionReceipt. An answer for
// another hash is not knowing it.
func knows(ctx context.Context, p *upstream.Provider, hash common.Hash) (bool, error) {
	params := mustParams(hash)
	for _, q := range []struct{ method, field string }{
		{"eth_getTransactionByHash", "hash"},
		{"eth_getTransactionReceipt", "transactionHash"},
	} {
		raw, err := ask(ctx, p, q.method, params)
		if errors.Is(err, errNull) {
			continue
		}
		if err != nil {
			return false, err
		}
		var obj map[string]json.RawMessage
		var got common.Hash
		if json.Unmarshal(raw, &obj) == nil && json.Unmarshal(obj[q.field], &got) == nil && got == hash {
			return true, nil
		}
	}
	return false, nil
}

func mustParams(v any) json.RawMessage {
	b, _ := json.Marshal([]any{v})
	return b
}
