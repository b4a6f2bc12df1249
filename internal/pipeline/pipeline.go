// Package pipeline is the request path of one JSON-RPC call, as a chain of
// stages in the manner of CoreDNS plugins: every stage is a Handler that
// holds the Next handler, does its one job, and either answers or passes
// the call on. The stages live in the folders below this one; the order
// is wired in one place (internal/server/pipeline.go) so that reading it
// tells the whole request path.
package pipeline

import (
	"context"
	"encoding/json"

	"github.com/rpcmesh/rpcmesh/internal/ethmethod"
)

// Call is one JSON-RPC call travelling down the pipeline. Stages may
// rewrite Params and fill in routing hints; the final stage fills in how
// the call was served.
type Call struct {
	Method string
	Params json.RawMessage // raw array or object, valid JSON; nil when absent
	Info   ethmethod.Info  // what the method is (read/write, block param)
	// Client is who sent the call (the remote IP address), for bounds
	// kept per client (filters); "" for the gateway's own calls.
	Client string

	// Block pins the call to a block: set by the block-tag stage once
	// tags are resolved, read by routing.
	Block    uint64
	HasBlock bool

	// Served by: filled in by the last stage, for logs and metrics.
	Provider string
	Attempts int
	Hedged   bool
}

// NewCall builds a call for method with params.
func NewCall(method string, params json.RawMessage) *Call {
	return &Call{Method: method, Params: params, Info: ethmethod.Lookup(method)}
}

// Clone returns a copy of c for a sub-call (the log splitter's chunks).
func (c *Call) Clone() *Call {
	cp := *c
	return &cp
}

// Handler answers one call: the raw JSON result, or an error, which at the
// edge of the pipeline is always a *jsonrpc.Error.
type Handler interface {
	Handle(ctx context.Context, c *Call) (json.RawMessage, error)
}

// HandlerFunc adapts a function to a Handler.
type HandlerFunc func(ctx context.Context, c *Call) (json.RawMessage, error)

// Handle calls f.
func (f HandlerFunc) Handle(ctx context.Context, c *Call) (json.RawMessage, error) { return f(ctx, c) }

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
