package verification

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/rpcmesh/rpcmesh/internal/blockref"
	"github.com/rpcmesh/rpcmesh/internal/jsonrpc"
	"github.com/rpcmesh/rpcmesh/internal/pipeline"
	"github.com/rpcmesh/rpcmesh/internal/verify"
)

// header is the trusted header of c's block param, as the block-tag stage
// parsed and resolved it (c.Ref). "pending" cannot be proven: it returns a
// *fallback.
func (v *Verifier) header(ctx context.Context, c *pipeline.Call) (*types.Header, error) {
	if !c.HasRef {
		return nil, fmt.Errorf("%s: no block resolved for the call: %w", c.Method, verify.ErrNoTrust)
	}
	return v.headerOf(ctx, c, c.Ref)
}

// headerOf is the trusted header of a resolved block param. A hash with
// requireCanonical that is not on the agreed chain is answered as a node
// answers it (-32000 "hash is not currently canonical").
func (v *Verifier) headerOf(ctx context.Context, c *pipeline.Call, ref blockref.Ref) (*types.Header, error) {
	trust := v.trust(c)
	if ref.Kind != blockref.Hash {
		n, err := numberOf(ref)
		if err != nil {
			return nil, err
		}
		return trust.HeaderByNumber(ctx, n)
	}
	h, err := trust.HeaderByHash(ctx, common.Hash(ref.Hash))
	if err != nil || !ref.RequireCanonical {
		return h, err
	}
	canon, err := trust.HeaderByNumber(ctx, h.Number.Uint64())
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
	return v.agreed != nil && v.agreed(h)
}

// codeServerError is the code a node gives errors without one of their own.
const codeServerError = -32000

// numberOf is the number of a block named by number or tag. The
// block-tag stage turned the tags the agreed head has numbers for into
// those numbers: a tag left is one the head has no number for yet, and
// there is nothing to prove against.
func numberOf(ref blockref.Ref) (uint64, error) {
	switch ref.Kind {
	case blockref.Number:
		return ref.Number, nil
	case blockref.Pending:
		return 0, &fallback{why: "the pending block cannot be proven"}
	case blockref.Earliest:
		return 0, nil
	case blockref.Latest, blockref.Safe, blockref.Finalized:
		return 0, fmt.Errorf("block %q: no agreed number yet: %w", ref.Kind, verify.ErrNoTrust)
	}
	return 0, jsonrpc.Errorf(jsonrpc.CodeInvalidParams, "invalid params: a block hash where a block number is expected")
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
