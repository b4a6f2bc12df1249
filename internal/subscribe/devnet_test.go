package subscribe

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient"

	"github.com/rpcmesh/rpcmesh/internal/config"
	"github.com/rpcmesh/rpcmesh/internal/devnet"
	"github.com/rpcmesh/rpcmesh/internal/testwait"
	"github.com/rpcmesh/rpcmesh/internal/upstream"
)

// dn is the package's devnet, nil with -short.
var dn *devnet.Devnet

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		os.Exit(m.Run())
	}
	os.Exit(devnet.RunSuite("subscribe", false, devnet.Options{Nodes: 3, BlockTime: time.Second}, nil, func(d *devnet.Devnet) int {
		dn = d
		return m.Run()
	}))
}

// countingCaller counts a provider's calls by method.
type countingCaller struct {
	Caller
	mu    sync.Mutex
	calls map[string]int
}

func (c *countingCaller) Call(ctx context.Context, method string, params json.RawMessage) (json.RawMessage, error) {
	res, err := c.Caller.Call(ctx, method, params)
	if err == nil {
		c.mu.Lock()
		c.calls[method]++
		c.mu.Unlock()
	}
	return res, err
}

func (c *countingCaller) count(method string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls[method]
}

// polls is how many times the node answered eth_getFilterChanges.
func (c *countingCaller) polls() int { return c.count("eth_getFilterChanges") }

// TestPendingFromDevnetWithoutWS: devnet nodes configured without WS are
// polled (and one whose WS feed works is not); every transaction sent to a
// node reaches the subscriber exactly once.
func TestPendingFromDevnetWithoutWS(t *testing.T) {
	if dn == nil {
		t.Skip("needs the devnet (not with -short)")
	}
	cases := []struct {
		name   string
		wsNode int // the node given its WS URL; -1: none
	}{
		{"no provider has WS", -1},
		{"one provider has WS", 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { pendingFromDevnet(t, tc.wsNode) })
	}
}

func pendingFromDevnet(t *testing.T, wsNode int) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	info := dn.Info()
	var sources []PendingSource
	var callers []*countingCaller
	var relay *wsRelay
	for i, n := range info.Nodes {
		pc := config.DefaultProvider()
		pc.Name, pc.HTTP = n.Name, n.HTTP
		p := upstream.New(upstream.Options{Chain: "devnet", ChainID: info.ChainID, Provider: pc, Health: config.Default().Health})
		cc := &countingCaller{Caller: p, calls: map[string]int{}}
		callers = append(callers, cc)
		src := PendingSource{Name: n.Name, Poll: cc}
		if i == wsNode {
			relay = startRelay(t, n.WS)
			src.WS = relay.url
		}
		sources = append(sources, src)
	}
	f := newFakeChain() // no head: only pending transactions are followed
	h := New(Options{Head: f, Fetch: f, Pending: func() []PendingSource { return sources }, PendingPoll: 200 * time.Millisecond, PendingFallback: 5 * time.Second})
	hctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); h.Run(hctx) }()
	defer func() { stop(); <-done }()

	var got collector
	if _, err := h.Subscribe(KindPending, nil, got.sink); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the polled nodes' filters", func() bool {
		for i, c := range callers {
			if i != wsNode && c.count("eth_newPendingTransactionFilter") != 1 {
				return false
			}
		}
		return true
	})
	if relay != nil {
		select {
		case <-relay.up:
		case <-ctx.Done():
			t.Fatal("the WS feed never subscribed")
		}
	}

	sent := time.Now()
	want := sendTransfers(ctx, t, info.Nodes[0].HTTP, info.ChainID, 5)
	err := testwait.Until(ctx, "every hash", func() bool {
		m := counts(t, got.all())
		for _, tx := range want {
			if m[tx] == 0 {
				return false
			}
		}
		return true
	})
	if err != nil {
		t.Fatalf("%v: pending hashes seen %v, want %v", err, counts(t, got.all()), want)
	}
	t.Logf("all %d hashes arrived %s after the first send", len(want), time.Since(sent).Round(time.Millisecond))
	// Copies would come before a last hash that enters the hub after every
	// node has reported what it has: every node knows every transaction,
	// every polled node is polled past them, and the last hash comes on
	// the WS feed after all the node sent (or, without one, from a poll).
	waitKnownByAll(ctx, t, callers, want)
	var polled []*countingCaller
	for i, c := range callers {
		if i != wsNode {
			polled = append(polled, c)
		}
	}
	waitPolledPast(t, polled...)
	var last string
	if relay != nil {
		last = fmt.Sprintf("0x%064x", 0xdef)
		if err := relay.inject(last); err != nil {
			t.Fatal(err)
		}
	} else {
		last = sendTransfers(ctx, t, info.Nodes[0].HTTP, info.ChainID, 1)[0]
	}
	waitFor(t, "the last hash", func() bool { return counts(t, got.all())[last] > 0 })
	m := counts(t, got.all())
	delete(m, last)
	for _, tx := range want {
		if m[tx] != 1 {
			t.Errorf("%s seen %d times", tx, m[tx])
		}
	}
	if len(m) != len(want) {
		t.Errorf("notifications %v, want only %v", m, want)
	}
	polls := make([]int, len(callers))
	for i, c := range callers {
		polls[i] = c.count("eth_getFilterChanges")
		if i == wsNode && c.count("eth_newPendingTransactionFilter") != 0 {
			t.Errorf("the node with a working WS feed was polled")
		}
	}
	t.Logf("eth_getFilterChanges per node: %v", polls)
}

