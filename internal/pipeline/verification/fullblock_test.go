package verification

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math/big"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"

	"github.com/rpcmesh/rpcmesh/internal/testwait"
	"github.com/rpcmesh/rpcmesh/internal/verify"
)

// methodCounter is an Asker that counts the calls it passes on upstream, by
// method (a full block as "eth_getBlockByHash/full").
type methodCounter struct {
	Asker
	mu    sync.Mutex
	calls map[string]int
	bytes int // of the answers
}

func newMethodCounter(a Asker) *methodCounter {
	return &methodCounter{Asker: a, calls: map[string]int{}}
}

func (m *methodCounter) count(req Request, as ...Answer) []Answer {
	name := req.Method
	if req.Method == "eth_getBlockByHash" && bytes.HasSuffix(bytes.TrimSpace(req.Params), []byte("true]")) {
		name += "/full"
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls[name] += len(as)
	for _, a := range as {
		m.bytes += len(a.Value)
	}
	return as
}

func (m *methodCounter) Ask(ctx context.Context, req Request, avoid map[string]bool) Answer {
	return m.count(req, m.Asker.Ask(ctx, req, avoid))[0]
}

func (m *methodCounter) AskProvider(ctx context.Context, name string, req Request) Answer {
	return m.count(req, m.Asker.AskProvider(ctx, name, req))[0]
}

func (m *methodCounter) AskDistinct(ctx context.Context, req Request, k int, skip Skip) []Answer {
	return m.count(req, m.Asker.AskDistinct(ctx, req, k, skip)...)
}

// get returns the count of one method.
func (m *methodCounter) get(name string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.calls[name]
}

// total returns the count of every call and the bytes of their answers.
func (m *methodCounter) total() (int, int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, c := range m.calls {
		n += c
	}
	return n, m.bytes
}

// busiestBlock returns the activity block holding the most of its
// transactions, and those transactions.
func busiestBlock(t *testing.T, ctx context.Context, h *harness, txs []common.Hash) (uint64, []common.Hash) {
	t.Helper()
	byBlock := map[uint64][]common.Hash{}
	for _, tx := range txs {
		raw, err := h.direct.call(ctx, "eth_getTransactionReceipt", verify.Params(tx))
		if err != nil {
			t.Fatal(err)
		}
		loc, err := verify.DecodeTxLocation(raw)
		if err != nil {
			t.Fatal(err)
		}
		byBlock[loc.BlockNumber] = append(byBlock[loc.BlockNumber], tx)
	}
	var best uint64
	for n, in := range byBlock {
		if len(in) > len(byBlock[best]) {
			best = n
		}
	}
	return best, byBlock[best]
}

// TestReceiptsFetchedOnce: 20 clients polling the receipts (and the
// transactions) of the transactions of one block, as wallets waiting for
// their transactions do, with eth_getBlockReceipts, the full block and
// eth_getLogs of that block among them, fetch that block and its receipts
// from upstream once, and every answer is the node's, byte for byte.
// Without the kept blocks each call fetched both again.
func TestReceiptsFetchedOnce(t *testing.T) {
	d, act := sharedDevnet(t)
	ctx := testwait.Context(t, 2*time.Minute)
	h := newHarness(t, d)
	n, txs := busiestBlock(t, ctx, h, act.Txs)
	num := hexutil.EncodeUint64(n)
	p := verify.Params
	reqs := []request{
		{"eth_getBlockReceipts", p(num)},
		{"eth_getBlockByNumber", p(num, true)},
		{"eth_getLogs", p(map[string]any{"fromBlock": num, "toBlock": num})},
	}
	for _, tx := range txs {
		reqs = append(reqs, request{"eth_getTransactionReceipt", p(tx)}, request{"eth_getTransactionByHash", p(tx)})
	}
	want := make([]json.RawMessage, len(reqs))
	for i, r := range reqs {
		var err error
		if want[i], err = h.direct.call(ctx, r.method, r.params); err != nil {
			t.Fatal(err)
		}
	}
	counter := newMethodCounter(h.asker)
	o := h.v.o
	o.Asker, o.CheckPlain = counter, false
	fullBlockCacheOptions(&o, 128, 256<<20)
	v := New(h.v.next, o)

	const clients, polls = 20, 5
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan string, clients*polls*len(reqs))
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range polls * len(reqs) {
				i := (c + k) % len(reqs) // each client in its own order
				r := reqs[i]
				got, err := handle(ctx, v, newCall(r.method, r.params))
				if err != nil || string(got) != string(want[i]) {
					errs <- r.method + " " + string(r.params) + ": " + string(got) + " " + errString(err)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	calls := clients * polls * len(reqs)
	upstream, upBytes := counter.total()
	t.Logf("block %d with %d transactions: %d calls by %d clients in %v; upstream: %d calls (%d bytes), %d full blocks, %d eth_getBlockReceipts",
		n, len(txs), calls, clients, time.Since(start).Round(time.Millisecond), upstream, upBytes, counter.get("eth_getBlockByHash/full"), counter.get("eth_getBlockReceipts"))
	if got := counter.get("eth_getBlockByHash/full"); got != 1 {
		t.Errorf("the block was fetched in full %d times, want once", got)
	}
	if got := counter.get("eth_getBlockReceipts"); got != 1 {
		t.Errorf("the block's receipts were fetched %d times, want once", got)
	}
}

// TestReceiptPollsFetchOnce: one client polling one receipt, as ethers'
// tx.wait() does, fetches its block and receipts once; each further poll
// costs one upstream call (the client's own, which says where the
// transaction is).
func TestReceiptPollsFetchOnce(t *testing.T) {
	d, act := sharedDevnet(t)
	ctx := testwait.Context(t, time.Minute)
	h := newHarness(t, d)
	counter := newMethodCounter(h.asker)
	o := h.v.o
	o.Asker = counter
	fullBlockCacheOptions(&o, 128, 256<<20)
	v := New(h.v.next, o)
	tx := act.Txs[len(act.Txs)-1]
	params := verify.Params(tx)
	want, err := h.direct.call(ctx, "eth_getTransactionReceipt", params)
	if err != nil {
		t.Fatal(err)
	}
	const polls = 10
	for range polls {
		got, err := handle(ctx, v, newCall("eth_getTransactionReceipt", params))
		if err != nil || string(got) != string(want) {
			t.Fatalf("got %s %v, want %s", got, err, want)
		}
	}
	full, rec, own := counter.get("eth_getBlockByHash/full"), counter.get("eth_getBlockReceipts"), counter.get("eth_getTransactionReceipt")
	t.Logf("%d polls: %d full blocks, %d eth_getBlockReceipts, %d eth_getTransactionReceipt upstream", polls, full, rec, own)
	if full != 1 || rec != 1 || own != polls {
		t.Errorf("%d polls fetched %d full blocks and %d receipt lists, asked %d receipts; want 1, 1 and %d", polls, full, rec, own, polls)
	}
}

// TestVerifiedCacheBounds: the kept blocks stay within their count and
// bytes, the least recently used going first; an entry beyond the bytes
// is not kept (receipts that do not fit are dropped, their block kept).
func TestVerifiedCacheBounds(t *testing.T) {
	hash := func(i int) common.Hash { return common.BigToHash(big.NewInt(int64(i + 1))) }
	type put struct {
		block, receipts int64 // sizes; receipts 0: none
	}
	cases := []struct {
		name            string
		maxBlocks       int
		maxBytes        int64
		puts            []put
		kept            []int // indexes of puts still kept
		withReceipts    []int // of those, kept with receipts
		blocks          int
		bytes           int64
		touchFirstAfter int // get puts[0] after this many puts (-1: never)
	}{
		{name: "count", maxBlocks: 3, maxBytes: 1 << 20, puts: []put{{10, 0}, {10, 0}, {10, 0}, {10, 0}, {10, 0}}, kept: []int{2, 3, 4}, blocks: 3, bytes: 30, touchFirstAfter: -1},
		{name: "count, recently used kept", maxBlocks: 3, maxBytes: 1 << 20, puts: []put{{10, 0}, {10, 0}, {10, 0}, {10, 0}, {10, 0}}, kept: []int{0, 3, 4}, blocks: 3, bytes: 30, touchFirstAfter: 3},
		{name: "bytes", maxBlocks: 100, maxBytes: 1000, puts: []put{{100, 300}, {100, 300}, {100, 300}, {100, 300}}, kept: []int{2, 3}, withReceipts: []int{2, 3}, blocks: 2, bytes: 800, touchFirstAfter: -1},
		{name: "oversized block", maxBlocks: 100, maxBytes: 1000, puts: []put{{100, 0}, {2000, 0}}, kept: []int{0}, blocks: 1, bytes: 100, touchFirstAfter: -1},
		{name: "oversized receipts", maxBlocks: 100, maxBytes: 1000, puts: []put{{100, 0}, {300, 900}}, kept: []int{0, 1}, blocks: 2, bytes: 400, touchFirstAfter: -1},
		{name: "none kept", maxBlocks: 0, maxBytes: 1000, puts: []put{{100, 0}}, blocks: 0, bytes: 0, touchFirstAfter: -1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newVerifiedCache(tc.maxBlocks, tc.maxBytes)
			for i, p := range tc.puts {
				b := &verify.Block{Hash: hash(i)}
				e := verifiedEntry{block: b, blockOps: []string{"op"}, blockSize: p.block}
				c.put(hash(i), e)
				if p.receipts > 0 { // receipts added later, as a receipt poll does
					e.receipts, e.receiptOps, e.receiptSize = &verify.Receipts{Block: b}, []string{"op"}, p.receipts
					c.put(hash(i), e)
				}
				if blocks, bytes := c.usage(); blocks > max(tc.maxBlocks, 0) || bytes > tc.maxBytes {
					t.Fatalf("after %d puts: %d blocks, %d bytes; bounds %d and %d", i+1, blocks, bytes, tc.maxBlocks, tc.maxBytes)
				}
				if i+1 == tc.touchFirstAfter {
					c.get(hash(0))
				}
			}
			for i := range tc.puts {
				e, ok := c.get(hash(i))
				if ok != slices.Contains(tc.kept, i) {
					t.Errorf("entry %d kept: %v", i, ok)
				}
				if ok && (e.receipts != nil) != slices.Contains(tc.withReceipts, i) {
					t.Errorf("entry %d kept with receipts: %v", i, e.receipts != nil)
				}
			}
			if blocks, bytes := c.usage(); blocks != tc.blocks || bytes != tc.bytes {
				t.Errorf("%d blocks, %d bytes; want %d and %d", blocks, bytes, tc.blocks, tc.bytes)
			}
		})
	}
}

// TestKeptBlocksBoundedOnDevnet: with room for two blocks, asking the
// receipts of every activity block keeps two, within the bytes, and a
// block pushed out is fetched again when asked again.
func TestKeptBlocksBoundedOnDevnet(t *testing.T) {
	d, act := sharedDevnet(t)
	ctx := testwait.Context(t, time.Minute)
	if len(act.Blocks) < 3 {
		t.Skipf("the activity has %d blocks; the test needs 3", len(act.Blocks))
	}
	for _, bound := range []struct {
		blocks int
		bytes  int64
	}{{2, 256 << 20}, {128, 12 << 10}} {
		h := newHarness(t, d)
		counter := newMethodCounter(h.asker)
		o := h.v.o
		o.Asker, o.CheckPlain = counter, false
		fullBlockCacheOptions(&o, bound.blocks, bound.bytes)
		v := New(h.v.next, o)
		ask := func(n uint64) {
			params := verify.Params(hexutil.EncodeUint64(n))
			got, err := handle(ctx, v, newCall("eth_getBlockReceipts", params))
			want, werr := h.direct.call(ctx, "eth_getBlockReceipts", params)
			if err != nil || werr != nil || string(got) != string(want) {
				t.Fatalf("block %d: %s %v; the node: %s %v", n, got, err, want, werr)
			}
			if blocks, bytes := v.verified.usage(); blocks > bound.blocks || bytes > bound.bytes {
				t.Fatalf("%d blocks, %d bytes kept; bounds %d and %d", blocks, bytes, bound.blocks, bound.bytes)
			}
		}
		for _, n := range act.Blocks {
			ask(n)
		}
		before := counter.get("eth_getBlockReceipts")
		ask(act.Blocks[0]) // pushed out by the later ones
		blocks, bytes := v.verified.usage()
		t.Logf("bounds %d blocks, %d bytes: %d blocks, %d bytes kept", bound.blocks, bound.bytes, blocks, bytes)
		if counter.get("eth_getBlockReceipts") != before+1 {
			t.Errorf("bounds %+v: the first block's receipts were not fetched again", bound)
		}
	}
}

// doneWatch is a context that says when its Done is first asked for: a
// caller of shareFetch asks it once it joined a fetch and waits.
type doneWatch struct {
	context.Context
	once    sync.Once
	waiting chan struct{}
}

func (d *doneWatch) Done() <-chan struct{} {
	d.once.Do(func() { close(d.waiting) })
	return d.Context.Done()
}

// TestSharedFetchFailure: a caller that joined another's fetch gets its
// block; if that fetch failed, it fetches through its own provider (the
// other's provider's lie or failure is not its provider's), except when
// go-ethereum cannot verify the block at all.
func TestSharedFetchFailure(t *testing.T) {
	hash := common.Hash{1}
	lie := &verify.MismatchError{What: "hash", Err: verify.ErrHashMismatch}
	cases := []struct {
		name      string
		leaderErr error
		ownFetch  bool // the follower fetched through its own provider
		wantErr   error
		wantOps   string
	}{
		{"shared", nil, false, nil, "leader"},
		{"the leader's provider lied", lie, true, nil, "follower"},
		{"the leader's client left", context.Canceled, true, nil, "follower"},
		{"unverifiable", verify.ErrUnverifiable, false, verify.ErrUnverifiable, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			c := newVerifiedCache(8, 1<<20)
			started := make(chan struct{})
			follower := &doneWatch{Context: ctx, waiting: make(chan struct{})}
			leaderDone := make(chan error, 1)
			go func() {
				_, _, err := c.block(ctx, hash, func(context.Context) (fetched[*verify.Block], error) {
					close(started)
					select { // until the follower joined and waits
					case <-follower.waiting:
					case <-ctx.Done():
					}
					if tc.leaderErr != nil {
						return fetched[*verify.Block]{}, tc.leaderErr
					}
					return fetched[*verify.Block]{val: &verify.Block{Hash: hash}, ops: []string{"leader"}, size: 10}, nil
				})
				leaderDone <- err
			}()
			<-started
			own := 0
			b, ops, err := c.block(follower, hash, func(context.Context) (fetched[*verify.Block], error) {
				own++
				return fetched[*verify.Block]{val: &verify.Block{Hash: hash}, ops: []string{"follower"}, size: 10}, nil
			})
			if lerr := <-leaderDone; !errors.Is(lerr, tc.leaderErr) && lerr != tc.leaderErr {
				t.Errorf("leader: %v, want %v", lerr, tc.leaderErr)
			}
			if (own > 0) != tc.ownFetch || own > 1 {
				t.Errorf("the follower fetched %d times itself", own)
			}
			if !errors.Is(err, tc.wantErr) && err != tc.wantErr {
				t.Fatalf("follower: %v, want %v", err, tc.wantErr)
			}
			if tc.wantErr == nil && (b == nil || strings.Join(ops, ",") != tc.wantOps) {
				t.Errorf("follower got %v from %v, want a block from %s", b, ops, tc.wantOps)
			}
		})
	}
}
