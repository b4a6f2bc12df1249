// Package privacye2e shows, at the providers, what the privacy policy and
// the gateway's upstream requests reveal: a real devnet of five operators,
// each node behind a recording HTTP server on 127.0.0.1 that keeps every
// request's headers and body, and gateways in front of the recorders.
package privacye2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/rpcmesh/rpcmesh/internal/config"
	"github.com/rpcmesh/rpcmesh/internal/devnet"
	"github.com/rpcmesh/rpcmesh/internal/devnetgw"
	"github.com/rpcmesh/rpcmesh/internal/metrics/metricstest"
	"github.com/rpcmesh/rpcmesh/internal/server"
)

var dn *devnet.Devnet

func TestMain(m *testing.M) {
	// No suite gateway: every test starts the gateway it needs in front of
	// recorders of its own.
	devnet.Main(m, "privacye2e", devnet.Options{}, func(d *devnet.Devnet) { dn = d })
}

// recorded is one request a provider received.
type recorded struct {
	header http.Header
	host   string
	body   []byte
}

// recorder is a real HTTP server in front of one devnet node: it keeps
// every request it is sent and passes it on to the node; a WebSocket it
// proxies to the node's, keeping the handshake and every message sent.
type recorder struct {
	operator string
	target   string
	wsTarget string
	srv      *httptest.Server

	mu   sync.Mutex
	reqs []recorded
}

func (rec *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if websocket.IsWebSocketUpgrade(r) {
		rec.serveWS(w, r)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 16<<20))
	if err != nil {
		http.Error(w, "read body", http.StatusBadRequest)
		return
	}
	rec.record(recorded{header: r.Header.Clone(), host: r.Host, body: body})
	req, err := http.NewRequestWithContext(r.Context(), http.MethodPost, rec.target, bytes.NewReader(body))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	w.Header().Set("Content-Type", resp.Header.Get("Content-Type"))
	w.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(w, resp.Body)
}

// serveWS proxies a WebSocket to the node's, recording the handshake's
// headers (an empty body) and each message the gateway sends.
func (rec *recorder) serveWS(w http.ResponseWriter, r *http.Request) {
	rec.record(recorded{header: r.Header.Clone(), host: r.Host})
	node, resp, err := websocket.DefaultDialer.DialContext(r.Context(), rec.wsTarget, nil)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	resp.Body.Close()
	defer node.Close()
	up := websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}
	gw, err := up.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	defer gw.Close()
	go func() { // the node's answers and notifications back to the gateway
		defer gw.Close()
		for {
			kind, msg, err := node.ReadMessage()
			if err != nil || gw.WriteMessage(kind, msg) != nil {
				return
			}
		}
	}()
	for {
		kind, msg, err := gw.ReadMessage()
		if err != nil {
			return
		}
		rec.record(recorded{header: r.Header.Clone(), host: r.Host, body: msg})
		if node.WriteMessage(kind, msg) != nil {
			return
		}
	}
}

func (rec *recorder) record(r recorded) {
	rec.mu.Lock()
	rec.reqs = append(rec.reqs, r)
	rec.mu.Unlock()
}

// requests returns what the recorder has received so far.
func (rec *recorder) requests() []recorded {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]recorded(nil), rec.reqs...)
}

// testGateway is a gateway in front of recorders of the devnet's nodes.
type testGateway struct {
	gw   *server.Gateway
	recs []*recorder
}

// startGateway runs a gateway in front of a recorder of each of the named
// devnet nodes (all when none are named), with cfg changed by configure.
// The providers have no ws URL: heads by polling, everything over HTTP.
func startGateway(t *testing.T, configure func(*config.Config), nodes ...string) *testGateway {
	return startGatewayWS(t, false, configure, nodes...)
}

