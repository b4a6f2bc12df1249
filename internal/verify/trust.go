package verify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"golang.org/x/sync/singleflight"
)

// TrustSource supplies headers the gateway trusts: today the chain head
// agreed by distinct operators and the headers linked to it by parent
// hashes; later, a beacon light client.
type TrustSource interface {
	// HeaderByNumber returns the trusted canonical header at number, or an
	// error wrapping ErrNoTrust when none can be established.
	HeaderByNumber(ctx context.Context, number uint64) (*types.Header, error)
	// HeaderByHash returns the header whose recomputed hash is hash.
	HeaderByHash(ctx context.Context, hash common.Hash) (*types.Header, error)
}

// HeaderFetcher fetches a block object by hash from anywhere (any
// provider): the caller checks the answer by recomputing its hash, so the
// fetcher need not be trusted. number is the block's number when the
// caller knows it (a walk from the anchor does), else 0: a provider whose
// head has not reached it cannot have the block, and need not be asked. It
// returns an error wrapping ErrNotFound when the providers asked do not
// know the block.
type HeaderFetcher func(ctx context.Context, hash common.Hash, number uint64) (json.RawMessage, error)

// Anchor returns the trusted head to walk back from: its number and hash.
type Anchor func() (number uint64, hash common.Hash, ok bool)

// LinkedTrust is a TrustSource that trusts one anchor (the head distinct
// operators agree on) and every header linked to it by parent hashes, each
// fetched from any provider and checked by its recomputed hash; with
// WithAgreedHeaders, also blocks too far below it to link whose header
// operators agree on (agreed.go). Headers are
// cached (bounded), so following the head costs one fetch per block.
// Concurrent walks to one block share one walk, concurrent fetches of one
// header share one fetch, and at most a bounded number of walks run at once.
type LinkedTrust struct {
	anchor  Anchor
	fetch   HeaderFetcher
	maxWalk uint64
	walks   chan struct{} // a slot per walk that may run at once
	flight  singleflight.Group
	vote    AgreedHeader // nil: blocks beyond the walk are not trusted
	agreed  *agreedSet

	mu    sync.Mutex
	cache map[common.Hash]*types.Header
	order []common.Hash // insertion order, for eviction
	limit int
}

// DefaultMaxWalks is how many header walks a LinkedTrust runs at once
// unless told otherwise.
const DefaultMaxWalks = 4

// NewLinkedTrust returns a LinkedTrust that walks at most maxWalk blocks
// below the anchor, runs at most DefaultMaxWalks walks at once and caches
// up to cacheSize headers.
func NewLinkedTrust(anchor Anchor, fetch HeaderFetcher, maxWalk uint64, cacheSize int) *LinkedTrust {
	return &LinkedTrust{anchor: anchor, fetch: fetch, maxWalk: maxWalk, walks: make(chan struct{}, DefaultMaxWalks),
		cache: make(map[common.Hash]*types.Header), limit: max(cacheSize, 16), agreed: newAgreedSet(max(cacheSize, 16))}
}

// WithMaxWalks sets how many walks run at once (at least 1); further walks
// wait for a slot, as long as their context allows. Call it before use.
func (t *LinkedTrust) WithMaxWalks(n int) *LinkedTrust {
	t.walks = make(chan struct{}, max(n, 1))
	return t
}

// HeaderByNumber walks parent links from the anchor down to number. A
// number above the anchor is ErrAboveHead: not there yet for clients.
func (t *LinkedTrust) HeaderByNumber(ctx context.Context, number uint64) (*types.Header, error) {
	top, hash, ok := t.anchor()
	if !ok {
		if t.vote != nil {
			return t.byAgreement(ctx, number, false)
		}
		return nil, fmt.Errorf("header %d: no agreed head yet: %w", number, ErrNoTrust)
	}
	if number > top {
		return nil, fmt.Errorf("header %d is above the agreed head %d: %w", number, top, ErrAboveHead)
	}
	if top-number > t.maxWalk {
		if t.vote != nil {
			return t.byAgreement(ctx, number, true)
		}
		return nil, fmt.Errorf("header %d is %d blocks below the agreed head (walk limit %d): %w", number, top-number, t.maxWalk, ErrNoTrust)
	}
	if h, ok := t.cached(hash); ok && h.Number.Uint64() == number {
		return h, nil // the head itself: no walk
	}
	key := fmt.Sprintf("%d@%x", number, hash)
	return t.shared(ctx, key, func() (*types.Header, error) { return t.walk(ctx, hash, top, number) })
}

// sharedRetries bounds how often a caller repeats a shared walk or fetch
// that failed only because the caller that started it gave up.
const sharedRetries = 3

