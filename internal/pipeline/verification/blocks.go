package verification

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/rpcmesh/rpcmesh/internal/jsonrpc"
	"github.com/rpcmesh/rpcmesh/internal/pipeline"
	"github.com/rpcmesh/rpcmesh/internal/verify"
)

// blockHeader resolves the block of a block method to a trusted header:
// eth_getBlockByHash's hash, or the block param the block-tag stage
// resolved (c.Ref).
func (v *Verifier) blockHeader(ctx context.Context, c *pipeline.Call, ps []json.RawMessage) (*types.Header, error) {
	if c.Method != "eth_getBlockByHash" {
		return v.header(ctx, c)
	}
	var h common.Hash
	if err := json.Unmarshal(ps[0], &h); err != nil {
		return nil, jsonrpc.Errorf(jsonrpc.CodeInvalidParams, "invalid argument 0: a block hash is a 0x-prefixed hex string of 32 bytes")
	}
	return v.trust(c).HeaderByHash(ctx, h)
}

// block answers eth_getBlockByNumber/ByHash from the trusted block fetched
// with full transactions and verified, in the shape the client asked for.
func (v *Verifier) block(ctx context.Context, c *pipeline.Call) (json.RawMessage, error) {
	ps, err := splitParams(c.Params, 2)
	if err != nil {
		return nil, err
	}
	var full bool
	if len(ps[1]) > 0 {
		if err := json.Unmarshal(ps[1], &full); err != nil {
			return nil, jsonrpc.Errorf(jsonrpc.CodeInvalidParams, "invalid argument 1: the full transactions flag must be true or false")
		}
	}
	h, err := v.blockHeader(ctx, c, ps)
	if absentBlock(err) {
		return json.RawMessage("null"), nil // not there (yet), as a node answers
	}
	if err != nil {
		return nil, v.noHeader(c.Method, err)
	}
	hash := v.headerHash(h)
	if !v.o.CheckPlain {
		return v.keptBlock(ctx, c, h, full)
	}
	first := Request{Method: "eth_getBlockByHash", Params: verify.Params(hash, true), Block: h.Number.Uint64(), HasBlock: true}
	return v.attempts(ctx, c, first, func(ctx context.Context, a Answer, call verify.Caller) (json.RawMessage, error) {
		b, err := v.checkFullBlock(ctx, a, call, h)
		if err != nil {
			return nil, err
		}
		light, err := b.JSON(false, v.o.ChainConfig)
		if err != nil {
			return nil, err
		}
		if v.blocks != nil {
			v.blocks.Add(hash, provenBlock{json: light, operator: a.Operator})
		}
		if v.o.CheckPlain && c.Method == "eth_getBlockByNumber" {
			if raw, err := call(ctx, c.Method, c.Params); err == nil {
				if err := sameBlock(raw, h, v); err != nil {
					v.reject(c.Method, c.Params, Answer{Provider: a.Provider, Operator: a.Operator, Value: raw}, err)
				}
			}
		}
		if !full {
			return light, nil
		}
		return b.JSON(true, v.o.ChainConfig)
	})
}

// verifyFullBlock verifies a full block answer and that it is the trusted one.
func verifyFullBlock(raw json.RawMessage, h *types.Header, v *Verifier) (*verify.Block, error) {
	b, err := verify.VerifyBlock(raw, v.o.ChainConfig)
	if err != nil {
		return nil, err
	}
	if b.Hash != h.Hash() {
		return nil, &verify.MismatchError{What: "hash", Claimed: b.Hash.Hex(), Proven: h.Hash().Hex(), Err: verify.ErrHashMismatch}
	}
	if !b.FullTransactions {
		return nil, errors.Join(verify.ErrMalformed, errors.New("hashes where full transactions were asked"))
	}
	return b, nil
}

// sameBlock checks a plain block answer (any shape) against the trusted header.
func sameBlock(raw json.RawMessage, h *types.Header, v *Verifier) error {
	b, err := verify.VerifyBlock(raw, v.o.ChainConfig)
	if err != nil {
		return err
	}
	if b.Hash != h.Hash() {
		return &verify.MismatchError{What: "hash", Claimed: b.Hash.Hex(), Proven: h.Hash().Hex(), Err: verify.ErrHashMismatch}
	}
	return nil
}

// keptBlock answers a block from the verified full block (kept, or fetched
// once for concurrent callers), and keeps its hashes-only answer: hashes
// alone cannot be checked against transactionsRoot.
func (v *Verifier) keptBlock(ctx context.Context, c *pipeline.Call, h *types.Header, full bool) (json.RawMessage, error) {
	hash := v.headerHash(h)
	if !full && v.blocks != nil {
		if pb, ok := v.blocks.Get(hash); ok {
			c.Report.Set(pipeline.ClassProof, "", pb.operator)
			return pb.json, nil
		}
	}
	b, ops, err := v.fullBlock(ctx, c, h)
	if err != nil {
		return nil, err
	}
	c.Report.Set(pipeline.ClassProof, "", ops...)
	if full {
		return b.JSON(true, v.o.ChainConfig)
	}
	light, err := b.JSON(false, v.o.ChainConfig)
	if err != nil {
		return nil, err
	}
	if v.blocks != nil && len(ops) == 1 {
		v.blocks.Add(hash, provenBlock{json: light, operator: ops[0]})
	}
	return light, nil
}

// blockReceipts answers eth_getBlockReceipts from receipts verified against
// the trusted block's receiptsRoot.
func (v *Verifier) blockReceipts(ctx context.Context, c *pipeline.Call) (json.RawMessage, error) {
	if _, err := splitParams(c.Params, 1); err != nil {
		return nil, err
	}
	h, err := v.header(ctx, c)
	if absentBlock(err) {
		return json.RawMessage("null"), nil
	}
	if err != nil {
		return nil, v.noHeader(c.Method, err)
	}
	rs, ops, err := v.blockReceiptsOf(ctx, c, h)
	if err != nil {
		return nil, err
	}
	c.Report.Set(pipeline.ClassProof, "", ops...)
	return rs.JSON()
}
