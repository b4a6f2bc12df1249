// Package pipeline is the request path of JSON-RPC calls, as a chain of
// stages in the manner of CoreDNS plugins: every stage is a Handler that
// holds the Next handler, does its one job, and either answers or passes
// the calls on. A stage handles a wave of calls (at most
// limits.batch_concurrency of a client's batch); a single call is a wave
// of one. The stages live in the folders below this one; the order is
// wired in one place (internal/pipeline/assemble) so that reading it tells
// the whole request path.
package pipeline

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/rpcmesh/rpcmesh/internal/blockref"
	"github.com/rpcmesh/rpcmesh/internal/ethmethod"
	"github.com/rpcmesh/rpcmesh/internal/jsonrpc"
)

// Call is one JSON-RPC call travelling down the pipeline, with what the
// stages share about it: stages may rewrite Params and fill in the block
// it reads; the stage that answers it sets Result or Err; the last stage
// fills in who served it.
type Call struct {
	Method string
	Params json.RawMessage // raw array or object, valid JSON; nil when absent
	Info   ethmethod.Info  // what the method is (read/write, block param)
	// Client is who sent the call (the remote IP address), for bounds
	// kept per client (filters) and the privacy policy's key (routing
	// keeps each client's addresses apart, docs/privacy.md); "" for the
	// gateway's own calls. It never reaches a provider.
	Client string

	// Ref is the call's block parameter, parsed and resolved once by the
	// block-tag stage (HasRef): a tag the agreed head has a number for
	// ("latest", "safe", "finalized") became that number; a tag it has
	// none for yet, "pending", "earliest" and a block hash (with its
	// requireCanonical) stay as written. An absent optional block param is
	// "latest".
	Ref    blockref.Ref
	HasRef bool
	// Range is an eth_getLogs filter's block range, resolved by the
	// block-tag stage to agreed numbers (HasRange); a filter by block
	// hash has none.
	Range    BlockRange
	HasRange bool
	// Block pins the call to a block: set by the block-tag stage once
	// tags are resolved, read by routing.
	Block    uint64
	HasBlock bool

	// Report says how the verification stage established the answer; nil
	// when the chain does not verify.
	Report *Report

	// The answer: the raw JSON result, or an error, which at the edge of
	// the pipeline is always a *jsonrpc.Error. Set by the stage that
	// answers the call.
	Result json.RawMessage
	Err    error

	// Served by: filled in by the last stage, for logs and metrics.
	Provider string
	Attempts int
	Hedged   bool
}

// BlockRange is a block range, both ends included.
type BlockRange struct{ From, To uint64 }

// NewCall builds a call for method with params.
func NewCall(method string, params json.RawMessage) *Call {
	return &Call{Method: method, Params: params, Info: ethmethod.Lookup(method)}
}

// Clone returns a copy of c, not answered yet, for a sub-call (the log
// splitter's chunks).
func (c *Call) Clone() *Call {
	cp := *c
	cp.Result, cp.Err, cp.Report = nil, nil, nil
	return &cp
}

// Answer sets c's answer.
func (c *Call) Answer(res json.RawMessage, err error) {
	c.Result, c.Err = res, err
}

// Handler handles a wave of calls: it answers every call of wave (Result
// or Err, on the call) before it returns. A wave's calls are distinct and
// are handled together: one pass of each stage over them, and one upstream
// batch for the ones routing may send together.
type Handler interface {
	Handle(ctx context.Context, wave []*Call)
}

// HandlerFunc adapts a function to a Handler.
type HandlerFunc func(ctx context.Context, wave []*Call)

// Handle calls f.
func (f HandlerFunc) Handle(ctx context.Context, wave []*Call) { f(ctx, wave) }

// Do runs one call through h, as a wave of one, and returns its answer:
// for the code that has a single call (subscriptions, filters, the
// inclusion watch, a stage's own sub-calls).
func Do(ctx context.Context, h Handler, c *Call) (json.RawMessage, error) {
	h.Handle(ctx, []*Call{c})
	if c.Err != nil {
		return nil, c.Err
	}
	return c.Result, nil
}

// Stage builds a stage in front of next.
type Stage func(next Handler) Handler

// Chain puts stages in front of last: stages[0] sees a call first.
func Chain(last Handler, stages ...Stage) Handler {
	h := last
	for i := len(stages) - 1; i >= 0; i-- {
		h = stages[i](h)
	}
	return h
}

// SetRange records r as c's eth_getLogs range and writes it into c's
// params: filter (c's filter object, decoded) with r's ends as its
// fromBlock and toBlock, in place of whatever range it had.
func (c *Call) SetRange(filter map[string]json.RawMessage, r BlockRange) {
	f := make(map[string]json.RawMessage, len(filter))
	for k, v := range filter {
		if !strings.EqualFold(k, "fromBlock") && !strings.EqualFold(k, "toBlock") {
			f[k] = v
		}
	}
	f["fromBlock"] = blockref.Quantity(nil, r.From)
	f["toBlock"] = blockref.Quantity(nil, r.To)
	raw, _ := json.Marshal(f) // values are raw JSON already validated
	c.Params = jsonrpc.EncodeParams([]json.RawMessage{raw})
	c.Range, c.HasRange = r, true
}
