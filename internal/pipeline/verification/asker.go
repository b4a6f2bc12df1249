package verification

import (
	"context"
	"encoding/json"
	"errors"
	"sync"

	"github.com/rpcmesh/rpcmesh/internal/ethmethod"
	"github.com/rpcmesh/rpcmesh/internal/jsonrpc"
	"github.com/rpcmesh/rpcmesh/internal/route"
	"github.com/rpcmesh/rpcmesh/internal/upstream"
)

// ErrNoProvider means no provider is left to ask.
var ErrNoProvider = errors.New("no provider left to ask")

// Request is one call the stage sends to providers.
type Request struct {
	Method string
	Params json.RawMessage
	// Block, when HasBlock, is the block the call reads: only providers
	// that have it qualify.
	Block    uint64
	HasBlock bool
	// Unchecked marks a call whose answer the stage passes on unverified
	// (trusted): never sent to a provider on probation.
	Unchecked bool
	// Client is who asked (pipeline.Call.Client), for the privacy
	// policy: a proof of an address goes where the address is kept.
	Client string
}

// Answer is one provider's answer.
type Answer struct {
	Provider string
	Operator string
	Value    json.RawMessage
	Err      error
	// Probation marks an answer of a provider not admitted: checked like
	// any, but never a vote (its null does not make a thing absent).
	Probation bool
}

// Asker is what the stage needs from routing: ask one provider it has not
// tried (so that a liar's call is retried elsewhere), or k providers of k
// distinct operators at once (quorum), and penalise a provider caught lying.
type Asker interface {
	// Ask sends req to one usable provider whose name is not in avoid.
	Ask(ctx context.Context, req Request, avoid map[string]bool) Answer
	// AskProvider sends req to the named provider (follow-up calls of one
	// verification go to the provider that gave the first answer, so a
	// failure is blamed on the right one).
	AskProvider(ctx context.Context, provider string, req Request) Answer
	// AskDistinct sends req to up to k providers of distinct operators at
	// once and returns every answer (fewer when fewer operators qualify),
	// leaving out the providers and operators skip names.
	AskDistinct(ctx context.Context, req Request, k int, skip Skip) []Answer
	// AskBatch sends the calls of one wave together, as one upstream batch
	// where routing can, and answers reqs[i] in out[i] as Ask with nothing
	// to avoid would (a call the batch could not answer goes on its own).
	AskBatch(ctx context.Context, reqs []Request, out []Answer)
	// Penalise lowers the routing score of a provider whose answer failed
	// verification.
	Penalise(provider string, reason string)
}

// Skip names what a further quorum round must not ask again: providers
// already asked, and operators whose vote is already counted.
type Skip struct {
	Providers map[string]bool
	Operators map[string]bool
}

// Routed is the Asker over a chain's router: providers are chosen, counted
// and timed by routing, and a penalty lowers the provider's shared routing
// score (upstream.Provider.Penalise), so every later call avoids it.
type Routed struct {
	Router *route.Router
}

func (a Routed) request(req Request) *route.Request {
	rr := routeRequest(req)
	return &rr
}

// routeRequest is req as routing takes it.
func routeRequest(req Request) route.Request {
	return route.Request{Method: req.Method, Params: req.Params, Info: ethmethod.Lookup(req.Method), Block: req.Block, HasBlock: req.HasBlock,
		Verified: !req.Unchecked, Client: req.Client}
}

func (a Routed) call(ctx context.Context, p *upstream.Provider, req *route.Request) Answer {
	v, err := a.Router.Call(ctx, p, req)
	return Answer{Provider: p.Name(), Operator: p.Labels().Operator, Value: v, Err: err, Probation: a.Router.StageOf(p.Name()) != route.Admitted}
}

// Ask sends req to the provider routing picks among those not in avoid.
// The first ask of a call (avoid empty) goes through routing in full:
// retries and hedging.
func (a Routed) Ask(ctx context.Context, req Request, avoid map[string]bool) Answer {
	rr := a.request(req)
	if len(avoid) == 0 {
		res, err := a.Router.Do(ctx, rr)
		return a.routed(res, err)
	}
	p := a.Router.Pick(rr, avoid)
	if p == nil {
		return Answer{Err: ErrNoProvider}
	}
	return a.call(ctx, p, rr)
}

// AskBatch routes the wave's calls together (route.Router.DoBatch): the
// calls that may share a request reach one provider as one upstream
// batch, each with routing's retries when the batch could not answer it.
func (a Routed) AskBatch(ctx context.Context, reqs []Request, out []Answer) {
	rrs := make([]route.Request, len(reqs))
	for i, req := range reqs {
		rrs[i] = routeRequest(req)
	}
	res := make([]route.Result, len(reqs))
	errs := make([]error, len(reqs))
	a.Router.DoBatch(ctx, rrs, res, errs)
	for i := range out {
		out[i] = a.routed(res[i], errs[i])
	}
}

// routed is the Answer of a call routing answered: the provider's answer,
// or, when no provider answered, the routing error alone.
func (a Routed) routed(res route.Result, err error) Answer {
	if err != nil && res.Provider == "" && !isNodeAnswer(err) {
		return Answer{Err: err}
	}
	ans := Answer{Provider: res.Provider, Value: res.Value, Err: err}
	if p := a.Router.Provider(res.Provider); p != nil {
		ans.Operator = p.Labels().Operator
		ans.Probation = a.Router.StageOf(res.Provider) != route.Admitted
	}
	return ans
}

// AskProvider sends req to the named provider.
func (a Routed) AskProvider(ctx context.Context, provider string, req Request) Answer {
	p := a.Router.Provider(provider)
	if p == nil {
		return Answer{Provider: provider, Err: ErrNoProvider}
	}
	return a.call(ctx, p, a.request(req))
}

// AskDistinct sends req at once to the providers of up to k distinct
// operators that routing picks.
func (a Routed) AskDistinct(ctx context.Context, req Request, k int, skip Skip) []Answer {
	rr := a.request(req)
	picked := a.Router.PickDistinct(rr, k, skip.Providers, skip.Operators)
	out := make([]Answer, len(picked))
	var wg sync.WaitGroup
	for i, p := range picked {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i] = a.call(ctx, p, rr)
		}()
	}
	wg.Wait()
	return out
}

// Penalise lowers the provider's routing score.
func (a Routed) Penalise(provider string, reason string) {
	if p := a.Router.Provider(provider); p != nil {
		p.Penalise(reason)
	}
}

// isNodeAnswer reports whether err is a node's own JSON-RPC answer.
func isNodeAnswer(err error) bool {
	var je *jsonrpc.Error
	return errors.As(err, &je)
}
