package verification

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/core/types"

	"github.com/rpcmesh/rpcmesh/internal/blockref"
	"github.com/rpcmesh/rpcmesh/internal/jsonrpc"
	"github.com/rpcmesh/rpcmesh/internal/pipeline"
	"github.com/rpcmesh/rpcmesh/internal/verify"
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

// TestHeaderFromCallRef: the stage proves against the block the block-tag
// stage resolved (c.Ref), never its own reading of the param: "safe" the
// agreed head has no number for yet is no block to prove against, not the
// head (the old tag table's answer).
func TestHeaderFromCallRef(t *testing.T) {
	h8 := &types.Header{Number: big.NewInt(8), Difficulty: big.NewInt(0)}
	h16 := &types.Header{Number: big.NewInt(16), Difficulty: big.NewInt(0)}
	v := New(nil, Options{Asker: newFake(), Trust: verify.NewStaticTrust(h8, h16), Latest: func() (uint64, bool) { return 16, true }})
	call := func(ref blockref.Ref, has bool) *pipeline.Call {
		c := pipeline.NewCall("eth_getBalance", json.RawMessage(`["0x0000000000000000000000000000000000000001","safe"]`))
		c.Ref, c.HasRef = ref, has
		return c
	}
	ctx := context.Background()
	if h, err := v.header(ctx, call(blockref.Ref{Kind: blockref.Number, Number: 8}, true)); err != nil || h.Number.Uint64() != 8 {
		t.Errorf("safe resolved to 8: header %v, %v", h, err)
	}
	for _, ref := range []blockref.Ref{{Kind: blockref.Safe}, {Kind: blockref.Finalized}, {Kind: blockref.Latest}} {
		if h, err := v.header(ctx, call(ref, true)); !errors.Is(err, verify.ErrNoTrust) {
			t.Errorf("%s unresolved: header %v, %v; want no trust", ref.Kind, h, err)
		}
	}
	if h, err := v.header(ctx, call(blockref.Ref{}, false)); !errors.Is(err, verify.ErrNoTrust) {
		t.Errorf("no block resolved: header %v, %v; want no trust", h, err)
	}
	var fb *fallback
	if _, err := v.header(ctx, call(blockref.Ref{Kind: blockref.Pending, Number: 16}, true)); !errors.As(err, &fb) {
		t.Errorf("pending: %v, want a fallback to quorum", err)
	}
}
