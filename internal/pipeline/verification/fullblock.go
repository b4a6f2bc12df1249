package verification

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/ethereum/go-ethereum/core/types"

	"github.com/rpcmesh/rpcmesh/internal/pipeline"
	"github.com/rpcmesh/rpcmesh/internal/verify"
)

// errNothingVerified is an attempts run that ended without an error and
// without a verified value (it should not happen: nothing there answers null).
var errNothingVerified = errors.New("no provider's answer was verified")

// fullBlockVia returns the verified full block with the trusted header h,
// its uncles proven: kept from an earlier call, or fetched through call, a
// provider of operator op (one fetch for concurrent callers). It also
// returns the operators whose answers the block rests on.
func (v *Verifier) fullBlockVia(ctx context.Context, h *types.Header, call verify.Caller, op string) (*verify.Block, []string, error) {
	hash := v.headerHash(h)
	return v.verified.block(ctx, hash, func(ctx context.Context) (fetched[*verify.Block], error) {
		b, raw, err := verify.FetchBlock(ctx, call, hash, v.o.ChainConfig)
		if err != nil {
			return fetched[*verify.Block]{}, err
		}
		if b.NeedsUncles() {
			if err := verify.FetchUncles(ctx, call, b); err != nil {
				return fetched[*verify.Block]{}, err
			}
		}
		return fetched[*verify.Block]{val: b, ops: []string{op}, size: int64(len(raw))}, nil
	})
}

// receiptsVia returns the verified receipts of the block with the trusted
// header h, as fullBlockVia returns its block.
func (v *Verifier) receiptsVia(ctx context.Context, h *types.Header, call verify.Caller, op string) (*verify.Receipts, []string, error) {
	return v.verified.receipts(ctx, v.headerHash(h), func(ctx context.Context) (fetched[*verify.Receipts], error) {
		b, ops, err := v.fullBlockVia(ctx, h, call, op)
		if err != nil {
			return fetched[*verify.Receipts]{}, err
		}
		rs, raw, err := verify.FetchReceipts(ctx, call, b, v.o.ChainConfig)
		if err != nil {
			return fetched[*verify.Receipts]{}, fmt.Errorf("receipts: %w", err)
		}
		if raw != nil {
			ops = joinOps(ops, []string{op})
		}
		return fetched[*verify.Receipts]{val: rs, ops: ops, size: int64(len(raw))}, nil
	})
}

// checkFullBlock verifies a provider's full block a against the trusted
// header h, its uncles asked of the same provider (call) when it has any.
func (v *Verifier) checkFullBlock(ctx context.Context, a Answer, call verify.Caller, h *types.Header) (*verify.Block, error) {
	b, err := verifyFullBlock(a.Value, h, v)
	if err != nil {
		return nil, err
	}
	if b.NeedsUncles() {
		if err := verify.FetchUncles(ctx, call, b); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// fullBlock returns the verified full block with the trusted header h for
// the client's call c: kept, or asked of one provider after another
// (attempts, lies recorded) in one fetch for concurrent callers.
func (v *Verifier) fullBlock(ctx context.Context, c *pipeline.Call, h *types.Header) (*verify.Block, []string, error) {
	hash := v.headerHash(h)
	return v.verified.block(ctx, hash, func(ctx context.Context) (fetched[*verify.Block], error) {
		var f fetched[*verify.Block]
		first := Request{Method: "eth_getBlockByHash", Params: verify.Params(hash, true), Block: h.Number.Uint64(), HasBlock: true}
		_, err := v.attempts(ctx, c, first, func(ctx context.Context, a Answer, call verify.Caller) (json.RawMessage, error) {
			b, err := v.checkFullBlock(ctx, a, call, h)
			if err != nil {
				return nil, err
			}
			f = fetched[*verify.Block]{val: b, ops: []string{a.Operator}, size: int64(len(a.Value))}
			return nil, nil
		})
		if err == nil && f.val == nil {
			err = errNothingVerified
		}
		return f, err
	})
}

// blockReceiptsOf returns the verified receipts of the block with the
// trusted header h for the client's call c, as fullBlock returns the block.
func (v *Verifier) blockReceiptsOf(ctx context.Context, c *pipeline.Call, h *types.Header) (*verify.Receipts, []string, error) {
	hash := v.headerHash(h)
	return v.verified.receipts(ctx, hash, func(ctx context.Context) (fetched[*verify.Receipts], error) {
		b, ops, err := v.fullBlock(ctx, c, h)
		if err != nil {
			return fetched[*verify.Receipts]{}, err
		}
		if len(b.Transactions) == 0 {
			return fetched[*verify.Receipts]{val: verify.EmptyReceipts(b), ops: ops}, nil
		}
		var f fetched[*verify.Receipts]
		first := Request{Method: "eth_getBlockReceipts", Params: verify.Params(hash), Block: h.Number.Uint64(), HasBlock: true}
		_, err = v.attempts(ctx, c, first, func(ctx context.Context, a Answer, _ verify.Caller) (json.RawMessage, error) {
			rs, err := verify.VerifyBlockReceipts(a.Value, b, v.o.ChainConfig)
			if err != nil {
				return nil, err
			}
			f = fetched[*verify.Receipts]{val: rs, ops: joinOps(ops, []string{a.Operator}), size: int64(len(a.Value))}
			return nil, nil
		})
		if err == nil && f.val == nil {
			err = errNothingVerified
		}
		return f, err
	})
}
