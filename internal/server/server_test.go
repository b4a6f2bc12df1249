package server

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/config"
	"github.com/rpcmesh/rpcmesh/internal/fakenode"
	"github.com/rpcmesh/rpcmesh/internal/jsonrpc"
	"github.com/rpcmesh/rpcmesh/internal/testwait"
)

type testGateway struct {
	gw    *Gateway
	url   string
	chain *fakenode.Chain
	nodes []*fakenode.Node
}

func testConfig(chain *fakenode.Chain, nodes []*fakenode.Node, edit func(*config.Config)) *config.Config {
	cfg := config.Default()
	cfg.Server.Listen = "127.0.0.1:0"
	cfg.Admin.Listen = "127.0.0.1:0"
	cfg.Health.PollInterval = config.Duration(20 * time.Millisecond)
	cfg.Health.ProbeInterval = config.Duration(50 * time.Millisecond)
	cfg.Health.BreakerCooldown = config.Duration(100 * time.Millisecond)
	cfg.Health.BreakerFailures = 3
	cfg.Health.ProviderTimeout = config.Duration(2 * time.Second)
	cfg.Routing.HedgeMaxDelay = config.Duration(300 * time.Millisecond)
	cfg.Routing.RetryBackoff = config.Duration(5 * time.Millisecond)
	// The fake nodes echo made-up values no proof can back: verification is
	// tested against real nodes (e2e); here the front door and routing are.
	cfg.Verify.Enabled = false
	ch := config.DefaultChain()
	ch.Name, ch.ChainID = "dev", chain.ID
	clouds := []string{"aws", "gcp", "hetzner", "ovh"}
	for i, n := range nodes {
		p := config.DefaultProvider()
		p.Name, p.HTTP = n.Name, n.URL()
		p.Labels = config.Labels{Operator: "op-" + n.Name, Cloud: clouds[i%len(clouds)], Tier: "own"}
		ch.Providers = append(ch.Providers, p)
	}
	cfg.Chains = []config.Chain{ch}
	if edit != nil {
		edit(cfg)
	}
	cfg.Complete()
	return cfg
}

func startGateway(t *testing.T, nodeCount int, edit func(*config.Config)) *testGateway {
	t.Helper()
	tg := &testGateway{chain: fakenode.NewChain(1337, 500)}
	for i := range nodeCount {
		tg.nodes = append(tg.nodes, fakenode.Start(fmt.Sprintf("n%d", i), tg.chain))
	}
	t.Cleanup(func() { // after the gateway's close (cleanups run last first)
		for _, n := range tg.nodes {
			n.Close()
		}
	})
	gw := runGateway(t, testConfig(tg.chain, tg.nodes, edit), nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := gw.Ready(ctx); err != nil {
		t.Fatal(err)
	}
	tg.gw, tg.url = gw, "http://"+gw.HTTPAddr()
	return tg
}

// runGateway builds and starts a gateway with cfg and log, closed when
// the test ends; one that cannot start within 30 s fails the test.
func runGateway(t *testing.T, cfg *config.Config, log *slog.Logger) *Gateway {
	t.Helper()
	gw, err := New(cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := gw.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = gw.Close(ctx)
	})
	return gw
}

// post sends body to path and returns the status, headers and body.
func (tg *testGateway) post(t *testing.T, path, body string, headers ...string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, tg.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

type rpcResp struct {
	ID     json.RawMessage `json:"id"`
	Result json.RawMessage `json:"result"`
	Error  *jsonrpc.Error  `json:"error"`
}

func decode(t *testing.T, body string) rpcResp {
	t.Helper()
	var r rpcResp
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		t.Fatalf("response %q: %v", body, err)
	}
	return r
}

