package stage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/ethereum/go-ethereum/common"

	"github.com/rpcmesh/rpcmesh/internal/jsonrpc"
	"github.com/rpcmesh/rpcmesh/internal/pipeline"
	"github.com/rpcmesh/rpcmesh/internal/verify"
)

// errNotFound is a provider's "null": no lie, and nothing to prove.
var errNotFound = errors.New("not found")

// transaction answers eth_getTransactionByHash and eth_getTransactionReceipt:
// the provider's answer names a block; that block must be the trusted
// canonical one at its height, and the transaction (or receipt) must be in
// it as claimed. "Not found" cannot be proven: it is settled by quorum.
func (v *Verifier) transaction(ctx context.Context, c *pipeline.Call) (json.RawMessage, error) {
	ps, err := splitParams(c.Params, 1)
	if err != nil {
		return nil, err
	}
	var hash common.Hash
	if err := json.Unmarshal(ps[0], &hash); err != nil {
		return nil, jsonrpc.Errorf(jsonrpc.CodeInvalidParams, "invalid argument 0: a transaction hash is a 0x-prefixed hex string of 32 bytes")
	}
	first := Request{Method: c.Method, Params: c.Params}
	return v.attempts(ctx, c, first, func(ctx context.Context, a Answer, call verify.Caller) (json.RawMessage, error) {
		if isNull(a.Value) {
			// Maybe this provider is behind: ask the next; if none has it,
			// attempts falls back to quorum (absence cannot be proven).
			return nil, errNotFound
		}
		loc, err := verify.DecodeTxLocation(a.Value)
		if err != nil {
			return nil, err
		}
		h, err := v.o.Trust.HeaderByNumber(ctx, loc.BlockNumber)
		if err != nil {
			return nil, err
		}
		if h.Hash() != loc.BlockHash {
			return nil, &verify.MismatchError{What: "blockHash", Claimed: loc.BlockHash.Hex(), Proven: h.Hash().Hex() + " (canonical)", Err: verify.ErrNotIncluded}
		}
		b, _, err := verify.FetchBlock(ctx, call, h.Hash(), v.o.ChainConfig)
		if err != nil {
			return nil, fmt.Errorf("block %d: %w", loc.BlockNumber, err)
		}
		if c.Method == "eth_getTransactionByHash" {
			return verify.VerifyTransaction(a.Value, hash, b, v.o.ChainConfig)
		}
		rs, _, err := verify.FetchReceipts(ctx, call, b, v.o.ChainConfig)
		if err != nil {
			return nil, fmt.Errorf("block %d receipts: %w", loc.BlockNumber, err)
		}
		return verify.VerifyReceipt(a.Value, hash, rs)
	})
}
