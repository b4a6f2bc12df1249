package server

import (
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/metrics/metricstest"
)

// TestAdminMetricsFormat: GET /metrics on the admin listener answers in
// the Prometheus text format (its Content-Type), and the whole scrape of a
// gateway that served a call parses with Prometheus' own parser, the call
// counted and the chain's head read at scrape time.
func TestAdminMetricsFormat(t *testing.T) {
	tg := startGateway(t, 2, nil)
	tg.post(t, "/dev", `{"jsonrpc":"2.0","id":1,"method":"eth_gasPrice"}`)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+tg.gw.AdminAddr()+"/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %d %v", resp.StatusCode, err)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/plain; version=0.0.4; charset=utf-8" {
		t.Errorf("Content-Type %q, want the Prometheus text format's", ct)
	}
	fams := metricstest.Parse(t, body)
	if got := fams.Sum("rpcmesh_calls_total", "method", map[string]string{"chain": "dev", "outcome": "ok"}); got["eth_gasPrice"] != 1 {
		t.Errorf("rpcmesh_calls_total by method %v, want eth_gasPrice 1", got)
	}
	if got := fams.Sum("rpcmesh_chain_head", "chain", nil); got["dev"] != 500 {
		t.Errorf("rpcmesh_chain_head %v, want dev 500", got)
	}
}
