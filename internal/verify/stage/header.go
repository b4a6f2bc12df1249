package stage

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/rpcmesh/rpcmesh/internal/jsonrpc"
	"github.com/rpcmesh/rpcmesh/internal/verify"
)

// header resolves a block param (a number or tag, or an EIP-1898 object;
// absent means latest) to a trusted header. "pending" cannot be proven: it
// returns a *fallback.
func (v *Verifier) header(ctx context.Context, raw json.RawMessage) (*types.Header, error) {
	raw = json.RawMessage(strings.TrimSpace(string(raw)))
	if len(raw) > 0 && raw[0] == '{' {
		var obj struct {
			BlockHash        *common.Hash    `json:"blockHash"`
			BlockNumber      json.RawMessage `json:"blockNumber"`
			RequireCanonical bool            `json:"requireCanonical"`
		}
		if err := json.Unmarshal(raw, &obj); err != nil {
			return nil, jsonrpc.Errorf(jsonrpc.CodeInvalidParams, "invalid params: block object: %v", err)
		}
		if obj.BlockHash == nil {
			return v.header(ctx, obj.BlockNumber)
		}
		h, err := v.o.Trust.HeaderByHash(ctx, *obj.BlockHash)
		if err != nil || !obj.RequireCanonical {
			return h, err
		}
		canon, err := v.o.Trust.HeaderByNumber(ctx, h.Number.Uint64())
		if err != nil {
			return nil, err
		}
		if canon.Hash() != h.Hash() {
			return nil, jsonrpc.Errorf(jsonrpc.CodeInvalidParams, "block %s is not canonical", obj.BlockHash.Hex())
		}
		return h, nil
	}
	n, err := v.number(raw)
	if err != nil {
		return nil, err
	}
	return v.o.Trust.HeaderByNumber(ctx, n)
}

// number resolves a block number or tag; absent means latest.
func (v *Verifier) number(raw json.RawMessage) (uint64, error) {
	tag := "latest"
	if len(raw) > 0 && string(raw) != "null" {
		if err := json.Unmarshal(raw, &tag); err != nil {
			return 0, jsonrpc.Errorf(jsonrpc.CodeInvalidParams, "invalid params: block must be a tag, a hex number or an object")
		}
	}
	switch tag {
	case "pending":
		return 0, &fallback{why: "the pending block cannot be proven"}
	case "earliest":
		return 0, nil
	case "latest", "safe", "finalized":
		// The blocktag stage resolves tags to agreed numbers; without a
		// head there is nothing to prove against.
		if v.o.Latest == nil {
			return 0, fmt.Errorf("block %q: %w", tag, verify.ErrNoTrust)
		}
		n, ok := v.o.Latest()
		if !ok {
			return 0, fmt.Errorf("block %q: no agreed head: %w", tag, verify.ErrNoTrust)
		}
		return n, nil
	}
	n, err := hexutil.DecodeUint64(tag)
	if err != nil {
		return 0, jsonrpc.Errorf(jsonrpc.CodeInvalidParams, "invalid params: block %q: %v", tag, err)
	}
	return n, nil
}

// splitParams splits a call's params into n positions (missing ones are nil).
func splitParams(raw json.RawMessage, n int) ([]json.RawMessage, error) {
	var ps []json.RawMessage
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &ps); err != nil {
			return nil, jsonrpc.Errorf(jsonrpc.CodeInvalidParams, "invalid params: params must be a list")
		}
	}
	for len(ps) < n {
		ps = append(ps, nil)
	}
	return ps, nil
}
