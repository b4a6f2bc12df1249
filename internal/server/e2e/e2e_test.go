package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/chain"
	"github.com/rpcmesh/rpcmesh/internal/config"
	"github.com/rpcmesh/rpcmesh/internal/devnet"
	"github.com/rpcmesh/rpcmesh/internal/devnetgw"
	"github.com/rpcmesh/rpcmesh/internal/server"
	"github.com/rpcmesh/rpcmesh/internal/testwait"
)

var (
	dn  *devnet.Devnet
	gw  *server.Gateway
	url string
)

func TestMain(m *testing.M) {
	devnetgw.Main(m, "e2e", gatewayConfig, func(d *devnet.Devnet, g *server.Gateway) {
		dn, gw, url = d, g, devnetgw.URL(g)
	})
}

// gatewayConfig puts the gateway in front of every devnet node.
func gatewayConfig(info devnet.Info) *config.Config {
	return devnetgw.Config(info, "127.0.0.1:0", "127.0.0.1:0")
}

var client = &http.Client{Timeout: 10 * time.Second}

// call sends one JSON-RPC call through the gateway.
func call(method, params string) (json.RawMessage, error) {
	a, err := devnetgw.Call(context.Background(), client, url, method, params)
	if err != nil {
		return nil, err
	}
	if a.Error != nil {
		var e struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		}
		_ = json.Unmarshal(a.Error, &e)
		return nil, fmt.Errorf("%s: error %d: %s", method, e.Code, e.Message)
	}
	return a.Result, nil
}

func blockNumber(t *testing.T) uint64 {
	t.Helper()
	res, err := call("eth_blockNumber", "[]")
	if err != nil {
		t.Fatal(err)
	}
	var s string
	_ = json.Unmarshal(res, &s)
	var n uint64
	fmt.Sscanf(s, "0x%x", &n)
	return n
}

// stream sends reads through the gateway from a few workers until stop is
// closed, and counts failures.
type stream struct {
	stop     chan struct{}
	wg       sync.WaitGroup
	ok, fail atomic.Int64
	mu       sync.Mutex
	errs     []string
	backward atomic.Int64
}

// read is one method and its params.
type read struct{ method, params string }

// oneProviderReads are reads one provider answers (proven, or local):
// what routing's tiers and caps order.
func oneProviderReads() []read {
	account := dn.Info().Accounts[0].Address
	return []read{
		{"eth_getBalance", fmt.Sprintf(`[%q,"latest"]`, account)},
		{"eth_getBlockByNumber", `["latest",false]`},
		{"eth_blockNumber", `[]`},
		{"eth_getTransactionCount", fmt.Sprintf(`[%q,"latest"]`, account)},
	}
}

// startStream sends proven reads and eth_gasPrice (a quorum of two
// operators) from workers until finish.
func startStream(workers int) *stream {
	return startStreamOf(workers, append(oneProviderReads(), read{"eth_gasPrice", `[]`}))
}

func startStreamOf(workers int, reads []read) *stream {
	s := &stream{stop: make(chan struct{})}
	for w := range workers {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			var lastHead uint64 // each worker is one client: its view must not go back
			for i := w; ; i++ {
				select {
				case <-s.stop:
					return
				default:
				}
				r := reads[i%len(reads)]
				res, err := call(r.method, r.params)
				if err != nil {
					s.fail.Add(1)
					s.mu.Lock()
					if len(s.errs) < 10 {
						s.errs = append(s.errs, err.Error())
					}
					s.mu.Unlock()
					continue
				}
				s.ok.Add(1)
				if r.method == "eth_blockNumber" {
					var h string
					_ = json.Unmarshal(res, &h)
					var n uint64
					fmt.Sscanf(h, "0x%x", &n)
					if n < lastHead {
						s.backward.Add(1)
					}
					lastHead = n
				}
			}
		}()
	}
	return s
}

func (s *stream) finish(t *testing.T) {
	t.Helper()
	close(s.stop)
	s.wg.Wait()
	t.Logf("reads: %d ok, %d failed", s.ok.Load(), s.fail.Load())
	if s.fail.Load() > 0 {
		t.Errorf("%d reads failed: %v", s.fail.Load(), s.errs)
	}
	if s.backward.Load() > 0 {
		t.Errorf("eth_blockNumber went backwards %d times", s.backward.Load())
	}
	if s.ok.Load() == 0 {
		t.Error("no read succeeded")
	}
}

// requests returns how many calls each provider has been sent by routing.
func requests() map[string]uint64 {
	out := map[string]uint64{}
	for _, p := range gw.Status().Chains[0].Providers {
		out[p.Name] = p.Requests
	}
	return out
}

func delta(before, after map[string]uint64) map[string]uint64 {
	out := map[string]uint64{}
	for k, v := range after {
		out[k] = v - before[k]
	}
	return out
}

