package txbroadcast

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
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
// eth_getTransactionCount(address, "pending") and answers the highest count
// at least two operators reach (one operator's, when only one answered),
// never below floor: the caller's proven "latest" count and the next nonce
// of the sender's transactions it watches. A transaction that reached two
// operators' pools counts, so a client does not reuse its nonce; a count
// only one operator reports is not believed, as one lying node would
// otherwise make the client leave a nonce gap and its transactions stuck.
func PendingNonce(ctx context.Context, ranked []Target, params json.RawMessage, floor uint64) (json.RawMessage, error) {
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
	var counts []uint64
	var lastErr error
	for range targets {
		a := <-answers
		if a.err != nil {
			lastErr = a.err
			continue
		}
		counts = append(counts, a.n)
	}
	if len(counts) == 0 {
		return nil, lastErr
	}
	return json.Marshal(hexutil.Uint64(max(floor, secondHighest(counts))))
}

// secondHighest is the highest value two entries reach, or the only one.
func secondHighest(v []uint64) uint64 {
	slices.Sort(v)
	if len(v) == 1 {
		return v[0]
	}
	return v[len(v)-2]
}
