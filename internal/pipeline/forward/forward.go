// Package forward is the last pipeline stage: it hands the call to the
// chain's router and turns routing failures into JSON-RPC errors.
package forward

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/rpcmesh/rpcmesh/internal/jsonrpc"
	"github.com/rpcmesh/rpcmesh/internal/pipeline"
	"github.com/rpcmesh/rpcmesh/internal/route"
	"github.com/rpcmesh/rpcmesh/internal/upstream"
)

// Forward sends calls through a router.
type Forward struct {
	Router *route.Router
}

// Handle routes the call and records who served it.
func (f *Forward) Handle(ctx context.Context, c *pipeline.Call) (json.RawMessage, error) {
	req := request(c)
	var res route.Result
	var err error
	if s := route.SlotFrom(ctx); s != nil {
		res, err = s.Do(ctx, &req) // an item of a client batch: with its wave, as one upstream batch
	} else {
		res, err = f.Router.Do(ctx, &req)
	}
	served(c, res)
	if err != nil {
		return nil, ToRPC(err)
	}
	return res.Value, nil
}

// HandleBatch routes a wave's calls together (route.Router.DoBatch): one
// upstream batch for the calls that may share one.
func (f *Forward) HandleBatch(ctx context.Context, calls []*pipeline.Call, out []pipeline.Answer) {
	n := len(calls)
	reqs := make([]route.Request, n)
	results := make([]route.Result, n)
	errs := make([]error, n)
	for i, c := range calls {
		reqs[i] = request(c)
	}
	f.Router.DoBatch(ctx, reqs, results, errs)
	for i, c := range calls {
		served(c, results[i])
		if errs[i] != nil {
			out[i] = pipeline.Answer{Err: ToRPC(errs[i])}
			continue
		}
		out[i] = pipeline.Answer{Result: results[i].Value}
	}
}

// request is what routing needs of c.
func request(c *pipeline.Call) route.Request {
	return route.Request{Method: c.Method, Params: c.Params, Info: c.Info, Block: c.Block, HasBlock: c.HasBlock}
}

// served records on c who served it and how.
func served(c *pipeline.Call, res route.Result) {
	c.Provider, c.Attempts, c.Hedged = res.Provider, res.Attempts, res.Hedged
}

// Batches reports true: routing takes a wave whole.
func (f *Forward) Batches() bool { return true }

// ToRPC maps a routing error to the JSON-RPC error the client sees. It never
// names a provider's URL.
func ToRPC(err error) *jsonrpc.Error {
	var je *jsonrpc.Error
	var ue *upstream.Error
	switch {
	case errors.As(err, &je):
		return je // the node's own answer
	case errors.Is(err, route.ErrNoProvider):
		return &jsonrpc.Error{Code: jsonrpc.CodeNoProvider, Message: err.Error()}
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, upstream.ErrStalled):
		return jsonrpc.Errorf(jsonrpc.CodeTimeout, "timeout waiting for providers")
	case errors.Is(err, context.Canceled):
		return jsonrpc.Errorf(jsonrpc.CodeTimeout, "request cancelled")
	case errors.As(err, &ue):
		if ue.Class == upstream.ClassTimeout {
			return jsonrpc.Errorf(jsonrpc.CodeTimeout, "timeout: providers did not answer %s in time", ue.Method)
		}
		return jsonrpc.Errorf(jsonrpc.CodeUpstreamError, "upstream error: every attempt failed (last: %s)", ue.Class)
	}
	return jsonrpc.Errorf(jsonrpc.CodeInternalError, "internal error")
}
