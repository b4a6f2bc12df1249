package stage

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/rpcmesh/rpcmesh/internal/blockref"
	"github.com/rpcmesh/rpcmesh/internal/jsonrpc"
	"github.com/rpcmesh/rpcmesh/internal/verify"
)

// header resolves a block param (a number or tag, a block hash, or an
// EIP-1898 object; absent or null means latest) to a trusted header. The
// param is parsed by internal/blockref as a node parses it. "pending"
// cannot be proven: it returns a *fallback.
func (v *Verifier) header(ctx context.Context, raw json.RawMessage) (*types.Header, error) {
	if absent(raw) {
		return v.headerOf(ctx, blockref.Ref{Kind: blockref.Latest})
	}
	ref, err := blockref.ParseNumberOrHash(raw)
	if err != nil {
		return nil, jsonrpc.Errorf(jsonrpc.CodeInvalidParams, "invalid params: block: %s", err.Error())
	}
	return v.headerOf(ctx, ref)
}

// headerOf is the trusted header of a parsed block param. A hash with
// requireCanonical that is not on the agreed chain is answered as a node
// answers it (-32000 "hash is not currently canonical").
func (v *Verifier) headerOf(ctx context.Context, ref blockref.Ref) (*types.Header, error) {
	if ref.Kind != blockref.Hash {
		n, err := v.numberOf(ref)
		if err != nil {
			return nil, err
		}
		return v.o.Trust.HeaderByNumber(ctx, n)
	}
	h, err := v.o.Trust.HeaderByHash(ctx, common.Hash(ref.Hash))
	if err != nil || !ref.RequireCanonical {
		return h, err
	}
	canon, err := v.o.Trust.HeaderByNumber(ctx, h.Number.Uint64())
	if err != nil {
		return nil, err
	}
	if canon.Hash() != h.Hash() {
		if v.byAgreement(canon) {
			// Operators' agreement (one operator's word with head_agreement
			// 1) is enough to prove state against, not to call a block
			// whose hash checks out not canonical.
			return nil, fmt.Errorf("block %s: operators agree on another block at %d: %w", h.Hash().Hex(), h.Number, verify.ErrNoTrust)
		}
		return nil, jsonrpc.Errorf(codeServerError, "hash is not currently canonical")
	}
	return h, nil
}

// byAgreement reports whether h was trusted by operator agreement rather
// than by its link to the agreed head.
func (v *Verifier) byAgreement(h *types.Header) bool {
	l, ok := v.o.Trust.(agreedLabel)
	return ok && l.byAgreement(h)
}

// codeServerError is the code a node gives errors without one of their own.
const codeServerError = -32000

// number resolves a block number or tag (go-ethereum's rpc.BlockNumber:
// a log filter's fromBlock/toBlock); absent or null means latest.
func (v *Verifier) number(raw json.RawMessage) (uint64, error) {
	if absent(raw) {
		return v.numberOf(blockref.Ref{Kind: blockref.Latest})
	}
	ref, err := blockref.ParseNumber(raw)
	if err != nil {
		return 0, jsonrpc.Errorf(jsonrpc.CodeInvalidParams, "invalid params: block: %s", err.Error())
	}
	return v.numberOf(ref)
}

// numberOf is the number of a block named by number or tag.
func (v *Verifier) numberOf(ref blockref.Ref) (uint64, error) {
	switch ref.Kind {
	case blockref.Number:
		return ref.Number, nil
	case blockref.Pending:
		return 0, &fallback{why: "the pending block cannot be proven"}
	case blockref.Earliest:
		return 0, nil
	case blockref.Latest, blockref.Safe, blockref.Finalized:
		// The blocktag stage resolves tags to agreed numbers; without a
		// head there is nothing to prove against.
		if v.o.Latest == nil {
			return 0, fmt.Errorf("block %q: %w", ref.Kind, verify.ErrNoTrust)
		}
		n, ok := v.o.Latest()
		if !ok {
			return 0, fmt.Errorf("block %q: no agreed head: %w", ref.Kind, verify.ErrNoTrust)
		}
		return n, nil
	}
	return 0, jsonrpc.Errorf(jsonrpc.CodeInvalidParams, "invalid params: a block hash where a block number is expected")
}

// absent reports whether a param was left out or null.
func absent(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) == 0 || string(raw) == "null"
}

// splitParams splits a call's params into n positions (missing ones are
// nil). A call's params are valid JSON (pipeline.Call): splitting them
// need not validate them again, which json.Unmarshal did (5 % of a
// proven read's CPU).
func splitParams(raw json.RawMessage, n int) ([]json.RawMessage, error) {
	ps, err := jsonrpc.AppendValidParamsArray(make([]json.RawMessage, 0, max(n, 4)), raw)
	if err != nil {
		return nil, jsonrpc.Errorf(jsonrpc.CodeInvalidParams, "invalid params: expected an array")
	}
	for len(ps) < n {
		ps = append(ps, nil)
	}
	return ps, nil
}
