package upstream

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/bench"
	"github.com/rpcmesh/rpcmesh/internal/config"
	"github.com/rpcmesh/rpcmesh/internal/upstream/transport"
)

// BenchmarkCallTransport compares calls over HTTP and over WebSocket to
// the trivial upstream (in the same process, so the time includes its
// side), many at once as in the gateway, each with a context of its own
// ending at the provider timeout, as routing's attempts have.
func BenchmarkCallTransport(b *testing.B) {
	up := bench.NewUpstream(bench.UpstreamOptions{})
	srv := httptest.NewServer(up)
	defer srv.Close()
	defer up.Close()
	// "http" is the hand-written client (transport/h1.go); "http-nethttp"
	// the same calls over net/http's Transport as it is built for https.
	for _, name := range []string{config.CallTransportHTTP, "http-nethttp", config.CallTransportWS} {
		b.Run(name, func(b *testing.B) {
			kind, rt := name, http.RoundTripper(nil)
			if name == "http-nethttp" {
				kind, rt = config.CallTransportHTTP, transport.DefaultHTTPTransport(256)
			}
			p := New(Options{Chain: "bench", ChainID: 1337, Health: testHealth(), Provider: config.Provider{
				Name: "b", HTTP: srv.URL, WS: "ws" + strings.TrimPrefix(srv.URL, "http"), MaxConcurrency: 256,
				CallTransport: kind, WSConns: 2,
			}, Transport: rt})
			defer p.Close()
			b.SetParallelism(16)
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
					_, err := p.Call(ctx, "eth_chainId", nil)
					cancel()
					if err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