func TestFrontDoor(t *testing.T) {
	tg := startGateway(t, 3, nil)
	for _, path := range []string{"/dev", "/1337", "/", "/dev/"} {
		status, h, body := tg.post(t, path, `{"jsonrpc":"2.0","id":1,"method":"eth_chainId"}`)
		if status != 200 || decode(t, body).Result == nil || string(decode(t, body).Result) != `"0x539"` {
			t.Fatalf("%s: %d %s", path, status, body)
		}
		if h.Get(RequestIDHeader) == "" {
			t.Fatal("no request id header")
		}
	}
	status, _, body := tg.post(t, "/nope", `{"jsonrpc":"2.0","id":1,"method":"eth_chainId"}`)
	if status != 404 || decode(t, body).Error == nil || !strings.Contains(body, "unknown chain") {
		t.Fatalf("unknown chain: %d %s", status, body)
	}
	// latest is rewritten to the agreed head (the fake node echoes the block it was asked).
	_, _, body = tg.post(t, "/dev", `{"jsonrpc":"2.0","id":2,"method":"eth_getBalance","params":["0x01","latest"]}`)
	if got := string(decode(t, body).Result); got != `"0x1f4"` {
		t.Fatalf("eth_getBalance latest went to the node as %s, want the agreed 0x1f4", got)
	}
	_, _, body = tg.post(t, "/dev", `{"jsonrpc":"2.0","id":3,"method":"eth_blockNumber"}`)
	if got := string(decode(t, body).Result); got != `"0x1f4"` {
		t.Fatalf("eth_blockNumber %s", got)
	}
}