// waitKnownByAll waits until every node knows every transaction (pending,
// or in a block), asking each through its caller.
func waitKnownByAll(ctx context.Context, t *testing.T, callers []*countingCaller, txs []string) {
	t.Helper()
	for i, c := range callers {
		err := testwait.Until(ctx, fmt.Sprintf("node %d to know every transaction", i), func() bool {
			for _, tx := range txs {
				res, err := c.Caller.Call(ctx, "eth_getTransactionByHash", json.RawMessage(`["`+tx+`"]`))
				if err != nil || string(res) == "null" {
					return false
				}
			}
			return true
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// TestFilterGoneOnDevnet: go-ethereum's answer for a filter it does not
// have is recognised, so a restarted node's filter is made again.
func TestFilterGoneOnDevnet(t *testing.T) {
	if dn == nil {
		t.Skip("needs the devnet (not with -short)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	info := dn.Info()
	pc := config.DefaultProvider()
	pc.Name, pc.HTTP = info.Nodes[0].Name, info.Nodes[0].HTTP
	p := upstream.New(upstream.Options{Chain: "devnet", ChainID: info.ChainID, Provider: pc, Health: config.Default().Health})
	_, err := p.Call(ctx, "eth_getFilterChanges", json.RawMessage(`["0x1234"]`))
	if !filterGone(err) {
		t.Fatalf("eth_getFilterChanges of an unknown filter: %v, not recognised as a lost filter", err)
	}
}

// sendTransfers sends n transfers from the devnet's last account to url
// and returns their hashes in lower case.
func sendTransfers(ctx context.Context, t *testing.T, url string, chainID uint64, n int) []string {
	t.Helper()
	ec, err := ethclient.DialContext(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer ec.Close()
	keys := dn.Keys()
	key := keys[len(keys)-1]
	nonce, err := ec.PendingNonceAt(ctx, crypto.PubkeyToAddress(key.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	to := common.HexToAddress("0x00000000000000000000000000000000000000bb")
	var hashes []string
	for i := range n {
		tx, err := devnet.SignTx(key, chainID, nonce+uint64(i), &to, 1, nil, 21000)
		if err != nil {
			t.Fatal(err)
		}
		if err := ec.SendTransaction(ctx, tx); err != nil {
			t.Fatal(err)
		}
		hashes = append(hashes, strings.ToLower(tx.Hash().Hex()))
	}
	return hashes
}
