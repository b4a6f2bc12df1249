package txwatch

import (
	"context"
	"encoding/json"
	"errors"
	"math/big"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/rpcmesh/rpcmesh/internal/config"
	"github.com/rpcmesh/rpcmesh/internal/txbroadcast"
)

// world is a fake chain: pools per node and mined transactions.
type world struct {
	mu    sync.Mutex
	head  uint64
	pools map[string]map[common.Hash]bool
	mined map[common.Hash]uint64
	nonce uint64 // latest nonce of every account
}

func newWorld() *world {
	return &world{head: 10, pools: map[string]map[common.Hash]bool{}, mined: map[common.Hash]uint64{}}
}

// mine includes every transaction some pool holds, in a new block.
func (w *world) mine() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.head++
	for _, pool := range w.pools {
		for h := range pool {
			if _, ok := w.mined[h]; !ok {
				w.mined[h] = w.head
			}
		}
	}
}

// node is a provider of the world; a censor acknowledges and drops.
type node struct {
	w      *world
	name   string
	op     string
	censor bool
	sends  atomic.Int32
}

func (n *node) Name() string          { return n.name }
func (n *node) Labels() config.Labels { return config.Labels{Operator: n.op, Cloud: n.op} }

func (n *node) Call(_ context.Context, method string, params json.RawMessage) (json.RawMessage, error) {
	n.w.mu.Lock()
	defer n.w.mu.Unlock()
	switch method {
	case "eth_sendRawTransaction":
		n.sends.Add(1)
		var raw []hexutil.Bytes
		_ = json.Unmarshal(params, &raw)
		tx, err := txbroadcast.FromRaw(raw[0])
		if err != nil {
			return nil, err
		}
		if !n.censor {
			if n.w.pools[n.name] == nil {
				n.w.pools[n.name] = map[common.Hash]bool{}
			}
			n.w.pools[n.name][tx.Hash] = true
		}
		return json.Marshal(tx.Hash)
	case "eth_getTransactionByHash":
		var h []common.Hash
		_ = json.Unmarshal(params, &h)
		if b, ok := n.w.mined[h[0]]; ok {
			return json.Marshal(map[string]any{"blockHash": common.BigToHash(new(big.Int).SetUint64(b)), "blockNumber": hexutil.Uint64(b)})
		}
		if n.w.pools[n.name][h[0]] {
			return json.RawMessage(`{"blockHash":null,"blockNumber":null}`), nil
		}
		return json.RawMessage(`null`), nil
	case "eth_getBlockByNumber":
		var args []json.RawMessage
		_ = json.Unmarshal(params, &args)
		var num hexutil.Uint64
		_ = json.Unmarshal(args[0], &num)
		if uint64(num) > n.w.head {
			return json.RawMessage(`null`), nil
		}
		txs := []common.Hash{}
		for h, b := range n.w.mined {
			if b == uint64(num) {
				txs = append(txs, h)
			}
		}
		return json.Marshal(map[string]any{"hash": common.BigToHash(new(big.Int).SetUint64(uint64(num))), "transactions": txs})
	case "eth_getTransactionCount":
		return json.Marshal(hexutil.Uint64(n.w.nonce))
	}
	return nil, errors.New("unexpected " + method)
}

func newTestTx(t *testing.T, nonce uint64) *txbroadcast.Tx {
	t.Helper()
	key, _ := crypto.HexToECDSA("b71c71a67e1177ad4e901695e1b4b9ee17ae16c6668d313eac2f96dbcda3f291")
	to := common.Address{1}
	signed, err := types.SignNewTx(key, types.LatestSignerForChainID(big.NewInt(1337)), &types.DynamicFeeTx{
		ChainID: big.NewInt(1337), Nonce: nonce, GasTipCap: big.NewInt(1), GasFeeCap: big.NewInt(10), Gas: 21000, To: &to})
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := signed.MarshalBinary()
	tx, err := txbroadcast.FromRaw(raw)
	if err != nil {
		t.Fatal(err)
	}
	return tx
}

func testWatcher(w *world, nodes []*node, fanout int) *Watcher {
	cfg := config.DefaultBroadcast()
	cfg.RebroadcastBlocks = 2
	cfg.WatchInterval = config.Duration(10 * time.Millisecond)
	return New(Options{
		Chain: "test", Config: cfg, Agreement: 2,
		Head: func() (uint64, bool) { w.mu.Lock(); defer w.mu.Unlock(); return w.head, true },
		Rank: func(penalty func(string) int) []txbroadcast.Target {
			out := make([]txbroadcast.Target, 0, len(nodes))
			for _, n := range nodes { // censors last, like txbroadcast.Ranked
				if penalty(n.name) == 0 {
					out = append(out, n)
				}
			}
			for _, n := range nodes {
				if penalty(n.name) > 0 {
					out = append(out, n)
				}
			}
			return out
		},
		Broadcaster: txbroadcast.New(fanout, time.Second, nil),
	})
}

