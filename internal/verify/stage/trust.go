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
// is the one asked for; the others are recorded as liars by onLie (may be
// nil). A provider that answers null may lag or hide the block: the next
// ask goes to another operator, and when every one asked answered null
// (none failed a check) the block is unknown: an error wrapping
// verify.ErrNotFound.
func HeaderFetcher(a Asker, attempts int, onLie func(Answer, error)) verify.HeaderFetcher {
	return func(ctx context.Context, hash common.Hash) (json.RawMessage, error) {
		req := Request{Method: "eth_getBlockByHash", Params: verify.Params(hash, false)}
		absent := absence{}
		var last error
		for range max(attempts, 1) {
			ans, ok := absent.ask(ctx, a, req)
			if !ok {
				break
			}
			if ans.Err != nil {
				last = ans.Err
				continue
			}
			if isNull(ans.Value) {
				absent.null(ans)
				last = fmt.Errorf("%s does not know the block", ans.Provider)
				continue // not a lie: a provider may lag
			}
			if _, err := verify.VerifyHeader(ans.Value, hash); err != nil {
				if onLie != nil && verify.IsLie(err) {
					onLie(ans, err)
				}
				absent.lied = true
				last = err
				continue
			}
			return ans.Value, nil
		}
		if absent.unknown() {
			return nil, fmt.Errorf("block %s: %w (%s)", hash.Hex(), verify.ErrNotFound, &absent)
		}
		return nil, fmt.Errorf("no provider gave header %s: %v", hash.Hex(), last)
	}
}
