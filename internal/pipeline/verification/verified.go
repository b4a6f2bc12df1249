package verification

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/lru"
	"golang.org/x/sync/singleflight"

	"github.com/rpcmesh/rpcmesh/internal/verify"
)

// verifiedCache keeps verified full blocks and their verified receipts by
// block hash, bounded by a count of blocks and by bytes, and makes
// concurrent fetches of one block (or of its receipts) share one fetch.
// Wallets poll receipts and many clients ask about the same recent block:
// without it each call fetched and verified the whole block and all its
// receipts again. Keyed by hash, an entry can only answer for that very
// block: callers look the hash up from the trusted header, so a reorg
// (another block at the height) never finds the old one.
type verifiedCache struct {
	maxBlocks int
	maxBytes  int64
	flight    singleflight.Group

	mu      sync.Mutex
	entries lru.BasicLRU[common.Hash, verifiedEntry]
	bytes   int64
}

// verifiedEntry is one block's verified data and whose answers it came
// from. An entry is replaced, never changed, so readers need no lock.
type verifiedEntry struct {
	block    *verify.Block
	blockOps []string // the operator whose block answer was verified
	receipts *verify.Receipts
	// receiptOps are the operators whose answers the receipts rest on:
	// the receipts' and the block's they were verified against.
	receiptOps []string
	// size is the bytes of the answers the entry was verified from.
	blockSize, receiptSize int64
}

func (e verifiedEntry) size() int64 { return e.blockSize + e.receiptSize }

// fetched is what a fetch verified: the value, the operators whose
// answers it rests on and the bytes of those answers.
type fetched[T any] struct {
	val  T
	ops  []string
	size int64
}

// newVerifiedCache returns a cache of at most maxBlocks blocks and maxBytes
// bytes; either 0 keeps nothing (concurrent fetches are still shared).
func newVerifiedCache(maxBlocks int, maxBytes int64) *verifiedCache {
	c := &verifiedCache{maxBlocks: maxBlocks, maxBytes: maxBytes}
	if maxBlocks > 0 && maxBytes > 0 {
		c.entries = lru.NewBasicLRU[common.Hash, verifiedEntry](maxBlocks + 1) // evicted here, by count and bytes
	}
	return c
}

func (c *verifiedCache) enabled() bool { return c.maxBlocks > 0 && c.maxBytes > 0 }

// get returns the entry of the block with hash.
func (c *verifiedCache) get(hash common.Hash) (verifiedEntry, bool) {
	if !c.enabled() {
		return verifiedEntry{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.entries.Get(hash)
}

// put stores e (replacing the block's entry) and evicts the least recently
// used entries until both bounds hold. An entry larger than the byte bound
// is kept without its receipts if its block fits, else not at all.
func (c *verifiedCache) put(hash common.Hash, e verifiedEntry) {
	if !c.enabled() || e.block == nil {
		return
	}
	if e.size() > c.maxBytes {
		e.receipts, e.receiptOps, e.receiptSize = nil, nil, 0
		if e.size() > c.maxBytes {
			return
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.entries.Peek(hash); ok {
		c.bytes -= old.size()
		c.entries.Remove(hash)
	}
	for c.entries.Len() > 0 && (c.entries.Len()+1 > c.maxBlocks || c.bytes+e.size() > c.maxBytes) {
		_, old, _ := c.entries.RemoveOldest()
		c.bytes -= old.size()
	}
	c.entries.Add(hash, e)
	c.bytes += e.size()
}

// usage returns how many blocks and bytes the cache holds.
func (c *verifiedCache) usage() (int, int64) {
	if !c.enabled() {
		return 0, 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.entries.Len(), c.bytes
}

// block returns the verified full block with hash: cached, or verified by
// fetch, which concurrent callers share, and then cached.
func (c *verifiedCache) block(ctx context.Context, hash common.Hash, fetch func(context.Context) (fetched[*verify.Block], error)) (*verify.Block, []string, error) {
	if e, ok := c.get(hash); ok {
		return e.block, e.blockOps, nil
	}
	f, err := shareFetch(ctx, &c.flight, "b"+string(hash[:]), fetch, func(f fetched[*verify.Block]) {
		if e, ok := c.get(hash); ok && e.block != nil {
			return // cached meanwhile (with its receipts, maybe)
		}
		c.put(hash, verifiedEntry{block: f.val, blockOps: f.ops, blockSize: f.size})
	})
	return f.val, f.ops, err
}

// receipts returns the verified receipts of the block with hash: cached,
// or verified by fetch, which concurrent callers share, and then cached
// with their block.
func (c *verifiedCache) receipts(ctx context.Context, hash common.Hash, fetch func(context.Context) (fetched[*verify.Receipts], error)) (*verify.Receipts, []string, error) {
	if e, ok := c.get(hash); ok && e.receipts != nil {
		return e.receipts, e.receiptOps, nil
	}
	f, err := shareFetch(ctx, &c.flight, "r"+string(hash[:]), fetch, func(f fetched[*verify.Receipts]) {
		e, ok := c.get(hash)
		if !ok || e.block != f.val.Block {
			return // the block was evicted meanwhile: receipts are kept with it only
		}
		e.receipts, e.receiptOps, e.receiptSize = f.val, f.ops, f.size
		c.put(hash, e)
	})
	return f.val, f.ops, err
}

// shareFetch runs fetch once for all concurrent callers with key and keeps
// its result. A caller that only waited for another's fetch and got an
// error fetches itself: the error may be the other's provider's lie or
// failure (or its client gone), and must not be counted against the
// provider this caller asks. A block go-ethereum cannot verify stays so
// (ErrUnverifiable, or the fallback to quorum it leads to).
func shareFetch[T any](ctx context.Context, g *singleflight.Group, key string, fetch func(context.Context) (fetched[T], error), keep func(fetched[T])) (fetched[T], error) {
	led := false
	ch := g.DoChan(key, func() (_ any, err error) {
		led = true
		// The fetch runs on a goroutine of its own, where a panic would
		// end the process: it fails this fetch instead (no one's lie).
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("verifying a fetched block failed unexpectedly: %v", r)
			}
		}()
		f, err := fetch(ctx)
		if err == nil {
			keep(f)
		}
		return f, err
	})
	select {
	case <-ctx.Done():
		var zero fetched[T]
		return zero, ctx.Err()
	case r := <-ch:
		f, _ := r.Val.(fetched[T])
		var fb *fallback
		if r.Err == nil || led || errors.Is(r.Err, verify.ErrUnverifiable) || errors.As(r.Err, &fb) {
			return f, r.Err
		}
	}
	f, err := fetch(ctx)
	if err == nil {
		keep(f)
	}
	return f, err
}

// joinOps returns the operators of a and b, each once.
func joinOps(a, b []string) []string {
	out := slices.Clone(a)
	for _, o := range b {
		if !slices.Contains(out, o) {
			out = append(out, o)
		}
	}
	return out
}