// setFault sets a fault and returns it (with the nodes it acts on).
func setFault(t *testing.T, target string, kind devnet.FaultKind, params string) devnet.Fault {
	t.Helper()
	spec := devnet.FaultSpec{Target: target, Kind: kind}
	if params != "" {
		spec.Params = json.RawMessage(params)
	}
	f, err := dn.SetFault(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestBasics(t *testing.T) {
	devnetgw.AwaitHealthy(t, gw)
	res, err := call("eth_chainId", "[]")
	if err != nil || string(res) != fmt.Sprintf(`"0x%x"`, dn.Info().ChainID) {
		t.Fatalf("eth_chainId %s %v", res, err)
	}
	a := blockNumber(t)
	testwait.For(t, 10*time.Second, fmt.Sprintf("eth_blockNumber past %d", a), func() bool { return blockNumber(t) > a })
	res, err = call("eth_getBalance", fmt.Sprintf(`[%q,"latest"]`, dn.Info().Accounts[0].Address))
	if err != nil || len(res) < 4 {
		t.Fatalf("balance %s %v", res, err)
	}
	for _, tag := range []string{"safe", "finalized", "earliest", "latest"} {
		if res, err := call("eth_getBlockByNumber", fmt.Sprintf(`[%q,false]`, tag)); err != nil || string(res) == "null" {
			t.Fatalf("block %s: %s %v", tag, res, err)
		}
	}
	if _, err := call("eth_getLogs", `[{"fromBlock":"0x0","toBlock":"latest"}]`); err != nil {
		t.Fatalf("logs: %v", err)
	}
}

// head is the devnet's head number.
func head(t *testing.T) uint64 {
	t.Helper()
	n, _ := dn.Head()
	return n
}

// TestLiarCannotMoveTheHead: a node that reports heads 100 blocks ahead with
// made-up hashes does not move the agreed head. The gateway is seen to hear
// the lie first (the liar penalised, or its claimed head in Status); the
// agreed head is then checked until it has moved three blocks on.
func TestLiarCannotMoveTheHead(t *testing.T) {
	devnetgw.AwaitHealthy(t, gw)
	liar := dn.Info().Nodes[4].Name
	real := head(t)
	setFault(t, liar, devnet.FaultLie, `{"what":["blocknumber","blockhash"],"blockNumberOffset":100}`)
	defer dn.ClearFaults()
	testwait.For(t, 15*time.Second, "the gateway to hear "+liar+"'s lie", func() bool {
		for _, p := range gw.Status().Chains[0].Providers {
			if p.Name == liar {
				return len(p.Penalties) > 0 || p.Head > real+50
			}
		}
		return false
	})
	from := blockNumber(t)
	testwait.For(t, 15*time.Second, "the agreed head to move three blocks on", func() bool {
		got := blockNumber(t)
		if real := head(t); got > real+1 {
			t.Fatalf("eth_blockNumber %d is ahead of the real head %d: the liar moved it", got, real)
		}
		return got >= from+3
	})
}

// TestReorgFollowed: after a reorg of the last blocks on every node, the
// agreed head carries the new hashes.
func TestReorgFollowed(t *testing.T) {
	devnetgw.AwaitHealthy(t, gw)
	before := gw.Status().Chains[0].Reorgs
	setFault(t, "all", devnet.FaultReorg, `{"depth":3}`)
	defer dn.ClearFaults()
	var st chain.Status
	testwait.For(t, 10*time.Second, "the reorg to be followed", func() bool {
		st = gw.Status().Chains[0]
		return st.Reorgs > before && st.Head != nil && st.Head.Number >= head(t)-1
	})
	n, hash := dn.Head()
	t.Logf("reorgs %d -> %d; agreed head %d %s; devnet head %d %s", before, st.Reorgs, st.Head.Number, st.Head.Hash, n, hash)
}

// TestLaggingProviderNeverAnswersLatest lags the own-tier node (which
// otherwise serves everything): no `latest` read may come from it.
func TestLaggingProviderNeverAnswersLatest(t *testing.T) {
	devnetgw.AwaitHealthy(t, gw)
	serving := dn.Info().Nodes[0].Name
	direct, _ := dn.DirectURL(serving)
	setFault(t, serving, devnet.FaultLag, "")
	defer dn.ClearFaults()
	frozen := headOf(t, direct)
	testwait.For(t, 20*time.Second, "the chain to move past the lagging node", func() bool { return head(t) >= frozen+3 })
	before := requests()
	for i := range 100 {
		res, err := call("eth_getBlockByNumber", `["latest",false]`)
		if err != nil {
			t.Fatalf("read %d: %v", i, err)
		}
		var b struct {
			Number string `json:"number"`
		}
		if err := json.Unmarshal(res, &b); err != nil {
			t.Fatal(err)
		}
		var n uint64
		fmt.Sscanf(b.Number, "0x%x", &n)
		if n <= frozen {
			t.Fatalf("latest answered with block %d, the lagging node's head is %d", n, frozen)
		}
	}
	if got := delta(before, requests())[serving]; got != 0 {
		t.Fatalf("the lagging %s was sent %d latest reads", serving, got)
	}
}

// headOf asks a node directly for its head number.
func headOf(t *testing.T, nodeURL string) uint64 {
	t.Helper()
	resp, err := client.Post(nodeURL, "application/json", strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":[]}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r struct {
		Result string `json:"result"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		t.Fatal(err)
	}
	var n uint64
	fmt.Sscanf(r.Result, "0x%x", &n)
	return n
}
