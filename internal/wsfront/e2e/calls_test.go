package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/ethclient"

	"github.com/rpcmesh/rpcmesh/internal/devnetgw"
	"github.com/rpcmesh/rpcmesh/internal/testwait"
)

// TestCallsOverWS: the same methods and batches as over HTTP, through the
// same pipeline, on ws://host/{chain}.
func TestCallsOverWS(t *testing.T) {
	devnetgw.AwaitHealthy(t, gw)
	ctx := testwait.Context(t, 30*time.Second)
	c := dialWS(t)
	res, err := c.call(ctx, "eth_chainId", `[]`)
	if err != nil || string(res) != fmt.Sprintf(`"0x%x"`, dn.Info().ChainID) {
		t.Fatalf("eth_chainId: %s %v", res, err)
	}
	acct := dn.Info().Accounts[0].Address
	if res, err := c.call(ctx, "eth_getBalance", fmt.Sprintf(`[%q,"latest"]`, acct)); err != nil || len(res) < 4 {
		t.Fatalf("eth_getBalance: %s %v", res, err)
	}
	if _, err := c.call(ctx, "admin_peers", `[]`); err == nil || !strings.Contains(err.Error(), "-32601") {
		t.Fatalf("admin_peers: %v, want -32601", err)
	}
	batch, err := c.send(ctx, "batch", `[{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber"},{"jsonrpc":"2.0","id":2,"method":"eth_getBlockByNumber","params":["latest",false]}]`)
	if err != nil {
		t.Fatal(err)
	}
	var items []struct {
		ID     int             `json:"id"`
		Result json.RawMessage `json:"result"`
	}
	if err := json.Unmarshal(batch, &items); err != nil || len(items) != 2 || items[1].Result == nil {
		t.Fatalf("batch: %s %v", batch, err)
	}
	id, _ := c.subscribe(t, ctx, `["newHeads"]`)
	if res, err := c.call(ctx, "eth_unsubscribe", fmt.Sprintf(`[%q]`, id)); err != nil || string(res) != "true" {
		t.Fatalf("eth_unsubscribe: %s %v", res, err)
	}
	if res, err := c.call(ctx, "eth_unsubscribe", fmt.Sprintf(`[%q]`, id)); err != nil || string(res) != "false" {
		t.Fatalf("second eth_unsubscribe: %s %v", res, err)
	}
	if _, err := c.call(ctx, "eth_subscribe", `["syncing"]`); err == nil {
		t.Fatal("unknown subscription kind accepted")
	}
}

// TestGoEthereumClient: go-ethereum's own client subscribes to new heads
// through the gateway and sees consecutive blocks.
func TestGoEthereumClient(t *testing.T) {
	devnetgw.AwaitHealthy(t, gw)
	ctx := testwait.Context(t, 30*time.Second)
	ec, err := ethclient.DialContext(ctx, wsURL)
	if err != nil {
		t.Fatal(err)
	}
	defer ec.Close()
	heads := make(chan *types.Header, 16)
	sub, err := ec.SubscribeNewHead(ctx, heads)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	var prev *types.Header
	for range 4 {
		select {
		case h := <-heads:
			if prev != nil && (h.Number.Uint64() != prev.Number.Uint64()+1 || h.ParentHash != prev.Hash()) {
				t.Fatalf("head %d after %d", h.Number, prev.Number)
			}
			// The header decodes to the block's real hash: nothing was lost.
			if b, err := ec.HeaderByNumber(ctx, h.Number); err != nil || b.Hash() != h.Hash() {
				t.Fatalf("head %d hash %s, block %v %v", h.Number, h.Hash(), b, err)
			}
			prev = h
		case err := <-sub.Err():
			t.Fatal(err)
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		}
	}
}

// TestPendingTransactionsMergedOnce: pending transaction hashes come from
// every provider's WS feed, and each reaches the client once.
func TestPendingTransactionsMergedOnce(t *testing.T) {
	devnetgw.AwaitHealthy(t, gw)
	ctx := testwait.Context(t, 60*time.Second)
	c := dialWS(t)
	_, ch := c.subscribe(t, ctx, `["newPendingTransactions"]`)
	expectPendingOnce(ctx, t, ch, 2, 7)
}