func TestCensorIsRecordedWhenMinedThroughOthers(t *testing.T) {
	w := newWorld()
	nodes := []*node{{w: w, name: "censor", op: "a", censor: true}, {w: w, name: "b", op: "b"}, {w: w, name: "c", op: "c"}}
	wt := testWatcher(w, nodes, 2)
	var penalised []string
	wt.o.Penalise = func(provider, reason string) { penalised = append(penalised, provider+":"+reason) }
	tx := newTestTx(t, 0)
	if _, err := wt.Send(context.Background(), tx); err != nil {
		t.Fatal(err)
	}
	wt.o.Broadcaster.Close() // all outcomes recorded
	w.mine()
	wt.tick(context.Background())
	if len(penalised) != 1 || penalised[0] != "censor:censored" {
		t.Fatalf("penalised %v, want the censor once", penalised)
	}
	st := wt.Status(tx.Hash)
	if st.State != StateIncluded || st.Included == nil || len(st.Included.Operators) < 2 {
		t.Fatalf("status %+v, want included and agreed by 2 operators", st)
	}
	ev, counts := wt.Evidence()
	if counts["censor"] != 1 || len(ev) != 1 || ev[0].Provider != "censor" || len(ev[0].MinedVia) != 1 || ev[0].MinedVia[0] != "b" {
		t.Fatalf("evidence %+v counts %v", ev, counts)
	}
	if r := wt.Ranked(); r[len(r)-1].Name() != "censor" {
		t.Fatal("the censor is not ranked last after its record")
	}
}

func TestRebroadcastReachesProvidersNotYetSent(t *testing.T) {
	w := newWorld()
	nodes := []*node{{w: w, name: "c1", op: "a", censor: true}, {w: w, name: "c2", op: "b", censor: true}, {w: w, name: "honest", op: "c"}}
	wt := testWatcher(w, nodes, 2)
	tx := newTestTx(t, 0)
	if _, err := wt.Send(context.Background(), tx); err != nil {
		t.Fatal(err)
	}
	wt.o.Broadcaster.Close()
	ctx := context.Background()
	for range 6 {
		w.mine()
		wt.tick(ctx)
		wt.o.Broadcaster.Close()
	}
	st := wt.Status(tx.Hash)
	if st.State != StateIncluded || st.Rebroadcasts != 1 {
		t.Fatalf("status %+v, want included after one re-broadcast", st)
	}
	if nodes[2].sends.Load() != 1 {
		t.Fatalf("honest node got %d sends, want 1", nodes[2].sends.Load())
	}
	if _, counts := wt.Evidence(); counts["c1"] != 1 || counts["c2"] != 1 {
		t.Fatalf("censors %v", counts)
	}
}

func TestReplacedWhenNonceMovesOn(t *testing.T) {
	w := newWorld()
	nodes := []*node{{w: w, name: "c1", op: "a", censor: true}}
	wt := testWatcher(w, nodes, 1)
	tx := newTestTx(t, 3)
	if _, err := wt.Send(context.Background(), tx); err != nil {
		t.Fatal(err)
	}
	w.mu.Lock()
	w.nonce = 4 // another transaction with nonce 3 was mined
	w.mu.Unlock()
	for range 4 {
		w.mine()
		wt.tick(context.Background())
	}
	if st := wt.Status(tx.Hash); st.State != StateReplaced {
		t.Fatalf("state %s, want replaced", st.State)
	}
}

func TestWatchSurvivesRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "watch.db")
	w := newWorld()
	censors := []*node{{w: w, name: "c1", op: "a", censor: true}}
	first := testWatcher(w, censors, 1)
	s, err := OpenStore(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := first.SetStore(s); err != nil {
		t.Fatal(err)
	}
	tx := newTestTx(t, 0)
	if _, err := first.Send(context.Background(), tx); err != nil {
		t.Fatal(err)
	}
	first.o.Broadcaster.Close()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// A new gateway: same store, an honest provider this time.
	nodes := []*node{censors[0], {w: w, name: "b", op: "b"}, {w: w, name: "c", op: "c"}}
	second := testWatcher(w, nodes, 2)
	s, err = OpenStore(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := second.SetStore(s); err != nil {
		t.Fatal(err)
	}
	if st := second.Status(tx.Hash); st.State != StatePending || len(st.Sends) != 1 {
		t.Fatalf("after restart: %+v", st)
	}
	for range 6 {
		w.mine()
		second.tick(context.Background())
		second.o.Broadcaster.Close()
	}
	if st := second.Status(tx.Hash); st.State != StateIncluded {
		t.Fatalf("state %s, want included", st.State)
	}
}

func TestAgreedInclusion(t *testing.T) {
	w := newWorld()
	a, b, c := &node{w: w, name: "a", op: "x"}, &node{w: w, name: "b", op: "y"}, &node{w: w, name: "c", op: "x"}
	for _, tc := range []struct {
		name      string
		sightings []sighting
		agreement int
		head      uint64
		want      uint64 // 0: none
	}{
		{"two operators agree", []sighting{{a, true, "0x01", 5}, {b, true, "0x01", 5}}, 2, 9, 5},
		{"one operator twice is not two", []sighting{{a, true, "0x01", 5}, {c, true, "0x01", 5}, {b, true, "", 0}}, 2, 9, 0},
		{"different blocks", []sighting{{a, true, "0x01", 5}, {b, true, "0x02", 5}}, 2, 9, 0},
		{"above the agreed head", []sighting{{a, true, "0x01", 5}, {b, true, "0x01", 5}}, 2, 4, 0},
		{"only one operator answers at all", []sighting{{a, true, "0x01", 5}, {b, false, "", 0}}, 2, 9, 5},
	} {
		inc := agreedInclusion(tc.sightings, tc.agreement, tc.head, true)
		if tc.want == 0 && inc != nil || tc.want != 0 && (inc == nil || inc.BlockNumber != tc.want) {
			t.Errorf("%s: got %+v, want block %d", tc.name, inc, tc.want)
		}
	}
}

// TestInclusionNeedsProvenReceipt: with verification on, operators'
// agreement is not enough; the receipt must be proven in the same block.
func TestInclusionNeedsProvenReceipt(t *testing.T) {
	for _, tc := range []struct {
		name    string
		receipt func(block uint64) (uint64, string, error)
		want    State
	}{
		{"proven in the reported block", func(b uint64) (uint64, string, error) {
			return b, common.BigToHash(new(big.Int).SetUint64(b)).Hex(), nil
		}, StateIncluded},
		{"not provable", func(uint64) (uint64, string, error) { return 0, "", errors.New("answer could not be verified") }, StatePending},
		{"proven elsewhere", func(b uint64) (uint64, string, error) { return b + 1, "0xdead", nil }, StatePending},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld()
			nodes := []*node{{w: w, name: "a", op: "a"}, {w: w, name: "b", op: "b"}}
			wt := testWatcher(w, nodes, 2)
			tx := newTestTx(t, 0)
			wt.SetReceipt(func(context.Context, string) (uint64, string, error) {
				w.mu.Lock()
				b := w.mined[tx.Hash]
				w.mu.Unlock()
				return tc.receipt(b)
			})
			if _, err := wt.Send(context.Background(), tx); err != nil {
				t.Fatal(err)
			}
			wt.o.Broadcaster.Close()
			w.mine()
			wt.tick(context.Background())
			st := wt.Status(tx.Hash)
			if st.State != tc.want || (tc.want == StateIncluded && !st.Included.Proven) {
				t.Fatalf("state %s %+v, want %s", st.State, st.Included, tc.want)
			}
		})
	}
}

// TestNextNonceCountsIncluded: a transaction once included still sets the
// least "pending" count of its sender, so that a node whose pending count
// lags the block it just imported cannot hand the nonce out again.
func TestNextNonceCountsIncluded(t *testing.T) {
	w := newWorld()
	nodes := []*node{{w: w, name: "a", op: "a"}, {w: w, name: "b", op: "b"}}
	wt := testWatcher(w, nodes, 2)
	tx := newTestTx(t, 4)
	if _, err := wt.Send(context.Background(), tx); err != nil {
		t.Fatal(err)
	}
	wt.o.Broadcaster.Close()
	if got := wt.NextNonce(tx.From); got != 5 {
		t.Fatalf("pending: next nonce %d, want 5", got)
	}
	w.mine()
	wt.tick(context.Background())
	if st := wt.Status(tx.Hash); st.State != StateIncluded {
		t.Fatalf("state %s, want included", st.State)
	}
	if got := wt.NextNonce(tx.From); got != 5 {
		t.Fatalf("included: next nonce %d, want 5", got)
	}
}
