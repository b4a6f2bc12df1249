package txbroadcast

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/ethereum/go-ethereum/common/hexutil"

	"github.com/rpcmesh/rpcmesh/internal/jsonrpc"
)

// IsPendingNonce reports whether params are eth_getTransactionCount's
// (address, "pending").
func IsPendingNonce(params json.RawMessage) bool {
	var args []json.RawMessage
	if json.Unmarshal(params, &args) != nil || len(args) != 2 {
		return false
	}
	var tag string
	return json.Unmarshal(args[1], &tag) == nil && strings.EqualFold(tag, "pending")
}

// PendingNonce asks one target of every operator in ranked for
// eth_getTransactionCount(address, "pending") and answers the highest: a
// transaction in any operator's pool counts, so a client that sends its
// next transaction does not reuse a nonce.
func PendingNonce(ctx context.Context, ranked []Target, params json.RawMessage) (json.RawMessage, error) {
	targets := Distinct(ranked, len(ranked), nil)
	if len(targets) == 0 {
		return nil, jsonrpc.Errorf(jsonrpc.CodeNoProvider, "no provider available for eth_getTransactionCount")
	}
	type answer struct {
		n   uint64
		err error
	}
	answers := make(chan answer, len(targets))
	for _, t := range targets {
		go func() {
			res, err := t.Call(ctx, "eth_getTransactionCount", params)
			if err != nil {
				answers <- answer{err: err}
				return
			}
			var n hexutil.Uint64
			if err := json.Unmarshal(res, &n); err != nil {
				answers <- answer{err: fmt.Errorf("provider %s: eth_getTransactionCount: %w", t.Name(), err)}
				return
			}
			answers <- answer{n: uint64(n)}
		}()
	}
	var best uint64
	var got int
	var lastErr error
	for range targets {
		a := <-answers
		if a.err != nil {
			lastErr = a.err
			continue
		}
		got++
		best = max(best, a.n)
	}
	if got == 0 {
		return nil, lastErr
	}
	return json.Marshal(hexutil.Uint64(best))
}
