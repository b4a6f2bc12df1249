package server

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/rpcmesh/rpcmesh/internal/config"
	"github.com/rpcmesh/rpcmesh/internal/fakenode"
	"github.com/rpcmesh/rpcmesh/internal/testwait"
)

// upstreamRequests is how many traffic requests (not health checks) the
// gateway's providers were sent.
func (tg *testGateway) upstreamRequests() uint64 {
	var total uint64
	for _, ch := range tg.gw.Status().Chains {
		for _, p := range ch.Providers {
			total += p.Requests
		}
	}
	return total
}

// TestBatchAnswersAsSingleCalls: every item of a batch gets the answer it
// gets sent on its own, and the wave's reads (eth_getLogs of a short range
// included) reach the provider as one upstream batch.
func TestBatchAnswersAsSingleCalls(t *testing.T) {
	tg := startGateway(t, 1, func(c *config.Config) { c.Routing.Hedge = false })
	items := []string{
		`{"jsonrpc":"2.0","id":1,"method":"eth_chainId"}`,
		`{"jsonrpc":"2.0","id":2,"method":"eth_getBalance","params":["0x407d73d8a49eeb85d32cf465507dd71d507100c1","latest"]}`,
		`{"jsonrpc":"2.0","id":3,"method":"eth_getBalance","params":["0x407d73d8a49eeb85d32cf465507dd71d507100c1","0x10"]}`,
		`{"jsonrpc":"2.0","id":4,"method":"admin_peers"}`,
		`{"jsonrpc":"2.0","id":5,"method":"eth_getBalance","params":["0x407d73d8a49eeb85d32cf465507dd71d507100c1","nope"]}`,
		`7`,
		`{"jsonrpc":"2.0","method":"eth_gasPrice"}`,
		`{"jsonrpc":"2.0","id":6,"method":"eth_getLogs","params":[{"fromBlock":"0x1","toBlock":"0x2"}]}`,
		`{"jsonrpc":"2.0","id":7,"method":"eth_getBlockByNumber","params":["0x10",false]}`,
		`{"jsonrpc":"2.0","id":8,"method":"eth_gasPrice"}`,
	}
	before := tg.upstreamRequests()
	status, _, body := tg.post(t, "/dev", "["+strings.Join(items, ",")+"]")
	var got []rpcResp
	if err := json.Unmarshal([]byte(body), &got); err != nil || status != 200 {
		t.Fatalf("%d %s", status, body)
	}
	// eth_getBalance ×2, eth_getLogs, eth_getBlockByNumber and eth_gasPrice
	// ×2 share one upstream batch.
	if n := tg.upstreamRequests() - before; n != 1 {
		t.Errorf("the batch took %d upstream requests, want 1", n)
	}
	if len(got) != 9 {
		t.Fatalf("%d answers, want 9 (the notification gets none)", len(got))
	}
	var want []rpcResp
	for _, item := range items {
		if strings.Contains(item, `"method":"eth_gasPrice"}`) && !strings.Contains(item, `"id"`) {
			continue // a notification: no answer either way
		}
		status, _, body := tg.post(t, "/dev", item)
		var r rpcResp
		if err := json.Unmarshal([]byte(body), &r); err != nil || status != 200 {
			t.Fatalf("%s alone: %d %s", item, status, body)
		}
		if item == `7` && r.Error != nil && len(want) < len(got) && got[len(want)].Error != nil && r.Error.Code == got[len(want)].Error.Code {
			r = got[len(want)] // alone, not an object is a bad body, not a bad batch item: same code, own words
		}
		want = append(want, r)
	}
	if !reflect.DeepEqual(got, want) {
		gb, _ := json.Marshal(got)
		wb, _ := json.Marshal(want)
		t.Errorf("answers differ:\nbatch: %s\nalone: %s", gb, wb)
	}
	for i, r := range got {
		wantErr := i == 3 || i == 4 || i == 5 // refused method, bad block, not an object
		if (r.Error != nil) != wantErr || (!wantErr && len(r.Result) == 0) {
			t.Errorf("answer %d: %+v", i, r)
		}
	}
}

