// Package forward is the last pipeline stage: it hands the calls to the
// chain's router and turns routing failures into JSON-RPC errors.
package forward

import (
	"context"

	"github.com/rpcmesh/rpcmesh/internal/pipeline"
	"github.com/rpcmesh/rpcmesh/internal/route"
)

// Forward sends calls through a router.
type Forward struct {
	Router *route.Router
}

// Handle routes a wave's calls and records who served each. A single call
// goes through the router's Do (retries, hedging); a wave through DoBatch,
// which sends the calls that may share one as one upstream batch.
func (f *Forward) Handle(ctx context.Context, wave []*pipeline.Call) {
	if len(wave) == 1 {
		c := wave[0]
		req := request(c)
		res, err := f.Router.Do(ctx, &req)
		answer(c, res, err)
		return
	}
	n := len(wave)
	reqs := make([]route.Request, n)
	results := make([]route.Result, n)
	errs := make([]error, n)
	for i, c := range wave {
		reqs[i] = request(c)
	}
	f.Router.DoBatch(ctx, reqs, results, errs)
	for i, c := range wave {
		answer(c, results[i], errs[i])
	}
}

// request is what routing needs of c.
func request(c *pipeline.Call) route.Request {
	return route.Request{Method: c.Method, Params: c.Params, Info: c.Info, Block: c.Block, HasBlock: c.HasBlock, Client: c.Client}
}

// answer records on c who served it and how, and its answer.
func answer(c *pipeline.Call, res route.Result, err error) {
	c.Provider, c.Attempts, c.Hedged = res.Provider, res.Attempts, res.Hedged
	if err != nil {
		c.Answer(nil, route.ToRPC(err))
		return
	}
	c.Answer(res.Value, nil)
}
