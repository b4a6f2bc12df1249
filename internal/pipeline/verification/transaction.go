package verification

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

// pending is a provider's answer for a transaction in its pool, in no
// block: checked as far as it can be, answered when no operator asked
// shows the transaction in a block.
type pending struct {
	raw      json.RawMessage
	operator string
}

func (p *pending) Error() string { return "transaction pending" }

// transaction answers eth_getTransactionByHash and eth_getTransactionReceipt:
// the provider's answer names a block; that block must be the trusted
// canonical one at its height, and the transaction (or receipt) must be in
// it as claimed. "Not found" cannot be proven: it is answered null once no
// operator asked has it (see attempts); a transaction in a block above the
// agreed head is not found yet.
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
	var used []string // the operators the accepted answer rests on
	res, err := v.attempts(ctx, c, first, func(ctx context.Context, a Answer, call verify.Caller) (json.RawMessage, error) {
		if isNull(a.Value) {
			// Maybe this provider is behind: ask the next; if none has it,
			// attempts falls back to quorum (absence cannot be proven).
			return nil, errNotFound
		}
		loc, err := verify.DecodeTxLocation(a.Value)
		if errors.Is(err, verify.ErrNotInBlock) {
			if c.Method == "eth_getTransactionReceipt" {
				return nil, errNotFound // no receipt before inclusion
			}
			// In this provider's pool: its content is checked, its being
			// pending is its word; another operator may show it mined.
			if err := verify.VerifyPendingTransaction(a.Value, hash, v.o.ChainConfig); err != nil {
				return nil, err
			}
			return nil, &pending{raw: a.Value, operator: a.Operator}
		}
		if err != nil {
			return nil, err
		}
		h, err := v.trust(c).HeaderByNumber(ctx, loc.BlockNumber)
		if errors.Is(err, verify.ErrAboveHead) {
			// In a block the gateway's clients do not see yet: to them it
			// is not there yet, as for a node that has not imported it.
			return nil, errNotFound
		}
		if err != nil {
			return nil, err
		}
		// The trusted canonical block at that height, by its hash: a block
		// kept from before a reorg has another hash and is never used.
		if v.headerHash(h) != loc.BlockHash {
			return nil, &verify.MismatchError{What: "blockHash", Claimed: loc.BlockHash.Hex(), Proven: v.headerHash(h).Hex() + " (canonical)", Err: verify.ErrNotIncluded}
		}
		// The block and its receipts are verified once and kept (fetched
		// through this provider when not kept yet): polls of a receipt,
		// and receipts of other transactions in the block, then ask only
		// for the client's own method, to learn where the transaction is.
		var (
			res json.RawMessage
			ops []string
		)
		if c.Method == "eth_getTransactionByHash" {
			b, bops, err := v.fullBlockVia(ctx, h, call, a.Operator)
			if err != nil {
				return nil, fmt.Errorf("block %d: %w", loc.BlockNumber, err)
			}
			res, err = verify.VerifyTransaction(a.Value, hash, b, v.o.ChainConfig)
			if err != nil {
				return nil, err
			}
			ops = bops
		} else {
			rs, rops, err := v.receiptsVia(ctx, h, call, a.Operator)
			if err != nil {
				return nil, fmt.Errorf("block %d: %w", loc.BlockNumber, err)
			}
			res, err = verify.VerifyReceipt(a.Value, hash, rs)
			if err != nil {
				return nil, err
			}
			ops = rops
		}
		used = joinOps([]string{a.Operator}, ops)
		return res, nil
	})
	if err == nil && used != nil {
		// The answer locating the transaction and the verified data it
		// was checked against and rebuilt from.
		c.Report.Set(pipeline.ClassProof, "", used...)
	}
	return res, err
}
