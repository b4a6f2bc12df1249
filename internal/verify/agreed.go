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
// than by its link to the anchor (for the answer's label). It compares the
// header the trust source handed out, without hashing it.
func (t *LinkedTrust) ByAgreement(h *types.Header) bool {
	return h != nil && t.agreed.has(h)
}

// byAgreement returns the agreed header at number, from the cache or a
// vote; concurrent votes on one number share one. Only with an anchor
// (final says the block is far below it) is the number remembered: before
// there is one, the block may be near the tip and a later vote may differ.
func (t *LinkedTrust) byAgreement(ctx context.Context, number uint64, final bool) (*types.Header, error) {
	if h, ok := t.agreed.at(number); ok {
		return h, nil
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
	if c, ok := t.cached(hash); ok {
		h = c // the one object handed out for this hash, so ByAgreement knows it
	}
	t.agreed.add(hash, h, final)
	return h, nil
}

// agreedSet remembers which headers were trusted by agreement, and, for
// final ones, the hash at each number; bounded, oldest evicted first.
type agreedSet struct {
	mu       sync.Mutex
	headers  map[common.Hash]*types.Header
	agreed   map[*types.Header]bool
	byNumber map[uint64]common.Hash
	order    []common.Hash
	limit    int
}

func newAgreedSet(limit int) *agreedSet {
	return &agreedSet{headers: map[common.Hash]*types.Header{}, agreed: map[*types.Header]bool{},
		byNumber: map[uint64]common.Hash{}, limit: limit}
}

func (s *agreedSet) has(h *types.Header) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.agreed[h]
}

func (s *agreedSet) at(number uint64) (*types.Header, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	h, ok := s.headers[s.byNumber[number]]
	return h, ok
}

func (s *agreedSet) add(hash common.Hash, h *types.Header, final bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.headers[hash]; !ok {
		if len(s.order) >= s.limit {
			old := s.order[0]
			s.order = s.order[1:]
			s.forget(old)
		}
		s.headers[hash] = h
		s.agreed[h] = true
		s.order = append(s.order, hash)
	}
	if final {
		s.byNumber[h.Number.Uint64()] = hash
	}
}

// linked forgets that hash was trusted by agreement: a walk from the
// anchor reached it. Its place in order stays until its turn to be evicted
// (at worst an entry added again later is evicted early).
func (s *agreedSet) linked(hash common.Hash) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.forget(hash)
}

// forget drops hash; the caller holds mu.
func (s *agreedSet) forget(hash common.Hash) {
	h, ok := s.headers[hash]
	if !ok {
		return
	}
	delete(s.headers, hash)
	delete(s.agreed, h)
	if n := h.Number.Uint64(); s.byNumber[n] == hash {
		delete(s.byNumber, n)
	}
}
