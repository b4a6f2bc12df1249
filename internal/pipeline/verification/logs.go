package verification

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/rpcmesh/rpcmesh/internal/jsonrpc"
	"github.com/rpcmesh/rpcmesh/internal/pipeline"
	"github.com/rpcmesh/rpcmesh/internal/verify"
)

// logs answers eth_getLogs with logs derived from verified receipts of every
// block in the range whose bloom may match. The provider's own eth_getLogs
// answer is compared with them and a lie recorded; the client always gets
// the derived logs. Ranges beyond MaxLogBlocks fall back to quorum.
func (v *Verifier) logs(ctx context.Context, c *pipeline.Call) (json.RawMessage, error) {
	ps, err := splitParams(c.Params, 1)
	if err != nil {
		return nil, err
	}
	filter, err := verify.DecodeLogFilter(ps[0])
	if err != nil {
		return nil, jsonrpc.Errorf(jsonrpc.CodeInvalidParams, "invalid argument 0: the filter must be an object with block range, address and topics in hex")
	}
	from, to, err := v.logRange(ctx, c, ps[0])
	if err != nil {
		return nil, v.noHeader(c.Method, err)
	}
	if head, ok := v.latest(); ok && to > head {
		// As go-ethereum answers: the range must not reach past the head
		// (here the agreed one), or a client would skip blocks unknowingly.
		return nil, jsonrpc.Errorf(jsonrpc.CodeInvalidParams, "block range extends beyond current head block")
	}
	if from > to {
		return nil, jsonrpc.Errorf(jsonrpc.CodeInvalidParams, "invalid params: fromBlock %d is after toBlock %d", from, to)
	}
	if to-from >= uint64(v.o.MaxLogBlocks) {
		return nil, &fallback{why: fmt.Sprintf("log range of %d blocks is beyond the %d verified per request", to-from+1, v.o.MaxLogBlocks)}
	}
	first := Request{Method: c.Method, Params: c.Params, Block: to, HasBlock: true, Client: c.Client}
	var used []string // the operators of the receipts the logs came from
	res, err := v.attempts(ctx, c, first, func(ctx context.Context, a Answer, call verify.Caller) (json.RawMessage, error) {
		var ops []string
		// Receipts verified once are kept; the others are fetched through
		// this provider.
		receipts := func(ctx context.Context, h *types.Header) (*verify.Receipts, error) {
			rs, rops, err := v.receiptsVia(ctx, h, call, a.Operator)
			ops = joinOps(ops, rops)
			return rs, err
		}
		derived, _, err := verify.DeriveLogs(ctx, receipts, v.trust(c), from, to, filter, v.o.MaxLogBlocks)
		if err != nil {
			return nil, err
		}
		used = ops
		if _, err := verify.VerifyLogs(a.Value, derived); err != nil {
			v.reject(c.Method, c.Params, a, err) // the client still gets the proven logs
		}
		if derived == nil {
			return json.RawMessage(`[]`), nil
		}
		return json.Marshal(derived)
	})
	if err == nil && len(used) > 0 {
		c.Report.Set(pipeline.ClassProof, "", used...)
	}
	return res, err
}

// logRange is a filter's block range: the one the block-tag stage
// resolved (c.Range), or the block of its blockHash.
func (v *Verifier) logRange(ctx context.Context, c *pipeline.Call, raw json.RawMessage) (uint64, uint64, error) {
	if c.HasRange {
		return c.Range.From, c.Range.To, nil
	}
	var f struct {
		BlockHash *common.Hash `json:"blockHash"`
	}
	if err := json.Unmarshal(raw, &f); err != nil {
		return 0, 0, jsonrpc.Errorf(jsonrpc.CodeInvalidParams, "invalid argument 0: the filter's blockHash, fromBlock, toBlock or address is not valid")
	}
	if f.BlockHash == nil {
		return 0, 0, fmt.Errorf("eth_getLogs: no block range resolved for the call: %w", verify.ErrNoTrust)
	}
	trust := v.trust(c)
	h, err := trust.HeaderByHash(ctx, *f.BlockHash)
	if err != nil {
		return 0, 0, err
	}
	canon, err := trust.HeaderByNumber(ctx, h.Number.Uint64())
	if err != nil {
		return 0, 0, err
	}
	if canon.Hash() != h.Hash() {
		return 0, 0, &fallback{why: "block " + f.BlockHash.Hex() + " is not canonical"}
	}
	return h.Number.Uint64(), h.Number.Uint64(), nil
}

// latest is the agreed head number, if known.
func (v *Verifier) latest() (uint64, bool) {
	if v.o.Latest == nil {
		return 0, false
	}
	return v.o.Latest()
}
