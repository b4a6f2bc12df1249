package verify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
)

// TestAgreedHeaders: a block beyond the walk limit is trusted by the vote
// (once for concurrent and later callers while there is an anchor), never
// without one, and is labelled as agreed; the walked head is not.
func TestAgreedHeaders(t *testing.T) {
	const old = 3
	byHash, top := longChain(t, 8)
	fetch := HeaderFetcher(func(_ context.Context, h common.Hash, _ uint64) (json.RawMessage, error) { return byHash[h], nil })
	byNumber := map[uint64]*types.Header{}
	for _, raw := range byHash {
		h, err := DecodeHeader(raw)
		if err != nil {
			t.Fatal(err)
		}
		byNumber[h.Number.Uint64()] = h
	}
	var votes atomic.Int32
	vote := func(ctx context.Context, n uint64) (*types.Header, error) {
		votes.Add(1)
		select { // the operators' round trips
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(2 * time.Millisecond):
		}
		return byNumber[n], nil
	}
	anchored := true
	anchor := func() (uint64, common.Hash, bool) { return top.NumberU64(), top.Hash(), anchored }
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	plain := NewLinkedTrust(anchor, fetch, 2, 64)
	if _, err := plain.HeaderByNumber(ctx, old); !errors.Is(err, ErrNoTrust) {
		t.Fatalf("beyond the walk without agreement: %v, want no trust", err)
	}

	tr := NewLinkedTrust(anchor, fetch, 2, 64).
		WithAgreedHeaders(vote)
	concurrently(t, 8, func() error {
		h, err := tr.HeaderByNumber(ctx, old)
		if err == nil && (h.Number.Uint64() != old || !tr.ByAgreement(h)) {
			err = fmt.Errorf("header %d, by agreement %v", h.Number, tr.ByAgreement(h))
		}
		return err
	})
	if n := votes.Load(); n != 1 {
		t.Fatalf("8 callers for one old block held %d votes, want 1 (shared, then cached)", n)
	}
	head, err := tr.HeaderByNumber(ctx, top.NumberU64())
	if err != nil || tr.ByAgreement(head) {
		t.Fatalf("the head: %v, by agreement %v", err, tr.ByAgreement(head))
	}

	// Before there is an anchor the block may be near the tip: trusted by
	// the vote, but not remembered by number.
	anchored = false
	votes.Store(0)
	for range 2 {
		if _, err := tr.HeaderByNumber(ctx, old+1); err != nil {
			t.Fatal(err)
		}
	}
	if n := votes.Load(); n != 2 {
		t.Fatalf("without an anchor: %d votes for two calls, want 2 (nothing kept by number)", n)
	}

	// A block agreed before the anchor and then reached by a walk from it
	// is labelled linked.
	near := top.NumberU64() - 1
	h, err := tr.HeaderByNumber(ctx, near)
	if err != nil || !tr.ByAgreement(h) {
		t.Fatalf("block %d before the anchor: %v, by agreement %v", near, err, tr.ByAgreement(h))
	}
	anchored = true
	if h, err = tr.HeaderByNumber(ctx, near); err != nil || tr.ByAgreement(h) {
		t.Fatalf("block %d walked to: %v, by agreement %v", near, err, tr.ByAgreement(h))
	}
}
