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

// Handle answers a wave's filter methods and passes the rest on.
func (f *Filters) Handle(ctx context.Context, wave []*pipeline.Call) {
	pipeline.HandleWave(ctx, wave, f.Next, f.way, f)
}

// way answers the filter methods kept in the store; eth_getFilterLogs, an
// eth_getLogs that waits on its own, runs alone.
func (f *Filters) way(c *pipeline.Call) pipeline.Way {
	if c.Method == "eth_getFilterLogs" {
		return pipeline.Alone
	}
	a, ok := f.local(c)
	if !ok {
		return pipeline.PassOn
	}
	if a.err != nil {
		c.Answer(nil, a.err)
	} else {
		c.Answer(a.result, nil)
	}
	return pipeline.Answered
}

// local answers the filter methods kept in the store (ok).
func (f *Filters) local(c *pipeline.Call) (answer, bool) {
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
		return answer{result: res}, true
	case "eth_uninstallFilter":
		id, err := filterID(c.Params)
		if err != nil {
			return fail(err)
		}
		if f.Store.Uninstall(id) {
			return answer{result: json.RawMessage("true")}, true
		}
		return answer{result: json.RawMessage("false")}, true
	}
	return answer{}, false
}

// install adds a filter for client and answers its ID.
func (f *Filters) install(client string, spec Spec) (answer, bool) {
	id, err := f.Store.Install(client, spec)
	switch {
	case errors.Is(err, ErrClientLimit), errors.Is(err, ErrTotalLimit):
		return fail(limitError(err, f.Store.limits))
	case err != nil: // the event source refused what this package built
		return fail(jsonrpc.Errorf(jsonrpc.CodeInternalError, "internal error: filter not made: %v", err))
	}
	res, _ := json.Marshal(id)
	return answer{result: res}, true
}

// Run answers eth_getFilterLogs (Handle runs it alone): the logs of the filter's criteria,
// by an eth_getLogs call down the rest of the pipeline (block tags
// resolved, the range bounded and split, the answer verified), so it
// answers what eth_getLogs with the same object answers.
func (f *Filters) Run(ctx context.Context, c *pipeline.Call) {
	id, err := filterID(c.Params)
	if err != nil {
		c.Answer(nil, err)
		return
	}
	crit, serr := f.Store.Criteria(id)
	if serr != nil {
		c.Answer(nil, notFound)
		return
	}
	params := make([]byte, 0, len(crit)+2)
	params = append(append(append(params, '['), crit...), ']')
	sub := pipeline.NewCall("eth_getLogs", params)
	sub.Client = c.Client
	c.Answer(pipeline.Do(ctx, f.Next, sub))
	c.Provider, c.Attempts, c.Hedged, c.Report = sub.Provider, sub.Attempts, sub.Hedged, sub.Report
}

// answer is a filter method's answer from the store.
type answer struct {
	result json.RawMessage
	err    *jsonrpc.Error
}

func fail(err *jsonrpc.Error) (answer, bool) { return answer{err: err}, true }
