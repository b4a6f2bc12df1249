package stage

import (
	"bytes"
	"context"
	"encoding/json"

	"github.com/rpcmesh/rpcmesh/internal/blockref"
	"github.com/rpcmesh/rpcmesh/internal/jsonrpc"
	"github.com/rpcmesh/rpcmesh/internal/pipeline"
)

// newCall is a call as the block-tag stage hands it on when its block
// param names a number or hash (tags stay tags: these tests have no agreed
// head to resolve them against): the param parsed into c.Ref, and an
// eth_getLogs filter's numbers into c.Range.
func newCall(method string, params json.RawMessage) *pipeline.Call {
	c := pipeline.NewCall(method, params)
	ps, err := jsonrpc.ParamsArray(params)
	if err != nil {
		return c
	}
	if method == "eth_getLogs" {
		var f struct{ FromBlock, ToBlock json.RawMessage }
		if len(ps) != 1 || json.Unmarshal(ps[0], &f) != nil || f.FromBlock == nil || f.ToBlock == nil {
			return c
		}
		from, ferr := blockref.ParseNumber(f.FromBlock)
		to, terr := blockref.ParseNumber(f.ToBlock)
		if ferr == nil && terr == nil && from.Kind == blockref.Number && to.Kind == blockref.Number {
			c.Range, c.HasRange = pipeline.BlockRange{From: from.Number, To: to.Number}, true
		}
		return c
	}
	idx := c.Info.BlockParam
	switch {
	case idx < 0:
	case idx >= len(ps) || string(bytes.TrimSpace(ps[idx])) == "null":
		if c.Info.DefaultLatest {
			c.Ref, c.HasRef = blockref.Ref{Kind: blockref.Latest}, true
		}
	default:
		parse := blockref.ParseNumber
		if c.Info.ByHash {
			parse = blockref.ParseNumberOrHash
		}
		if ref, err := parse(ps[idx]); err == nil {
			c.Ref, c.HasRef = ref, true
			c.Block, c.HasBlock = ref.Number, ref.Kind == blockref.Number
		}
	}
	return c
}

// handle runs c through h as a wave of one.
func handle(ctx context.Context, h pipeline.Handler, c *pipeline.Call) (json.RawMessage, error) {
	return pipeline.Do(ctx, h, c)
}

// perCall is a terminal stage answering each call of a wave with f.
func perCall(f func(ctx context.Context, c *pipeline.Call) (json.RawMessage, error)) pipeline.Handler {
	return pipeline.HandlerFunc(func(ctx context.Context, wave []*pipeline.Call) {
		for _, c := range wave {
			c.Answer(f(ctx, c))
		}
	})
}
