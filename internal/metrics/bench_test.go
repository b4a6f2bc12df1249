package metrics

import (
	"testing"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/jsonrpc"
)

// BenchmarkRecord measures what the request path pays per record, by
// method of Metrics, with the label values already seen (the steady state:
// children cached). "request" is what one answered HTTP call records.
func BenchmarkRecord(b *testing.B) {
	m := New()
	rpcErr := &jsonrpc.Error{Code: -32000, Message: "execution reverted"}
	cases := []struct {
		name   string
		record func()
	}{
		{"call", func() { m.Call("main", "eth_call", time.Millisecond, nil) }},
		{"call_error", func() { m.Call("main", "eth_call", time.Millisecond, rpcErr) }},
		{"attempt", func() { m.Attempt("main", "provider-a", "eth_call", time.Millisecond, "ok") }},
		{"http", func() { m.HTTPRequest("main", 200) }},
		{"inflight", func() { m.Inflight(1) }},
		{"retry", func() { m.Retry("main", "eth_call") }},
		{"privacy", func() { m.Privacy("main", "sticky") }},
		{"request", func() {
			m.Inflight(1)
			m.Attempt("main", "provider-a", "eth_getBalance", time.Millisecond, "ok")
			m.Call("main", "eth_getBalance", time.Millisecond, nil)
			m.HTTPRequest("main", 200)
			m.Inflight(-1)
		}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				c.record()
			}
		})
	}
	b.Run("request_parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				m.Attempt("main", "provider-a", "eth_getBalance", time.Millisecond, "ok")
				m.Call("main", "eth_getBalance", time.Millisecond, nil)
				m.HTTPRequest("main", 200)
			}
		})
	})
}