// TestWSBatchIsOneUpstreamRequest: a WebSocket client's batch runs as an
// HTTP batch does: its reads reach the provider as one upstream batch, its
// subscription calls are answered by the connection, every item in its
// place. (An eth_unsubscribe: a new subscription's hub may fetch a block
// upstream at any moment, which the count below would see.)
func TestWSBatchIsOneUpstreamRequest(t *testing.T) {
	tg := startGateway(t, 1, func(c *config.Config) { c.Routing.Hedge = false })
	c := tg.dialWS(t)
	before := tg.upstreamRequests()
	const batch = `[
		{"jsonrpc":"2.0","id":1,"method":"eth_gasPrice"},
		{"jsonrpc":"2.0","id":2,"method":"eth_unsubscribe","params":["0x1"]},
		{"jsonrpc":"2.0","id":3,"method":"eth_getBlockByNumber","params":["0x10",false]},
		{"jsonrpc":"2.0","method":"eth_gasPrice"},
		"x",
		{"jsonrpc":"2.0","id":4,"method":"eth_chainId"},
		{"jsonrpc":"2.0","id":5,"method":"eth_getBalance","params":["0x407d73d8a49eeb85d32cf465507dd71d507100c1","latest"]}]`
	if err := c.WriteMessage(websocket.TextMessage, []byte(batch)); err != nil {
		t.Fatal(err)
	}
	var rs []rpcResp
	_, msg, err := c.ReadMessage()
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(msg, &rs); err != nil {
		t.Fatalf("%v: %s", err, msg)
	}
	ids := []string{`1`, `2`, `3`, `null`, `4`, `5`}
	if len(rs) != len(ids) {
		t.Fatalf("%d answers, want %d: %+v", len(rs), len(ids), rs)
	}
	for i, r := range rs {
		if string(r.ID) != ids[i] || (r.Error == nil) != (ids[i] != `null`) {
			t.Errorf("answer %d: id %s, error %v, result %s", i, r.ID, r.Error, r.Result)
		}
	}
	if string(rs[1].Result) != `false` {
		t.Errorf("eth_unsubscribe of no subscription answered %s, want false", rs[1].Result)
	}
	// eth_gasPrice ×2, eth_getBlockByNumber, eth_getBalance: one request.
	if n := tg.upstreamRequests() - before; n != 1 {
		t.Errorf("the batch took %d upstream requests, want 1", n)
	}
}

// TestCoalescedCallsInStatusAndMetrics: with coalesce_above, single calls
// that wait for a busy provider go to it together, and /status and
// /metrics say how many did.
func TestCoalescedCallsInStatusAndMetrics(t *testing.T) {
	tg := startGateway(t, 1, func(c *config.Config) {
		c.Routing.Hedge = false
		c.Chains[0].Providers[0].CoalesceAbove = 1
	})
	tg.nodes[0].SetFault(fakenode.Fault{Delay: 600 * time.Millisecond, OnlyMethod: "eth_getBalance"})
	const call = `{"jsonrpc":"2.0","id":1,"method":"eth_getBalance","params":["0x407d73d8a49eeb85d32cf465507dd71d507100c1","0x%x"]}`
	var wg sync.WaitGroup
	for i := range 5 {
		wg.Go(func() {
			if status, _, body := tg.post(t, "/dev", fmt.Sprintf(call, 16+i)); status != 200 || !strings.Contains(body, `"result"`) {
				t.Errorf("call %d: %d %s", i, status, body)
			}
		})
		if i == 0 { // the first is at the node, alone; the others wait behind it
			testwait.For(t, 5*time.Second, "the first call at the node", func() bool { return tg.nodes[0].Calls("eth_getBalance") >= 1 })
		}
	}
	wg.Wait()
	http.DefaultClient.CloseIdleConnections() // so that the gateway's shutdown need not wait for them
	st := tg.gw.Status()
	co := st.Chains[0].Providers[0].CallTransport.Coalesce
	if co == nil || co.Above != 1 || co.Batches < 1 || co.Calls < 2 || co.Calls > 4 {
		t.Fatalf("status coalesce %+v, want the waiting calls merged (at most the four that waited)", co)
	}
	resp, err := http.Get("http://" + tg.gw.AdminAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	want := fmt.Sprintf(`rpcmesh_provider_coalesced_calls_total{chain="dev",cloud="aws",operator="op-n0",provider="n0",tier="own"} %d`, co.Calls)
	if !strings.Contains(string(b), want) {
		t.Errorf("/metrics lacks %s", want)
	}
}

// TestCoalescedCallsFailOver: when a provider fails the batch its waiting
// calls went in, each call is retried at another provider, as a call of
// its own would be.
func TestCoalescedCallsFailOver(t *testing.T) {
	tg := startGateway(t, 2, func(c *config.Config) {
		for i := range c.Chains[0].Providers {
			c.Chains[0].Providers[i].CoalesceAbove = 1
		}
	})
	// n0 answers eth_getBalance with a 503: the calls that piled up behind
	// one fail together.
	tg.nodes[0].SetFault(fakenode.Fault{Status: http.StatusServiceUnavailable, OnlyMethod: "eth_getBalance"})
	const call = `{"jsonrpc":"2.0","id":1,"method":"eth_getBalance","params":["0x407d73d8a49eeb85d32cf465507dd71d507100c1","0x%x"]}`
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			if status, _, body := tg.post(t, "/dev", fmt.Sprintf(call, 16+i%8)); status != 200 || !strings.Contains(body, `"result"`) {
				t.Errorf("call %d: %d %s", i, status, body)
			}
		})
	}
	wg.Wait()
	// Twenty keep-alive connections would hold the gateway's shutdown up.
	http.DefaultClient.CloseIdleConnections()
	co := tg.gw.Status().Chains[0].Providers[0].CallTransport.Coalesce
	t.Logf("n0: %d eth_getBalance calls, coalesced %+v", tg.nodes[0].Calls("eth_getBalance"), co)
}
