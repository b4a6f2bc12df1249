package verification

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/rpcmesh/rpcmesh/internal/head"
	"github.com/rpcmesh/rpcmesh/internal/pipeline"
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
// nil). With the block's number known (a walk from the head), only
// providers whose head reached it are asked: after the head moved on to
// blocks few providers have (a head followed on one operator), the others'
// nulls would use up the attempts. A provider that answers null may lag
// or hide the block: the next ask goes to another operator, and when every
// one asked answered null (none failed a check) the block is unknown: an
// error wrapping verify.ErrNotFound.
func HeaderFetcher(a Asker, attempts int, onLie func(Answer, error)) verify.HeaderFetcher {
	return func(ctx context.Context, hash common.Hash, number uint64) (json.RawMessage, error) {
		req := Request{Method: "eth_getBlockByHash", Params: verify.Params(hash, false), Block: number, HasBlock: number > 0}
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

// AgreedHeader asks providers of distinct operators for the header at a
// number (eth_getBlockByNumber), recomputes each one's hash from its
// fields, and returns it once agree distinct operators gave the same hash:
// the rule that makes the head trusted, for blocks too far below it to
// link. It asks agree operators, then, while they disagree or fail, as
// many more as still needed, in at most rounds rounds. A header whose
// fields do not hash to its own "hash" is a lie (onLie, may be nil); a
// different hash at the number is not: the dissenter may follow another
// fork, and the agreed header is not linked to the head.
func AgreedHeader(a Asker, agree, rounds int, onLie func(Answer, error)) verify.AgreedHeader {
	agree = max(agree, 1)
	return func(ctx context.Context, number uint64) (*types.Header, error) {
		req := Request{Method: "eth_getBlockByNumber", Params: verify.Params(hexutil.Uint64(number), false), Block: number, HasBlock: true}
		skip := Skip{Providers: map[string]bool{}, Operators: map[string]bool{}}
		votes := map[common.Hash]int{}
		best, answered := 0, 0
		for range max(rounds, 1) {
			answers := a.AskDistinct(ctx, req, agree-best, skip)
			if len(answers) == 0 {
				break
			}
			for _, ans := range answers {
				skip.Providers[ans.Provider] = true
				if ans.Err != nil || isNull(ans.Value) {
					continue // another provider of this operator may answer
				}
				skip.Operators[ans.Operator] = true
				h, err := verify.DecodeHeader(ans.Value)
				if err != nil {
					if onLie != nil && verify.IsLie(err) {
						onLie(ans, err)
					}
					continue
				}
				if h.Number.Uint64() != number {
					continue
				}
				answered++
				hash := h.Hash()
				votes[hash]++
				if votes[hash] >= agree {
					return h, nil
				}
				best = max(best, votes[hash])
			}
			if err := ctx.Err(); err != nil {
				return nil, fmt.Errorf("header %d: %w", number, err)
			}
		}
		return nil, fmt.Errorf("header %d: %d operators gave a header, %d agreed, %d must: %w",
			number, answered, best, agree, verify.ErrNoTrust)
	}
}

// agreedLabel is a trust source that records, in a call's Report, that
// a header it hands out was trusted by operator agreement (an old block)
// rather than by its link to the agreed head.
type agreedLabel struct {
	verify.TrustSource
	byAgreement func(*types.Header) bool
	report      *pipeline.Report
}

// HeaderByNumber returns the inner source's header, labelled.
func (l agreedLabel) HeaderByNumber(ctx context.Context, number uint64) (*types.Header, error) {
	h, err := l.TrustSource.HeaderByNumber(ctx, number)
	l.label(h)
	return h, err
}

// HeaderByHash returns the inner source's header, labelled.
func (l agreedLabel) HeaderByHash(ctx context.Context, hash common.Hash) (*types.Header, error) {
	h, err := l.TrustSource.HeaderByHash(ctx, hash)
	l.label(h)
	return h, err
}

func (l agreedLabel) label(h *types.Header) {
	if h != nil && l.byAgreement(h) {
		l.report.MarkAgreedHeader()
	}
}

// trust is the trust source for c's headers: the stage's, labelling c's
// Report when a header was trusted by operator agreement.
func (v *Verifier) trust(c *pipeline.Call) verify.TrustSource {
	if v.agreed == nil {
		return v.o.Trust
	}
	return agreedLabel{TrustSource: v.o.Trust, byAgreement: v.agreed, report: c.Report}
}
