package verify

import (
	"context"
	"fmt"
	"sync"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
)

// AgreedHeader returns the header at number that enough distinct operators
// report with the same recomputed hash (the rule that makes the head
// trusted), or an error wrapping ErrNoTrust when they do not agree.
type AgreedHeader func(ctx context.Context, number uint64) (*types.Header, error)

// WithAgreedHeaders makes the trust source trust a block it cannot link
// to the anchor (more than the walk limit below it, or before there is an
// anchor) when vote finds operators agreeing on its header. Such blocks are
// final in practice; blocks within the walk limit are always linked, so a
// reorg near the head is followed. Call it before use.
func (t *LinkedTrust) WithAgreedHeaders(vote AgreedHeader) *LinkedTrust {
	t.vote = vote
	return t
}

// ByAgreement reports whether h was trusted by operator agreement rather
// than by its link to the anchor (for the answer's label).
func (t *LinkedTrust) ByAgreement(h *types.Header) bool {
	return h != nil && t.agreed.has(h.Hash())
}

// byAgreement returns the agreed header at number, from the cache or a
// vote; concurrent votes on one number share one. Only with an anchor
// (final says the block is far below it) is the number remembered: before
// there is one, the block may be near the tip and a later vote may differ.
func (t *LinkedTrust) byAgreement(ctx context.Context, number uint64, final bool) (*types.Header, error) {
	if hash, ok := t.agreed.at(number); ok {
		if h, ok := t.cached(hash); ok {
			return h, nil
		}
	}
	h, err := t.shared(ctx, fmt.Sprintf("a%d", number), func() (*types.Header, error) { return t.vote(ctx, number) })
	if err != nil {
		return nil, err
	}
	if h.Number == nil || h.Number.Uint64() != number {
		return nil, fmt.Errorf("header %d: agreed header is block %v: %w", number, h.Number, ErrNoTrust)
	}
	hash := h.Hash()
	t.add(hash, h)
	t.agreed.add(hash, number, final)
	return h, nil
}

// agreedSet remembers which hashes were trusted by agreement, and, for
// final ones, the hash at each number; bounded, oldest evicted first.
type agreedSet struct {
	mu       sync.Mutex
	hashes   map[common.Hash]uint64
	byNumber map[uint64]common.Hash
	order    []common.Hash
	limit    int
}

func newAgreedSet(limit int) *agreedSet {
	return &agreedSet{hashes: map[common.Hash]uint64{}, byNumber: map[uint64]common.Hash{}, limit: limit}
}

func (s *agreedSet) has(hash common.Hash) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.hashes[hash]
	return ok
}

func (s *agreedSet) at(number uint64) (common.Hash, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	h, ok := s.byNumber[number]
	return h, ok
}

func (s *agreedSet) add(hash common.Hash, number uint64, final bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.hashes[hash]; !ok {
		if len(s.order) >= s.limit {
			old := s.order[0]
			s.order = s.order[1:]
			if h, ok := s.byNumber[s.hashes[old]]; ok && h == old {
				delete(s.byNumber, s.hashes[old])
			}
			delete(s.hashes, old)
		}
		s.hashes[hash] = number
		s.order = append(s.order, hash)
	}
	if final {
		s.byNumber[number] = hash
	}
}
