// Package filters is the pipeline stage that serves polled filters
// (eth_newFilter, eth_newBlockFilter, eth_newPendingTransactionFilter,
// eth_getFilterChanges, eth_getFilterLogs, eth_uninstallFilter) from the
// gateway's own agreed chain rather than one node's, so a filter outlives
// any provider. Filters are fed by the chain's subscription hub
// (internal/subscribe), which follows the agreed head and fetches headers
// and logs through the pipeline, so they are verified as clients' calls
// are; eth_getFilterLogs is an eth_getLogs passed on to the next stage.
// Answers and errors are go-ethereum's (docs/filters.md).
package filters

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/rpcmesh/rpcmesh/internal/jsonrpc"
	"github.com/rpcmesh/rpcmesh/internal/pipeline"
)

// Filters answers the filter methods and passes every other call on.
type Filters struct {
	Next  pipeline.Handler
	Store *Store
}

// Handle answers a filter method or passes the call on.
func (f *Filters) Handle(ctx context.Context, c *pipeline.Call) (json.RawMessage, error) {
	if c.Method == "eth_getFilterLogs" {
		return f.filterLogs(ctx, c)
	}
	if a, ok := f.local(c); ok {
		return a.Result, a.Err
	}
	return f.Next.Handle(ctx, c)
}

// HandleBatch answers a wave's filter methods and passes the rest on.
func (f *Filters) HandleBatch(ctx context.Context, calls []*pipeline.Call, out []pipeline.Answer) {
	pipeline.HandleWave(ctx, f, f.Next.(pipeline.BatchHandler), calls, out, func(i int, c *pipeline.Call) pipeline.Way {
		if c.Method == "eth_getFilterLogs" {
			return pipeline.Alone // an eth_getLogs that waits on its own
		}
		a, ok := f.local(c)
		if !ok {
			return pipeline.PassOn
		}
		out[i] = a
		return pipeline.Answered
	})
}

// Batches reports whether the stages behind take waves whole.
func (f *Filters) Batches() bool { return pipeline.CanBatch(f.Next) }

// local answers the filter methods kept in the store (ok).
func (f *Filters) local(c *pipeline.Call) (pipeline.Answer, bool) {
	switch c.Method {
	case "eth_newFilter":
		list, err := args(c.Params, 1, 1)
		if err != nil {
			return fail(err)
		}
		spec, serr := logSpec(list[0])
		if serr != nil {
			return fail(serr)
		}
		return f.install(c.Client, spec)
	case "eth_newBlockFilter":
		if _, err := args(c.Params, 0, 0); err != nil {
			return fail(err)
		}
		return f.install(c.Client, Spec{Kind: Blocks, From: -1, To: -1})
	case "eth_newPendingTransactionFilter":
		list, err := args(c.Params, 1, 0)
		if err != nil {
			return fail(err)
		}
		if len(list) == 1 {
			var full *bool
			if json.Unmarshal(list[0], &full) != nil {
				return fail(jsonrpc.Errorf(jsonrpc.CodeInvalidParams, "invalid argument 0: fullTx must be true or false"))
			}
			if full != nil && *full {
				return fail(jsonrpc.Errorf(jsonrpc.CodeInvalidParams, "invalid argument 0: full pending transactions are not served through this gateway; omit the argument to get their hashes"))
			}
		}
		return f.install(c.Client, Spec{Kind: Pending, From: -1, To: -1})
	case "eth_getFilterChanges":
		id, err := filterID(c.Params)
		if err != nil {
			return fail(err)
		}
		res, serr := f.Store.Changes(id)
		if serr != nil {
			return fail(notFound)
		}
		return pipeline.Answer{Result: res}, true
	case "eth_uninstallFilter":
		id, err := filterID(c.Params)
		if err != nil {
			return fail(err)
		}
		if f.Store.Uninstall(id) {
			return pipeline.Answer{Result: json.RawMessage("true")}, true
		}
		return pipeline.Answer{Result: json.RawMessage("false")}, true
	}
	return pipeline.Answer{}, false
}

// install adds a filter for client and answers its ID.
func (f *Filters) install(client string, spec Spec) (pipeline.Answer, bool) {
	id, err := f.Store.Install(client, spec)
	switch {
	case errors.Is(err, ErrClientLimit), errors.Is(err, ErrTotalLimit):
		return fail(limitError(err, f.Store.limits))
	case err != nil: // the event source refused what this package built
		return fail(jsonrpc.Errorf(jsonrpc.CodeInternalError, "internal error: filter not made: %v", err))
	}
	res, _ := json.Marshal(id)
	return pipeline.Answer{Result: res}, true
}

// filterLogs answers eth_getFilterLogs: the logs of the filter's criteria,
// by an eth_getLogs call down the rest of the pipeline (block tags
// resolved, the range bounded and split, the answer verified), so it
// answers what eth_getLogs with the same object answers.
func (f *Filters) filterLogs(ctx context.Context, c *pipeline.Call) (json.RawMessage, error) {
	id, err := filterID(c.Params)
	if err != nil {
		return nil, err
	}
	crit, serr := f.Store.Criteria(id)
	if serr != nil {
		return nil, notFound
	}
	params := make([]byte, 0, len(crit)+2)
	params = append(append(append(params, '['), crit...), ']')
	sub := pipeline.NewCall("eth_getLogs", params)
	sub.Client = c.Client
	res, gerr := f.Next.Handle(ctx, sub)
	c.Provider, c.Attempts, c.Hedged = sub.Provider, sub.Attempts, sub.Hedged
	return res, gerr
}

func fail(err *jsonrpc.Error) (pipeline.Answer, bool) { return pipeline.Answer{Err: err}, true }
