package txbroadcast

import (
	"encoding/json"
	"strings"

	"github.com/rpcmesh/rpcmesh/internal/jsonrpc"
)

// CodeTxRejected is the JSON-RPC code of a transaction every provider
// rejected (EIP-1474's "transaction rejected"). The message is the
// normalised reason's text, which wallets already match on.
const CodeTxRejected = jsonrpc.CodeTxRejected

// Reason names why a transaction was refused, in error data and metrics.
type Reason string

// Reasons for refusing a transaction before sending it (-32602).
const (
	ReasonBadParams Reason = "bad_params"
	ReasonMalformed Reason = "malformed"
	ReasonChainID   Reason = "wrong_chain_id"
	ReasonSignature Reason = "bad_signature"
	ReasonOversize  Reason = "oversize"
)

// Reasons providers give for rejecting a transaction (-32003), most
// specific first: when providers disagree, the client gets the first.
const (
	ReasonNonceTooLow      Reason = "nonce_too_low"
	ReasonInsufficient     Reason = "insufficient_funds"
	ReasonReplacementPrice Reason = "replacement_underpriced"
	ReasonUnderpriced      Reason = "underpriced"
	ReasonFeeCapTooLow     Reason = "fee_cap_too_low"
	ReasonIntrinsicGas     Reason = "intrinsic_gas_too_low"
	ReasonGasLimit         Reason = "exceeds_block_gas_limit"
	ReasonNonceTooHigh     Reason = "nonce_too_high"
	ReasonPoolFull         Reason = "txpool_full"
	ReasonOther            Reason = "rejected"
	// ReasonAlreadyKnown is not a rejection: the node has the transaction.
	ReasonAlreadyKnown Reason = "already_known"
)

// rejection is one reason with the node messages that mean it and the
// message the client sees.
type rejection struct {
	reason   Reason
	message  string
	patterns []string
}

// rejections is ordered most specific first.
var rejections = []rejection{
	{ReasonAlreadyKnown, "already known", []string{"already known", "known transaction", "alreadyknown", "already exists", "already imported"}},
	{ReasonNonceTooLow, "nonce too low", []string{"nonce too low", "oldnonce", "nonce is too low", "invalid nonce"}},
	{ReasonInsufficient, "insufficient funds for gas * price + value", []string{"insufficient funds", "insufficientfunds", "insufficient balance"}},
	{ReasonReplacementPrice, "replacement transaction underpriced", []string{"replacement transaction underpriced", "replacement underpriced"}},
	{ReasonUnderpriced, "transaction underpriced", []string{"underpriced", "feetoolow", "fee too low", "gas price too low", "tip too low"}},
	{ReasonFeeCapTooLow, "max fee per gas less than block base fee", []string{"max fee per gas less than block base fee", "fee cap less than base fee", "feecap too low"}},
	{ReasonIntrinsicGas, "intrinsic gas too low", []string{"intrinsic gas too low", "intrinsic gas"}},
	{ReasonGasLimit, "exceeds block gas limit", []string{"exceeds block gas limit", "gas limit reached", "gaslimitexceeded"}},
	{ReasonNonceTooHigh, "nonce too high", []string{"nonce too high", "nonce gap"}},
	{ReasonPoolFull, "txpool is full", []string{"txpool is full", "pool is full"}},
}

// classify maps a node's error message to a reason.
func classify(msg string) Reason {
	m := strings.ToLower(msg)
	for _, r := range rejections {
		for _, p := range r.patterns {
			if strings.Contains(m, p) {
				return r.reason
			}
		}
	}
	return ReasonOther
}

// rank is a reason's position in rejections (lower is more specific).
func rank(r Reason) int {
	for i, x := range rejections {
		if x.reason == r {
			return i
		}
	}
	return len(rejections)
}

// rejectedError is the error for a transaction every provider rejected:
// reason is the most specific one, detail the node's own message.
func rejectedError(reason Reason, detail string) *jsonrpc.Error {
	msg := detail
	for _, r := range rejections {
		if r.reason == reason {
			msg = r.message
		}
	}
	data, _ := json.Marshal(map[string]any{"reason": reason, "detail": detail})
	return &jsonrpc.Error{Code: CodeTxRejected, Message: msg, Data: data}
}
