package stage

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/ethereum/go-ethereum/common"

	"github.com/rpcmesh/rpcmesh/internal/head"
	"github.com/rpcmesh/rpcmesh/internal/verify"
)

// AnchorFrom makes the head that distinct operators agree on the anchor of
// a verify.LinkedTrust.
func AnchorFrom(t *head.Tracker) verify.Anchor {
	return func() (uint64, common.Hash, bool) {
		b, ok := t.Latest()
		if !ok || !common.IsHexHash(b.Hash) {
			return 0, common.Hash{}, false
		}
		return b.Number, common.HexToHash(b.Hash), true
	}
}

// HeaderFetcher fetches a header by hash from providers, one after another
// (at most attempts), until one answers with a block whose recomputed hash
// is the one asked for; the others are recorded as liars by onLie (may be nil).
func HeaderFetcher(a Asker, attempts int, onLie func(Answer, error)) verify.HeaderFetcher {
	return func(ctx context.Context, hash common.Hash) (json.RawMessage, error) {
		avoid := map[string]bool{}
		var last error
		for range max(attempts, 1) {
			ans := a.Ask(ctx, Request{Method: "eth_getBlockByHash", Params: verify.Params(hash, false)}, avoid)
			if ans.Provider == "" {
				break
			}
			avoid[ans.Provider] = true
			if ans.Err != nil {
				last = ans.Err
				continue
			}
			if len(ans.Value) == 0 || string(ans.Value) == "null" {
				last = fmt.Errorf("%s does not know the block", ans.Provider)
				continue // not a lie: a provider may lag
			}
			if _, err := verify.VerifyHeader(ans.Value, hash); err != nil {
				if onLie != nil && verify.Kind(err) != "" {
					onLie(ans, err)
				}
				last = err
				continue
			}
			return ans.Value, nil
		}
		return nil, fmt.Errorf("no provider gave header %s: %v", hash.Hex(), last)
	}
}
