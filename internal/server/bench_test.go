package server

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/rpcmesh/rpcmesh/internal/bench"
	"github.com/rpcmesh/rpcmesh/internal/config"
)

// BenchmarkGatewayCall measures the whole hot path of one read: the public
// listener's handler (in process, no socket), decode, pipeline, routing, the upstream HTTP call to a trivial
// loopback node, and encoding. Run: go test -bench Gateway -benchmem ./internal/server
func BenchmarkGatewayCall(b *testing.B) {
	node := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		body := make([]byte, 512)
		n, _ := r.Body.Read(body)
		// The answer carries the call's id (the provider checks it).
		_, rest, _ := bytes.Cut(body[:n], []byte(`"id":`))
		id, _, _ := bytes.Cut(rest, []byte(","))
		w.Write([]byte(`{"jsonrpc":"2.0","id":`))
		w.Write(id)
		switch {
		case strings.Contains(string(body[:n]), "eth_chainId"):
			w.Write([]byte(`,"result":"0x539"}`))
		case strings.Contains(string(body[:n]), "eth_getBlockByNumber"):
			w.Write([]byte(`,"result":{"number":"0x10","hash":"0xaa","parentHash":"0xbb"}}`))
		default:
			w.Write([]byte(`,"result":"0x1bc16d674ec80000"}`))
		}
	}))
	b.Cleanup(node.Close)
	gw := benchGateway(b, node.URL)
	body := `{"jsonrpc":"2.0","id":1,"method":"eth_getBalance","params":["0x407d73d8a49eeb85d32cf465507dd71d507100c1","latest"]}`
	b.ReportAllocs()
	for b.Loop() {
		if status, out := serveInProcess(gw, body); status != 200 || !bytes.Contains(out, []byte("result")) {
			b.Fatalf("%d %s", status, out)
		}
	}
}

// startBenchGateway starts a gateway with two providers in front of the
// trivial upstream of internal/bench (which answers batches too).
func startBenchGateway(b *testing.B) *Gateway {
	up, err := bench.StartUpstream("127.0.0.1:0", bench.UpstreamOptions{ChainID: 1337})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { up.Close() })
	return benchGateway(b, up.URL)
}

// benchGateway starts a gateway with two providers (of two operators) at
// upstream; it is closed when the benchmark ends.
func benchGateway(b *testing.B, upstream string) *Gateway {
	cfg := config.Default()
	cfg.Server.Listen, cfg.Admin.Listen = "127.0.0.1:0", ""
	ch := config.DefaultChain()
	ch.Name, ch.ChainID = "dev", 1337
	for _, name := range []string{"a", "b"} {
		p := config.DefaultProvider()
		p.Name, p.HTTP = name, upstream
		p.Labels.Operator = name
		ch.Providers = append(ch.Providers, p)
	}
	cfg.Chains = []config.Chain{ch}
	// The proxying path: a fake node's answers cannot be verified, and
	// verification has its own benchmarks (internal/pipeline/verification).
	cfg.Verify.Enabled = false
	cfg.Complete()
	gw, err := New(cfg, nil)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := gw.Start(ctx); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { gw.Close(context.Background()) })
	if err := gw.Ready(ctx); err != nil {
		b.Fatal(err)
	}
	return gw
}

func balanceCall(id int) string {
	return fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"eth_getBalance","params":["0x%040x","latest"]}`, id, id)
}

// BenchmarkGatewayCallParallel is BenchmarkGatewayCall with concurrent
// clients (GOMAXPROCS goroutines), the trivial upstream as the node:
// throughput and allocations of the whole path under load.
func BenchmarkGatewayCallParallel(b *testing.B) {
	gw := startBenchGateway(b)
	body := balanceCall(1)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if status, out := serveInProcess(gw, body); status != 200 || !bytes.Contains(out, []byte("result")) {
				b.Errorf("%d %s", status, out)
				return
			}
		}
	})
}

// BenchmarkGatewayBatch10 measures a batch of ten eth_getBalance calls
// (distinct addresses) through the whole path: per op is per batch.
func BenchmarkGatewayBatch10(b *testing.B) {
	gw := startBenchGateway(b)
	items := make([]string, 10)
	for i := range items {
		items[i] = balanceCall(i + 1)
	}
	body := "[" + strings.Join(items, ",") + "]"
	b.ReportAllocs()
	for b.Loop() {
		if status, out := serveInProcess(gw, body); status != 200 || bytes.Count(out, []byte(`"result"`)) != 10 {
			b.Fatalf("%d %s", status, out)
		}
	}
}

// BenchmarkPublicListenerCall is BenchmarkGatewayCall through the public
// listener over loopback (fasthttp's server, its socket I/O included), the
// trivial upstream as the node; the client's side is in the figures too.
func BenchmarkPublicListenerCall(b *testing.B) {
	benchPublicListener(b, balanceCall(1), 1)
}

// BenchmarkPublicListenerBatch10 is BenchmarkGatewayBatch10 through the
// public listener over loopback: per op is per batch.
func BenchmarkPublicListenerBatch10(b *testing.B) {
	items := make([]string, 10)
	for i := range items {
		items[i] = balanceCall(i + 1)
	}
	benchPublicListener(b, "["+strings.Join(items, ",")+"]", 10)
}

func benchPublicListener(b *testing.B, body string, results int) {
	gw := startBenchGateway(b)
	url := "http://" + gw.HTTPAddr() + "/dev"
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
	b.Cleanup(client.CloseIdleConnections)
	b.ReportAllocs()
	for b.Loop() {
		resp, err := client.Post(url, "application/json", strings.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		out, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 || bytes.Count(out, []byte(`"result"`)) != results {
			b.Fatalf("%d %s %v", resp.StatusCode, out, err)
		}
	}
}

// serveInProcess has the public listener's handler answer a JSON-RPC POST
// of body to /dev without a socket, and returns the status and body.
func serveInProcess(gw *Gateway, body string) (int, []byte) {
	var req fasthttp.Request
	req.Header.SetMethod(http.MethodPost)
	req.SetRequestURI("/dev")
	req.Header.SetContentType("application/json")
	req.SetBodyString(body)
	var ctx fasthttp.RequestCtx
	ctx.Init(&req, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1}, nil)
	gw.serveFast(&ctx)
	return ctx.Response.StatusCode(), ctx.Response.Body()
}