// shared runs do once for all concurrent callers with the same key. A
// caller whose own context is fine repeats it when it failed because the
// context of the caller that ran it ended.
func (t *LinkedTrust) shared(ctx context.Context, key string, do func() (*types.Header, error)) (*types.Header, error) {
	for try := 0; ; try++ {
		ch := t.flight.DoChan(key, func() (any, error) { return do() })
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case r := <-ch:
			if r.Err == nil {
				return r.Val.(*types.Header), nil
			}
			theirs := errors.Is(r.Err, context.Canceled) || errors.Is(r.Err, context.DeadlineExceeded)
			if r.Shared && theirs && ctx.Err() == nil && try < sharedRetries {
				continue
			}
			return nil, r.Err
		}
	}
}

// walk follows parent links from hash, the anchor at top, down to number,
// in one of the bounded walk slots. Each header is fetched with the number
// it must have, so that only providers that reached it are asked.
func (t *LinkedTrust) walk(ctx context.Context, hash common.Hash, top, number uint64) (*types.Header, error) {
	select {
	case t.walks <- struct{}{}:
		defer func() { <-t.walks }()
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	for steps := uint64(0); steps <= t.maxWalk && steps <= top; steps++ {
		h, err := t.headerAt(ctx, hash, top-steps)
		if errors.Is(err, ErrNotFound) {
			// A linked header nobody serves is missing trust, not absence
			// of the block asked about.
			return nil, fmt.Errorf("header %d: %w: %v", number, ErrNoTrust, err)
		}
		if err != nil {
			return nil, err
		}
		if h.Number.Uint64() == number {
			t.agreed.linked(hash) // trusted by its link now, whatever made it trusted before
			return h, nil
		}
		if h.Number.Uint64() < number || h.Number.Sign() == 0 {
			return nil, fmt.Errorf("header %d: walked past it: %w", number, ErrBrokenChain)
		}
		hash = h.ParentHash
	}
	return nil, fmt.Errorf("header %d: not reached within %d steps: %w", number, t.maxWalk, ErrBrokenChain)
}

// cached returns the cached header with hash.
func (t *LinkedTrust) cached(hash common.Hash) (*types.Header, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	h, ok := t.cache[hash]
	return h, ok
}

// HeaderByHash returns the cached header or fetches and checks it;
// concurrent fetches of one hash share one. A block no provider asked
// knows is ErrNotFound.
func (t *LinkedTrust) HeaderByHash(ctx context.Context, hash common.Hash) (*types.Header, error) {
	return t.headerAt(ctx, hash, 0)
}

// headerAt is HeaderByHash with the block's number when known (else 0),
// for the fetch.
func (t *LinkedTrust) headerAt(ctx context.Context, hash common.Hash, number uint64) (*types.Header, error) {
	if h, ok := t.cached(hash); ok {
		return h, nil
	}
	return t.shared(ctx, "h"+string(hash[:]), func() (*types.Header, error) { return t.fetchHeader(ctx, hash, number) })
}

// fetchHeader fetches, checks and caches the header with hash.
func (t *LinkedTrust) fetchHeader(ctx context.Context, hash common.Hash, number uint64) (*types.Header, error) {
	raw, err := t.fetch(ctx, hash, number)
	switch {
	case errors.Is(err, ErrNotFound), errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return nil, fmt.Errorf("header %s: %w", hash.Hex(), err)
	case err != nil:
		return nil, fmt.Errorf("header %s: %w: %v", hash.Hex(), ErrNoTrust, err)
	}
	h, err := VerifyHeader(raw, hash)
	if err != nil {
		return nil, fmt.Errorf("header %s: %w", hash.Hex(), err)
	}
	t.add(hash, h)
	return h, nil
}

// add caches h, evicting the oldest entry when full.
func (t *LinkedTrust) add(hash common.Hash, h *types.Header) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.cache[hash]; ok {
		return
	}
	if len(t.order) >= t.limit {
		delete(t.cache, t.order[0])
		t.order = t.order[1:]
	}
	t.cache[hash] = h
	t.order = append(t.order, hash)
}

// StaticTrust is a TrustSource over a fixed set of headers (tests, or
// checkpoints configured by an operator).
type StaticTrust struct {
	byNumber map[uint64]*types.Header
	byHash   map[common.Hash]*types.Header
}

// NewStaticTrust trusts exactly the given headers.
func NewStaticTrust(headers ...*types.Header) *StaticTrust {
	s := &StaticTrust{byNumber: map[uint64]*types.Header{}, byHash: map[common.Hash]*types.Header{}}
	for _, h := range headers {
		s.byNumber[h.Number.Uint64()] = h
		s.byHash[h.Hash()] = h
	}
	return s
}

// HeaderByNumber returns the header at number if it was given.
func (s *StaticTrust) HeaderByNumber(_ context.Context, number uint64) (*types.Header, error) {
	if h, ok := s.byNumber[number]; ok {
		return h, nil
	}
	return nil, fmt.Errorf("header %d: %w", number, ErrNoTrust)
}

// HeaderByHash returns the header with hash if it was given.
func (s *StaticTrust) HeaderByHash(_ context.Context, hash common.Hash) (*types.Header, error) {
	if h, ok := s.byHash[hash]; ok {
		return h, nil
	}
	return nil, fmt.Errorf("header %s: %w", hash.Hex(), ErrNoTrust)
}
