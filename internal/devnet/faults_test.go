package devnet

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math/big"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	ethereum "github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/ethereum/go-ethereum/rpc"

	"github.com/rpcmesh/rpcmesh/internal/testwait"
)

// stage sets a fault and clears it when the test ends.
func stage(t *testing.T, target string, kind FaultKind, params string) Fault {
	t.Helper()
	var raw json.RawMessage
	if params != "" {
		raw = json.RawMessage(params)
	}
	f, err := dn.SetFault(testwait.Context(t, 30*time.Second), FaultSpec{Target: target, Kind: kind, Params: raw})
	if err != nil {
		t.Fatalf("set %s on %s: %v", kind, target, err)
	}
	t.Cleanup(func() {
		if f.Reorg == nil || len(f.Nodes) < len(dn.Info().Nodes) {
			_ = dn.ClearFault(f.ID)
		}
	})
	return f
}

func directClient(t *testing.T, name string) *ethclient.Client {
	t.Helper()
	u, ok := dn.DirectURL(name)
	if !ok {
		t.Fatalf("no node %s", name)
	}
	return dial(t, u)
}

func TestFaultDownRefusesConnections(t *testing.T) {
	ctx := testwait.Context(t, 20*time.Second)
	f := stage(t, "cloud=aws", FaultDown, "")
	if len(f.Nodes) != 2 {
		t.Fatalf("cloud=aws matched %v, want two nodes", f.Nodes)
	}
	for _, name := range f.Nodes {
		_, err := dial(t, dn.MustNode(t, name).HTTP).BlockNumber(ctx)
		if !errors.Is(err, syscall.ECONNREFUSED) {
			t.Fatalf("%s: got %v, want connection refused", name, err)
		}
	}
	if _, err := dial(t, dn.MustNode(t, "node3").HTTP).BlockNumber(ctx); err != nil {
		t.Fatalf("node3 (gcp) should answer: %v", err)
	}
	if err := dn.ClearFault(f.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := dial(t, dn.MustNode(t, f.Nodes[0]).HTTP).BlockNumber(ctx); err != nil {
		t.Fatalf("after clearing, %s: %v", f.Nodes[0], err)
	}
}

func TestFaultHangNeverAnswers(t *testing.T) {
	f := stage(t, "node2", FaultHang, "")
	c := dial(t, dn.MustNode(t, "node2").HTTP)
	short, cancel := context.WithTimeout(context.Background(), 700*time.Millisecond)
	defer cancel()
	_, err := c.BlockNumber(short)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want no answer until the deadline", err)
	}
	if err := dn.ClearFault(f.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := c.BlockNumber(testwait.Context(t, 10*time.Second)); err != nil {
		t.Fatalf("after clearing: %v", err)
	}
}

func TestFaultSlowAddsLatency(t *testing.T) {
	stage(t, "node3", FaultSlow, `{"latency": "400ms", "jitter": "50ms"}`)
	c := dial(t, dn.MustNode(t, "node3").HTTP)
	ctx := testwait.Context(t, 10*time.Second)
	for range 3 {
		start := time.Now()
		if _, err := c.BlockNumber(ctx); err != nil {
			t.Fatal(err)
		}
		if el := time.Since(start); el < 350*time.Millisecond {
			t.Fatalf("answer after %s, want at least 350ms", el)
		}
	}
}

func TestFaultLagStopsImportAndCatchesUp(t *testing.T) {
	ctx := testwait.Context(t, 60*time.Second)
	f := stage(t, "node4", FaultLag, "")
	lagger := dial(t, dn.MustNode(t, "node4").HTTP)
	ref := dial(t, dn.MustNode(t, "node1").HTTP)
	frozen, err := lagger.BlockNumber(ctx)
	if err != nil {
		t.Fatal(err)
	}
	waitBlock(t, ctx, ref, "chain to move 3 blocks past the lagging node", frozen+3)
	if h, err := lagger.BlockNumber(ctx); err != nil || h > frozen+1 {
		t.Fatalf("lagging node moved from %d to %d (%v)", frozen, h, err)
	}
	if err := dn.ClearFault(f.ID); err != nil {
		t.Fatal(err)
	}
	if err := testwait.Until(ctx, "lagging node to catch up", func() bool {
		a, err1 := ref.HeaderByNumber(ctx, nil)
		b, err2 := lagger.HeaderByNumber(ctx, nil)
		return err1 == nil && err2 == nil && b.Number.Cmp(a.Number) >= 0
	}); err != nil {
		t.Fatal(err)
	}
}

func TestLagOnProducerMovesProduction(t *testing.T) {
	ctx := testwait.Context(t, 30*time.Second)
	stage(t, "node1", FaultLag, "")
	ref := dial(t, dn.MustNode(t, "node2").HTTP)
	h0, err := ref.BlockNumber(ctx)
	if err != nil {
		t.Fatal(err)
	}
	waitBlock(t, ctx, ref, "blocks while node1 lags", h0+2)
}

func TestFaultErrorFailsRequests(t *testing.T) {
	t.Run("http", func(t *testing.T) {
		ctx := testwait.Context(t, 10*time.Second)
		stage(t, "node5", FaultError, `{"rate": 1, "mode": "http", "status": 502}`)
		_, err := dial(t, dn.MustNode(t, "node5").HTTP).BlockNumber(ctx)
		var he rpc.HTTPError
		if !errors.As(err, &he) || he.StatusCode != 502 {
			t.Fatalf("got %v, want HTTP 502", err)
		}
	})
	t.Run("jsonrpc", func(t *testing.T) {
		ctx := testwait.Context(t, 10*time.Second)
		stage(t, "node5", FaultError, `{"rate": 1, "mode": "jsonrpc", "code": -32000, "message": "header not found"}`)
		_, err := dial(t, dn.MustNode(t, "node5").HTTP).BlockNumber(ctx)
		var re rpc.Error
		if !errors.As(err, &re) || re.ErrorCode() != -32000 || re.Error() != "header not found" {
			t.Fatalf("got %v, want JSON-RPC error -32000", err)
		}
	})
	t.Run("share", func(t *testing.T) {
		ctx := testwait.Context(t, 60*time.Second)
		stage(t, "node5", FaultError, `{"rate": 0.5, "mode": "jsonrpc"}`)
		c := dial(t, dn.MustNode(t, "node5").HTTP)
		failed := 0
		for range 200 {
			_, err := c.BlockNumber(ctx)
			var re rpc.Error
			switch {
			case errors.As(err, &re):
				failed++
			case err != nil:
				t.Fatalf("want a JSON-RPC error or an answer, got %v", err)
			}
		}
		if failed < 50 || failed > 150 {
			t.Fatalf("%d of 200 failed at rate 0.5", failed)
		}
	})
}

func TestFaultRateLimitAnswers429(t *testing.T) {
	stage(t, "node2", FaultRateLimit, `{"rps": 0.1, "burst": 2, "retryAfter": "3s"}`)
	body := []byte(`{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}`)
	var got []int
	var retryAfter string
	for range 5 {
		resp, err := http.Post(dn.MustNode(t, "node2").HTTP, "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		got = append(got, resp.StatusCode)
		if resp.StatusCode == http.StatusTooManyRequests {
			retryAfter = resp.Header.Get("Retry-After")
		}
	}
	if got[0] != 200 || got[1] != 200 || got[4] != 429 {
		t.Fatalf("statuses %v: want the burst of 2 answered, then 429", got)
	}
	if retryAfter != "3" {
		t.Fatalf("Retry-After %q, want 3", retryAfter)
	}
}

func TestFaultCensorDropsTransaction(t *testing.T) {
	ctx := testwait.Context(t, 40*time.Second)
	stage(t, "node3", FaultCensor, "")
	key := dn.Keys()[2]
	honest := dial(t, dn.MustNode(t, "node1").HTTP)
	nonce, err := honest.PendingNonceAt(ctx, keyAddr(key))
	if err != nil {
		t.Fatal(err)
	}
	to := common.HexToAddress("0x000000000000000000000000000000000000c0de")
	tx := signTx(t, dn.Info().ChainID, key, nonce, &to, big.NewInt(1), nil, 21000)
	raw, _ := tx.MarshalBinary()
	var hash common.Hash
	if err := dial(t, dn.MustNode(t, "node3").HTTP).Client().CallContext(ctx, &hash, "eth_sendRawTransaction", hexutil.Bytes(raw)); err != nil {
		t.Fatalf("censoring node should answer success: %v", err)
	}
	if hash != tx.Hash() {
		t.Fatalf("censoring node answered hash %s, want %s", hash, tx.Hash())
	}
	start, _ := honest.BlockNumber(ctx)
	waitBlock(t, ctx, honest, "3 blocks", start+3)
	for _, n := range dn.Info().Nodes {
		if _, isPending, err := dial(t, n.HTTP).TransactionByHash(ctx, tx.Hash()); !errors.Is(err, ethereum.NotFound) {
			t.Fatalf("%s knows the censored transaction (pending=%v, err=%v)", n.Name, isPending, err)
		}
	}
	// The same transaction through an honest node is mined.
	if err := honest.SendTransaction(ctx, tx); err != nil {
		t.Fatal(err)
	}
	if _, err := waitReceipt(ctx, honest, tx.Hash()); err != nil {
		t.Fatal(err)
	}
}

func TestFaultReorgReplacesBlocks(t *testing.T) {
	ctx := testwait.Context(t, 40*time.Second)
	waitHeight(t, 3)
	f := stage(t, "all", FaultReorg, `{"depth": 2}`)
	if f.Reorg == nil || len(f.Reorg.NewHashes) != 2 {
		t.Fatalf("reorg result %+v", f.Reorg)
	}
	height := f.Reorg.FromNumber
	for _, n := range dn.Info().Nodes {
		c := dial(t, n.HTTP)
		if err := testwait.Until(ctx, n.Name+" to follow the reorg", func() bool {
			h, err := c.HeaderByNumber(ctx, new(big.Int).SetUint64(height))
			return err == nil && h.Hash() == f.Reorg.NewHashes[0]
		}); err != nil {
			t.Fatal(err)
		}
	}
	if f.Reorg.OldHashes[0] == f.Reorg.NewHashes[0] {
		t.Fatal("reorg kept the old hash")
	}
	// The chain goes on from the new branch.
	waitHeight(t, height+3)
	if _, err := dial(t, dn.MustNode(t, "node2").HTTP).HeaderByHash(ctx, f.Reorg.NewHashes[1]); err != nil {
		t.Fatalf("new branch block missing: %v", err)
	}
}

func TestFaultReorgOnSubsetForksThenRejoins(t *testing.T) {
	ctx := testwait.Context(t, 40*time.Second)
	waitHeight(t, 3)
	f := stage(t, "node5", FaultReorg, `{"depth": 1}`)
	c5 := dial(t, dn.MustNode(t, "node5").HTTP)
	h, err := c5.HeaderByNumber(ctx, new(big.Int).SetUint64(f.Reorg.FromNumber))
	if err != nil || h.Hash() != f.Reorg.NewHashes[0] {
		t.Fatalf("node5 at %d: %v %v, want the side branch %s", f.Reorg.FromNumber, h.Hash(), err, f.Reorg.NewHashes[0])
	}
	ref, err := dial(t, dn.MustNode(t, "node1").HTTP).HeaderByNumber(ctx, new(big.Int).SetUint64(f.Reorg.FromNumber))
	if err != nil || ref.Hash() != f.Reorg.OldHashes[0] {
		t.Fatalf("node1 should keep the canonical block: %v %v", ref.Hash(), err)
	}
	if err := dn.ClearFault(f.ID); err != nil {
		t.Fatal(err)
	}
	if err := testwait.Until(ctx, "node5 back on the canonical chain", func() bool {
		h, err := c5.HeaderByNumber(ctx, new(big.Int).SetUint64(f.Reorg.FromNumber))
		return err == nil && h.Hash() == f.Reorg.OldHashes[0]
	}); err != nil {
		t.Fatal(err)
	}
}

func TestFaultFlapAlternates(t *testing.T) {
	stage(t, "node4", FaultFlap, `{"up": "1s", "down": "300ms"}`)
	c := dial(t, dn.MustNode(t, "node4").HTTP)
	ctx := testwait.Context(t, 30*time.Second)
	var up, down int
	if err := testwait.Until(ctx, "both up and down answers", func() bool {
		short, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		if _, err := c.BlockNumber(short); err == nil {
			up++
		} else if errors.Is(err, syscall.ECONNREFUSED) || strings.Contains(err.Error(), "connection reset") || strings.Contains(err.Error(), "EOF") {
			down++
		} else {
			t.Logf("unexpected: %v", err)
		}
		return up >= 2 && down >= 2
	}); err != nil {
		t.Fatalf("%v (up %d, down %d)", err, up, down)
	}
}

func TestFaultLieTampersWithAnswers(t *testing.T) {
	ctx := testwait.Context(t, 60*time.Second)
	act := sharedActivity(t)
	honest := directClient(t, "node2")
	contract := act.Contract
	rcpt, err := honest.TransactionReceipt(ctx, act.Txs[1]) // the first call: it logged
	if err != nil {
		t.Fatal(err)
	}
	block := hexNum(rcpt.BlockNumber.Uint64())
	funded := keyAddr(dn.Keys()[1])
	call := func(t *testing.T, c *ethclient.Client, method string, args ...any) json.RawMessage {
		t.Helper()
		var out json.RawMessage
		if err := c.Client().CallContext(ctx, &out, method, args...); err != nil {
			t.Fatalf("%s: %v", method, err)
		}
		return out
	}
	logFilter := map[string]any{"fromBlock": block, "toBlock": block, "address": contract}
	cases := []struct {
		lie    string
		method string
		args   []any
	}{
		{LieBalance, "eth_getBalance", []any{funded, block}},
		{LieNonce, "eth_getTransactionCount", []any{funded, block}},
		{LieCode, "eth_getCode", []any{contract, block}},
		{LieStorage, "eth_getStorageAt", []any{contract, "0x0", block}},
		{LieProof, "eth_getProof", []any{funded, []string{}, block}},
		{LieReceipt, "eth_getTransactionReceipt", []any{rcpt.TxHash}},
		{LieReceipt, "eth_getBlockReceipts", []any{block}},
		{LieLog, "eth_getLogs", []any{logFilter}},
		{LieBlockHash, "eth_getBlockByNumber", []any{block, false}},
		{LieBlockNumber, "eth_blockNumber", nil},
	}
	for _, tc := range cases {
		t.Run(tc.lie+"/"+tc.method, func(t *testing.T) {
			f := stage(t, "node2", FaultLie, `{"what": ["`+tc.lie+`"]}`)
			liar := dial(t, dn.MustNode(t, "node2").HTTP)
			got := call(t, liar, tc.method, tc.args...)
			want := call(t, honest, tc.method, tc.args...)
			if tc.method == "eth_blockNumber" {
				var g, w hexutil.Uint64
				_ = json.Unmarshal(got, &g)
				_ = json.Unmarshal(want, &w)
				if g < w+50 {
					t.Fatalf("lying block number %d, honest %d: want far ahead", g, w)
				}
				return
			}
			if bytes.Equal(compact(got), compact(want)) {
				t.Fatalf("%s: liar told the truth: %s", tc.method, got)
			}
			// Other methods stay honest.
			if tc.lie != LieBalance {
				if g, w := call(t, liar, "eth_getBalance", funded, block), call(t, honest, "eth_getBalance", funded, block); !bytes.Equal(g, w) {
					t.Fatalf("balance tampered while only %s was selected", tc.lie)
				}
			}
			_ = dn.ClearFault(f.ID)
			if again := call(t, liar, tc.method, tc.args...); !bytes.Equal(compact(again), compact(want)) {
				t.Fatalf("after clearing, %s still differs", tc.method)
			}
		})
	}
}

func compact(b []byte) []byte {
	var buf bytes.Buffer
	if json.Compact(&buf, b) != nil {
		return b
	}
	return buf.Bytes()
}

func TestWebSocketSubscriptionThroughProxy(t *testing.T) {
	ctx := testwait.Context(t, 30*time.Second)
	n, _ := dn.Node("node3")
	c, err := ethclient.DialContext(ctx, n.WS)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	heads := make(chan *types.Header, 16)
	sub, err := c.SubscribeNewHead(ctx, heads)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	var last uint64
	for i := 0; i < 2; i++ {
		select {
		case h := <-heads:
			if h.Number.Uint64() <= last {
				t.Fatalf("head %d after %d", h.Number, last)
			}
			last = h.Number.Uint64()
		case err := <-sub.Err():
			t.Fatal(err)
		case <-ctx.Done():
			t.Fatal("no heads over WebSocket")
		}
	}
	// A lie on block hashes reaches subscribers too.
	stage(t, "node3", FaultLie, `{"what": ["blockhash"]}`)
	rc, err := rpc.DialContext(ctx, n.WS)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	raw := make(chan json.RawMessage, 16)
	rsub, err := rc.EthSubscribe(ctx, raw, "newHeads")
	if err != nil {
		t.Fatal(err)
	}
	defer rsub.Unsubscribe()
	honest := directClient(t, "node3")
	select {
	case msg := <-raw:
		var h struct {
			Number hexutil.Uint64 `json:"number"`
			Hash   common.Hash    `json:"hash"`
		}
		if err := json.Unmarshal(msg, &h); err != nil {
			t.Fatal(err)
		}
		real, err := honest.HeaderByNumber(ctx, new(big.Int).SetUint64(uint64(h.Number)))
		if err != nil {
			t.Fatal(err)
		}
		if real.Hash() == h.Hash {
			t.Fatalf("newHeads over a lying node carried the true hash %s", h.Hash)
		}
	case err := <-rsub.Err():
		t.Fatal(err)
	case <-ctx.Done():
		t.Fatal("no heads while lying")
	}
	// Down cuts open WebSocket connections.
	stage(t, "node3", FaultDown, "")
	select {
	case <-sub.Err():
	case <-ctx.Done():
		t.Fatal("subscription survived the node going down")
	}
}