func TestErrorsAndBatches(t *testing.T) {
	tg := startGateway(t, 2, func(c *config.Config) {
		c.Limits.MaxBatchItems = 5
		c.Limits.MaxBodyBytes = 4096
		c.Limits.MaxLogsBlockRange = 100
	})
	tests := []struct {
		name   string
		body   string
		status int
		want   string // substring of the body
	}{
		{"parse error", `{"jsonrpc":`, 200, `"code":-32700`},
		{"empty batch", `[]`, 200, `"code":-32600`},
		{"batch of invalid items", `[1,{"id":2}]`, 200, `[{"jsonrpc":"2.0","id":null,"error":{"code":-32600`},
		{"wrong version", `{"jsonrpc":"1.0","id":1,"method":"eth_chainId"}`, 200, `"code":-32600`},
		{"method not found", `{"jsonrpc":"2.0","id":1,"method":"admin_peers"}`, 200, `"code":-32601`},
		{"node's method not found", `{"jsonrpc":"2.0","id":1,"method":"eth_fooBar"}`, 200, `"code":-32601`},
		{"invalid params", `{"jsonrpc":"2.0","id":1,"method":"eth_getBalance","params":["0x1","someday"]}`, 200, `"code":-32602`},
		{"scalar params", `{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":7}`, 200, `"code":-32602`},
		{"batch too long", `[` + strings.Repeat(`{"jsonrpc":"2.0","id":1,"method":"eth_chainId"},`, 5) + `{"jsonrpc":"2.0","id":1,"method":"eth_chainId"}]`, 200, `"code":-32005`},
		{"body too large", `{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":["` + strings.Repeat("x", 5000) + `"]}`, 413, `"code":-32005`},
		{"deep nesting", strings.Repeat("[", 2000) + strings.Repeat("]", 2000), 200, `"code":-32`},
		{"wrong types", `{"jsonrpc":2,"id":[1],"method":{"a":1}}`, 200, `"code":-32600`},
		{"logs range", `{"jsonrpc":"2.0","id":1,"method":"eth_getLogs","params":[{"fromBlock":"0x0","toBlock":"0x1f4"}]}`, 200, `"code":-32602`},
		{"filter made", `{"jsonrpc":"2.0","id":1,"method":"eth_newFilter","params":[{}]}`, 200, `{"jsonrpc":"2.0","id":1,"result":"0x`},
		{"unknown filter", `{"jsonrpc":"2.0","id":1,"method":"eth_getFilterChanges","params":["0x1"]}`, 200, `{"jsonrpc":"2.0","id":1,"error":{"code":-32000,"message":"filter not found"}}`},
		{"filter range", `{"jsonrpc":"2.0","id":1,"method":"eth_newFilter","params":[{"fromBlock":"0x5","toBlock":"0x2"}]}`, 200, `"code":-32602,"message":"invalid block range params"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, _, body := tg.post(t, "/dev", tt.body)
			if status != tt.status || !strings.Contains(body, tt.want) {
				if len(body) > 300 {
					body = body[:300] + "..."
				}
				t.Fatalf("got %d %s; want %d containing %s", status, body, tt.status, tt.want)
			}
		})
	}

	// A batch is answered in order, notifications get no answer, invalid items their own error.
	status, _, body := tg.post(t, "/dev", `[
		{"jsonrpc":"2.0","id":"a","method":"eth_chainId"},
		{"jsonrpc":"2.0","method":"eth_gasPrice"},
		{"jsonrpc":"2.0","id":2,"method":"net_version"},
		42,
		{"jsonrpc":"2.0","id":3,"method":"eth_gasPrice"}]`)
	var rs []rpcResp
	if err := json.Unmarshal([]byte(body), &rs); err != nil || status != 200 {
		t.Fatalf("batch: %d %s", status, body)
	}
	ids := []string{`"a"`, `2`, `null`, `3`}
	if len(rs) != len(ids) {
		t.Fatalf("batch: %d answers, want %d: %s", len(rs), len(ids), body)
	}
	for i, r := range rs {
		if string(r.ID) != ids[i] {
			t.Fatalf("answer %d has id %s, want %s", i, r.ID, ids[i])
		}
	}
	if rs[2].Error == nil || rs[2].Error.Code != jsonrpc.CodeInvalidRequest || rs[3].Error != nil {
		t.Fatalf("batch item errors: %s", body)
	}
	// Only notifications: 204, empty body.
	status, _, body = tg.post(t, "/dev", `[{"jsonrpc":"2.0","method":"eth_gasPrice"},{"jsonrpc":"2.0","method":"eth_chainId"}]`)
	if status != 204 || body != "" {
		t.Fatalf("notification batch: %d %q", status, body)
	}
	status, _, body = tg.post(t, "/dev", `{"jsonrpc":"2.0","method":"eth_chainId"}`)
	if status != 204 || body != "" {
		t.Fatalf("notification: %d %q", status, body)
	}
}

func TestGzipAndCORS(t *testing.T) {
	tg := startGateway(t, 2, func(c *config.Config) {
		c.Limits.MaxBodyBytes = 1 << 16
		c.Server.CORS.AllowedOrigins = []string{"https://dapp.example"}
	})
	// A gzipped request, and a response big enough to be gzipped.
	batch := "[" + strings.TrimSuffix(strings.Repeat(`{"jsonrpc":"2.0","id":1,"method":"eth_gasPrice"},`, 60), ",") + "]"
	var zb bytes.Buffer
	zw := gzip.NewWriter(&zb)
	zw.Write([]byte(batch))
	zw.Close()
	req, _ := http.NewRequest("POST", tg.url+"/dev", &zb)
	req.Header.Set("Content-Encoding", "gzip")
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("response not gzipped: %v", resp.Header)
	}
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := io.ReadAll(zr)
	var rs []rpcResp
	if err := json.Unmarshal(plain, &rs); err != nil || len(rs) != 60 {
		t.Fatalf("gzipped batch: %v %d", err, len(rs))
	}
	// A gzip bomb: small on the wire, over the limit once inflated.
	zb.Reset()
	zw = gzip.NewWriter(&zb)
	zw.Write(bytes.Repeat([]byte(" "), 1<<20))
	zw.Close()
	req, _ = http.NewRequest("POST", tg.url+"/dev", &zb)
	req.Header.Set("Content-Encoding", "gzip")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 413 {
		t.Fatalf("gzip bomb: %d", resp.StatusCode)
	}

	// CORS preflight and actual request.
	req, _ = http.NewRequest("OPTIONS", tg.url+"/dev", nil)
	req.Header.Set("Origin", "https://dapp.example")
	req.Header.Set("Access-Control-Request-Method", "POST")
	req.Header.Set("Access-Control-Request-Headers", "content-type")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 204 || resp.Header.Get("Access-Control-Allow-Origin") != "https://dapp.example" ||
		!strings.Contains(resp.Header.Get("Access-Control-Allow-Methods"), "POST") {
		t.Fatalf("preflight: %d %v", resp.StatusCode, resp.Header)
	}
	_, h, _ := tg.post(t, "/dev", `{"jsonrpc":"2.0","id":1,"method":"eth_chainId"}`, "Origin", "https://evil.example")
	if h.Get("Access-Control-Allow-Origin") != "" {
		t.Fatal("CORS allowed an unlisted origin")
	}
	// A browser dApp may read the request ID and how the answer was established.
	_, h, _ = tg.post(t, "/dev", `{"jsonrpc":"2.0","id":1,"method":"eth_chainId"}`, "Origin", "https://dapp.example")
	exposed := map[string]bool{}
	for _, v := range strings.Split(h.Get("Access-Control-Expose-Headers"), ",") {
		exposed[http.CanonicalHeaderKey(strings.TrimSpace(v))] = true
	}
	if !exposed["X-Request-Id"] || !exposed["X-Rpcmesh-Verified"] {
		t.Fatalf("Access-Control-Expose-Headers %q: want X-Request-Id and X-Rpcmesh-Verified", h.Get("Access-Control-Expose-Headers"))
	}
}

func TestClientIdentityNotForwarded(t *testing.T) {
	tg := startGateway(t, 2, nil)
	for _, n := range tg.nodes {
		n.ResetCalls()
	}
	for i := 0; i < 10; i++ {
		tg.post(t, "/dev", `{"jsonrpc":"2.0","id":1,"method":"eth_gasPrice"}`,
			"Cookie", "session=secret", "Authorization", "Bearer secret", "X-Forwarded-For", "203.0.113.9",
			"X-Real-Ip", "203.0.113.9", "User-Agent", "MetaMask/secret", "Origin", "https://dapp.example", "Referer", "https://dapp.example/x")
	}
	seen := 0
	for _, n := range tg.nodes {
		for _, h := range n.Headers() {
			seen++
			for k, v := range h {
				joined := strings.Join(v, ",")
				if strings.Contains(joined, "secret") || strings.Contains(joined, "203.0.113.9") || strings.Contains(joined, "dapp.example") {
					t.Fatalf("client identity forwarded: %s: %s", k, joined)
				}
				switch k {
				case "Content-Type", "Accept", "User-Agent", "Content-Length", "Accept-Encoding":
				default:
					t.Fatalf("unexpected header forwarded: %s: %s", k, joined)
				}
			}
		}
	}
	if seen == 0 {
		t.Fatal("no request reached a provider")
	}
}

func TestConcurrencyLimitAndShutdownDrain(t *testing.T) {
	tg := startGateway(t, 2, func(c *config.Config) {
		c.Limits.MaxConcurrentRequests = 1
		c.Routing.Hedge = false
	})
	// The slow call holds the only slot for a second: that is the test.
	for _, n := range tg.nodes {
		n.SetFault(fakenode.Fault{Delay: time.Second, OnlyMethod: "eth_gasPrice"})
	}
	var wg sync.WaitGroup
	var slowStatus int
	var slowBody string
	wg.Add(1)
	go func() {
		defer wg.Done()
		slowStatus, _, slowBody = tg.post(t, "/dev", `{"jsonrpc":"2.0","id":1,"method":"eth_gasPrice"}`)
	}()
	testwait.For(t, 5*time.Second, "the slow call at a node", func() bool {
		return tg.nodes[0].Calls("eth_gasPrice")+tg.nodes[1].Calls("eth_gasPrice") > 0
	})
	status, h, body := tg.post(t, "/dev", `{"jsonrpc":"2.0","id":2,"method":"eth_chainId"}`)
	if status != 429 || h.Get("Retry-After") == "" || !strings.Contains(body, "-32005") {
		t.Fatalf("over the concurrency limit: %d %s", status, body)
	}
	// Close while the slow request is in flight: it completes.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := tg.gw.Close(ctx); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if slowStatus != 200 || decode(t, slowBody).Result == nil {
		t.Fatalf("in-flight request during shutdown: %d %s", slowStatus, slowBody)
	}
}

func TestSlowLoris(t *testing.T) {
	tg := startGateway(t, 1, func(c *config.Config) {
		c.Server.ReadHeaderTimeout = config.Duration(200 * time.Millisecond)
		c.Server.ReadTimeout = config.Duration(400 * time.Millisecond)
	})
	conn, err := net.Dial("tcp", tg.gw.HTTPAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /dev HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n")
	start := time.Now()
	conn.SetReadDeadline(time.Now().Add(3 * time.Second))
	buf := make([]byte, 512)
	for {
		if _, err := conn.Read(buf); err != nil {
			break // closed by the server
		}
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("slow client held the connection for %s", d)
	}
	// The gateway still serves others.
	if status, _, _ := tg.post(t, "/dev", `{"jsonrpc":"2.0","id":1,"method":"eth_chainId"}`); status != 200 {
		t.Fatalf("after slow-loris: %d", status)
	}
}

func TestBlockNumberNeverDecreasesWhileProvidersFlap(t *testing.T) {
	tg := startGateway(t, 4, nil)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // the chain grows; providers flap, lag and come back
		defer wg.Done()
		faults := []fakenode.Fault{{}, {Down: true}, {Lag: 5}, {Lag: 50}, {Hang: true}, {Status: 500}, {}}
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(15 * time.Millisecond):
			}
			if i%3 == 0 {
				tg.chain.SetHead(tg.chain.Head() + 1)
			}
			n := tg.nodes[rand.IntN(len(tg.nodes))]
			n.SetFault(faults[rand.IntN(len(faults))])
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	from := tg.chain.Head()
	var last uint64
	failed := 0
	// Calls, back to back, until the chain has grown 20 blocks under them
	// (faults changing all the while) and the gateway's head with it.
	for calls := 0; calls < 300 || tg.chain.Head() < from+20 || last <= from; calls++ {
		if ctx.Err() != nil {
			t.Fatalf("after %d calls the chain is at %d, the gateway's head at %d", calls, tg.chain.Head(), last)
		}
		_, _, body := tg.post(t, "/dev", `{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber"}`)
		r := decode(t, body)
		if r.Error != nil {
			failed++
			continue
		}
		var s string
		_ = json.Unmarshal(r.Result, &s)
		var n uint64
		fmt.Sscanf(s, "0x%x", &n)
		if n < last {
			t.Fatalf("eth_blockNumber went backwards: %d after %d", n, last)
		}
		last = n
	}
	close(stop)
	wg.Wait()
	if failed > 0 {
		t.Fatalf("%d eth_blockNumber calls failed", failed)
	}
}

func TestAdmin(t *testing.T) {
	tg := startGateway(t, 2, nil)
	tg.post(t, "/dev", `{"jsonrpc":"2.0","id":1,"method":"eth_gasPrice"}`)
	admin := "http://" + tg.gw.AdminAddr()
	get := func(path string) (int, string) {
		resp, err := http.Get(admin + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	status, body := get("/metrics")
	for _, want := range []string{"rpcmesh_calls_total", "rpcmesh_upstream_requests_total", "rpcmesh_chain_head{chain=\"dev\"} 500", "rpcmesh_provider_up", "rpcmesh_upstream_duration_seconds_bucket"} {
		if status != 200 || !strings.Contains(body, want) {
			t.Fatalf("/metrics lacks %s", want)
		}
	}
	if status, body := get("/healthz"); status != 200 || body != "ok\n" {
		t.Fatalf("/healthz %d %s", status, body)
	}
	if status, _ := get("/readyz"); status != 200 {
		t.Fatalf("/readyz %d", status)
	}
	status, body = get("/status")
	var st Status
	if err := json.Unmarshal([]byte(body), &st); err != nil || status != 200 {
		t.Fatalf("/status: %v %s", err, body)
	}
	if len(st.Chains) != 1 || st.Chains[0].Head == nil || st.Chains[0].Head.Number != 500 || len(st.Chains[0].Providers) != 2 ||
		st.Chains[0].Providers[0].State != "ok" || st.Chains[0].Providers[0].Labels["cloud"] != "aws" {
		t.Fatalf("/status: %s", body)
	}
}

// TestBatchResponseSizeLimit: a batch whose answers together pass
// limits.max_response_bytes gets the limit error for the answers past it,
// the earlier ones intact. (The limit also bounds each provider answer, so
// it must leave room for one block.)
func TestBatchResponseSizeLimit(t *testing.T) {
	tg := startGateway(t, 2, nil)
	one := `{"jsonrpc":"2.0","id":1,"method":"eth_getBlockByNumber","params":["0x10",false]}`
	_, _, out := tg.post(t, "/dev", one)
	size := int64(len(decode(t, out).Result))
	if size < 50 {
		t.Fatalf("block answer of %d bytes: %s", size, out)
	}
	limited := startGateway(t, 2, func(c *config.Config) { c.Limits.MaxResponseBytes = 2*size + size/2 })
	call := `{"jsonrpc":"2.0","id":%d,"method":"eth_getBlockByNumber","params":["0x10",false]}`
	body := "[" + fmt.Sprintf(call, 1) + "," + fmt.Sprintf(call, 2) + "," + fmt.Sprintf(call, 3) + "," + fmt.Sprintf(call, 4) + "]"
	status, _, out := limited.post(t, "/dev", body)
	var got []jsonrpc.Response
	if err := json.Unmarshal([]byte(out), &got); status != 200 || err != nil || len(got) != 4 {
		t.Fatalf("%d %v %s", status, err, out)
	}
	for i, r := range got {
		if wantLimited := i >= 2; wantLimited != (r.Error != nil && r.Error.Code == jsonrpc.CodeLimitExceeded) || !wantLimited && len(r.Result) == 0 {
			t.Fatalf("answer %d: %+v (limit %d bytes, %d each), want the first two whole and the rest -32005", i, r, 2*size+size/2, size)
		}
	}
}