// expectPendingOnce sends transfers from account acct to node and expects
// each hash on ch exactly once. The gateway opens its upstream feeds with
// the first subscriber: a first transfer that arrives shows they are open
// (one that entered every pool before then is never reported: another is
// sent after two seconds without). Then five; once every node has all five (so every feed has had
// them to report), a last transfer is awaited: copies reported before it
// come before it. (A poll that lands after it can still bring a copy
// later: that is missed, never wrongly reported.)
func expectPendingOnce(ctx context.Context, t *testing.T, ch <-chan json.RawMessage, node, acct int) {
	t.Helper()
	direct, _ := dn.DirectURL(dn.Info().Nodes[node].Name)
	ec, err := ethclient.DialContext(ctx, direct)
	if err != nil {
		t.Fatal(err)
	}
	defer ec.Close()
	key := dn.Keys()[acct]
	from := dn.Info().Accounts[acct].Address
	nonce, err := ec.PendingNonceAt(ctx, common.HexToAddress(from))
	if err != nil {
		t.Fatal(err)
	}
	to := common.HexToAddress("0x00000000000000000000000000000000000000bb")
	send := func() string {
		tx := signTx(t, key, nonce, &to, nil, 21000)
		if err := ec.SendTransaction(ctx, tx); err != nil {
			t.Fatal(err)
		}
		nonce++
		return strings.ToLower(tx.Hash().Hex())
	}
	got := map[string]int{}
	// read counts what arrives on ch until done holds or d passes.
	read := func(d time.Duration, done func() bool) bool {
		rctx, cancel := context.WithTimeout(ctx, d)
		defer cancel()
		for !done() {
			select {
			case raw := <-ch:
				var h string
				_ = json.Unmarshal(raw, &h)
				got[strings.ToLower(h)]++
			case <-rctx.Done():
				return false
			}
		}
		return true
	}
	await := func(what string, hashes ...string) {
		t.Helper()
		if !read(20*time.Second, func() bool { return covers(got, hashes) }) {
			t.Fatalf("waiting for %s: pending hashes seen %v, want %v", what, got, hashes)
		}
	}
	for opened := false; !opened; {
		if ctx.Err() != nil {
			t.Fatalf("no pending hash arrived: %v", ctx.Err())
		}
		probe := send()
		opened = read(2*time.Second, func() bool { return len(got) > 0 })
		t.Logf("first transfer %s arrived: %v", probe, opened)
	}
	var want []string
	sent := time.Now()
	for range 5 {
		want = append(want, send())
	}
	await("five transfers", want...)
	t.Logf("%d pending hashes arrived %s after the first send", len(want), time.Since(sent).Round(time.Millisecond))
	waitKnownEverywhere(ctx, t, want)
	await("a transfer sent after every node had the five", send())
	for _, h := range want {
		if got[h] != 1 {
			t.Errorf("pending %s seen %d times", h, got[h])
		}
	}
}

// waitKnownEverywhere waits until every devnet node knows every one of the
// transactions (pending, or in a block).
func waitKnownEverywhere(ctx context.Context, t *testing.T, hashes []string) {
	t.Helper()
	for _, n := range dn.Info().Nodes {
		direct, _ := dn.DirectURL(n.Name)
		ec, err := ethclient.DialContext(ctx, direct)
		if err != nil {
			t.Fatal(err)
		}
		err = testwait.Until(ctx, n.Name+" to know every transfer", func() bool {
			for _, h := range hashes {
				if _, _, err := ec.TransactionByHash(ctx, common.HexToHash(h)); err != nil {
					return false
				}
			}
			return true
		})
		ec.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
}

func covers(got map[string]int, want []string) bool {
	for _, h := range want {
		if got[h] == 0 {
			return false
		}
	}
	return true
}
