package verification

import (
	"context"
	"encoding/json"
	"errors"
	"sync"

	"github.com/ethereum/go-ethereum/rpc"

	"github.com/rpcmesh/rpcmesh/internal/jsonrpc"
)

// askEach answers a wave's requests one Ask each, at once: the AskBatch of
// the test askers that have no batch of their own.
func askEach(ctx context.Context, a Asker, reqs []Request, out []Answer) {
	var wg sync.WaitGroup
	for i, req := range reqs {
		wg.Go(func() { out[i] = a.Ask(ctx, req, nil) })
	}
	wg.Wait()
}

func (f *fakeAsker) AskBatch(ctx context.Context, reqs []Request, out []Answer) {
	askEach(ctx, f, reqs, out)
}

func (o oneNode) AskBatch(ctx context.Context, reqs []Request, out []Answer) {
	askEach(ctx, o, reqs, out)
}

func (s *switchable) AskBatch(ctx context.Context, reqs []Request, out []Answer) {
	_, n := s.current()
	n.AskBatch(ctx, reqs, out)
}

// AskBatch sends the wave to one node as one JSON-RPC batch: the first of
// a.first (a liar, in the tests that set it) or the next in turn.
func (a *nodeAsker) AskBatch(ctx context.Context, reqs []Request, out []Answer) {
	a.mu.Lock()
	start := a.next
	a.next++
	a.batches++
	a.mu.Unlock()
	name := a.names[start%len(a.names)]
	if len(a.first) > 0 {
		name = a.first[0]
	}
	elems := make([]rpc.BatchElem, len(reqs))
	results := make([]json.RawMessage, len(reqs))
	for i, req := range reqs {
		var args []any
		if len(req.Params) > 0 {
			var raw []json.RawMessage
			if err := json.Unmarshal(req.Params, &raw); err != nil {
				out[i] = Answer{Err: err}
				continue
			}
			for _, r := range raw {
				args = append(args, r)
			}
		}
		elems[i] = rpc.BatchElem{Method: req.Method, Args: args, Result: &results[i]}
	}
	err := a.callers[name].c.BatchCallContext(ctx, elems)
	for i := range reqs {
		if out[i].Err != nil {
			continue
		}
		e := err
		if e == nil {
			e = elems[i].Error
		}
		var re rpc.Error
		if errors.As(e, &re) {
			e = &jsonrpc.Error{Code: re.ErrorCode(), Message: re.Error()}
		}
		out[i] = Answer{Provider: name, Operator: a.operators[name], Value: results[i], Err: e}
	}
}