// startGatewayWS is startGateway, with the providers' ws URLs the
// recorders' when ws is set (heads by newHeads; configure may set
// call_transport ws).
func startGatewayWS(t *testing.T, ws bool, configure func(*config.Config), nodes ...string) *testGateway {
	t.Helper()
	info := dn.Info()
	if len(nodes) > 0 {
		var kept []devnet.NodeInfo
		for _, n := range info.Nodes {
			for _, name := range nodes {
				if n.Name == name {
					kept = append(kept, n)
				}
			}
		}
		info.Nodes = kept
	}
	tg := &testGateway{}
	for i, n := range info.Nodes {
		rec := &recorder{operator: n.Labels.Operator, target: n.HTTP, wsTarget: n.WS}
		rec.srv = httptest.NewServer(rec)
		t.Cleanup(rec.srv.Close)
		tg.recs = append(tg.recs, rec)
		info.Nodes[i].HTTP, info.Nodes[i].WS = rec.srv.URL, ""
		if ws {
			info.Nodes[i].WS = "ws" + strings.TrimPrefix(rec.srv.URL, "http")
		}
	}
	cfg := devnetgw.Config(info, "127.0.0.1:0", "")
	cfg.Health.ProviderTimeout = config.Duration(5 * time.Second) // tolerant of a loaded machine
	configure(cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	gw, err := devnetgw.Start(ctx, cfg, devnetgw.SuiteLogger())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { devnetgw.Stop(gw) })
	tg.gw = gw
	return tg
}

// post sends body to the gateway's devnet chain with the header pairs kv
// and returns the answer's body.
func (tg *testGateway) post(t *testing.T, body string, kv ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, devnetgw.URL(tg.gw), strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(kv); i += 2 {
		req.Header.Set(kv[i], kv[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("HTTP %d %s: %v", resp.StatusCode, out, err)
	}
	return out
}

// privacyOutcomes reads rpcmesh_privacy_routes_total by outcome.
func (tg *testGateway) privacyOutcomes(t *testing.T) map[string]float64 {
	t.Helper()
	return metricstest.Scrape(t, tg.gw.Metrics()).Sum("rpcmesh_privacy_routes_total", "outcome", nil)
}

// call is one JSON-RPC call as a provider received it.
type call struct {
	ID     json.RawMessage   `json:"id"`
	Method string            `json:"method"`
	Params []json.RawMessage `json:"params"`
}

// callsIn decodes a request body: one call or a batch.
func callsIn(body []byte) []call {
	var batch []call
	if json.Unmarshal(body, &batch) == nil {
		return batch
	}
	var one call
	if json.Unmarshal(body, &one) == nil {
		return []call{one}
	}
	return nil
}

// addressesIn returns the account addresses (lower case) the calls of a
// request body name, as a provider reading it would find them.
func addressesIn(body []byte) []string {
	var out []string
	add := func(raw json.RawMessage) {
		var s string
		if json.Unmarshal(raw, &s) == nil && len(s) == 42 {
			out = append(out, strings.ToLower(s))
		}
	}
	for _, c := range callsIn(body) {
		if len(c.Params) == 0 {
			continue
		}
		switch c.Method {
		case "eth_getBalance", "eth_getCode", "eth_getTransactionCount", "eth_getStorageAt", "eth_getProof":
			add(c.Params[0])
		case "eth_call", "eth_estimateGas", "eth_createAccessList", "eth_getLogs":
			var obj map[string]json.RawMessage
			if json.Unmarshal(c.Params[0], &obj) == nil {
				add(obj["to"])
				add(obj["from"])
				add(obj["address"])
			}
		}
	}
	return out
}

// addressesSeen returns, per operator, the distinct addresses its
// recorder received in the requests from index since[i] on.
func (tg *testGateway) addressesSeen(since []int) map[string]map[string]bool {
	out := map[string]map[string]bool{}
	for i, rec := range tg.recs {
		seen := out[rec.operator]
		if seen == nil {
			seen = map[string]bool{}
			out[rec.operator] = seen
		}
		for _, r := range rec.requests()[since[i]:] {
			for _, a := range addressesIn(r.body) {
				seen[a] = true
			}
		}
	}
	return out
}

// marks returns how many requests each recorder has received, for
// addressesSeen.
func (tg *testGateway) marks() []int {
	out := make([]int, len(tg.recs))
	for i, rec := range tg.recs {
		out[i] = len(rec.requests())
	}
	return out
}

// addressBatch is a batch of method(address, "latest") calls, one per address.
func addressBatch(method string, addrs []string) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, a := range addrs {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"jsonrpc":"2.0","id":%d,"method":"%s","params":["%s","latest"]}`, i, method, a)
	}
	b.WriteByte(']')
	return b.String()
}

// requestsNaming counts the requests, from index since[i] on, that name
// an address.
func (tg *testGateway) requestsNaming(since []int) int {
	n := 0
	for i, rec := range tg.recs {
		for _, r := range rec.requests()[since[i]:] {
			if len(addressesIn(r.body)) > 0 {
				n++
			}
		}
	}
	return n
}
