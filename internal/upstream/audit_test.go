package upstream

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/config"
)

// Audit calls count in the provider's availability, not in Requests (the
// clients' traffic).
func TestAuditCallNotClientTraffic(t *testing.T) {
	var status atomic.Int64
	status.Store(http.StatusOK)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(int(status.Load()))
		_, _ = w.Write([]byte(`{"jsonrpc":"2.0","id":1,"result":"0x1"}`))
	}))
	defer srv.Close()
	pc := config.DefaultProvider()
	pc.Name, pc.HTTP = "p", srv.URL
	p := New(Options{Chain: "c", ChainID: 1, Provider: pc, Health: config.Default().Health})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if res, err := p.AuditCall(ctx, "eth_blockNumber", nil); err != nil || string(res) != `"0x1"` {
		t.Fatalf("%s %v", res, err)
	}
	status.Store(http.StatusServiceUnavailable)
	if _, err := p.AuditCall(ctx, "eth_blockNumber", nil); err == nil {
		t.Fatal("a 503 answered")
	}
	s := p.Snapshot(time.Now())
	if s.Requests != 0 || s.Failures != 1 || s.ErrorRate <= 0 || s.LatencyEWMA <= 0 {
		t.Fatalf("requests %d failures %d error rate %v latency %v", s.Requests, s.Failures, s.ErrorRate, s.LatencyEWMA)
	}
}
