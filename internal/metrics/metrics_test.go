package metrics_test

import (
	"maps"
	"sync"
	"testing"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/jsonrpc"
	"github.com/rpcmesh/rpcmesh/internal/metrics"
	"github.com/rpcmesh/rpcmesh/internal/metrics/metricstest"
)

// TestAttempt: attempts are counted by chain, provider, bounded method and
// the outcome the caller gives; only answers (ok, rpc_error) add to the
// latency histogram.
func TestAttempt(t *testing.T) {
	m := metrics.New()
	m.Attempt("main", "a", "eth_call", 10*time.Millisecond, "ok")
	m.Attempt("main", "a", "eth_call", 20*time.Millisecond, "ok")
	m.Attempt("main", "a", "eth_call", 30*time.Millisecond, "rpc_error")
	m.Attempt("main", "a", "eth_call", time.Second, "timeout")
	m.Attempt("main", "b", "no_such_method", time.Millisecond, "stalled")
	fams := metricstest.Scrape(t, m)
	counts := map[string]float64{}
	for _, s := range fams["rpcmesh_upstream_requests_total"].GetMetric() {
		l := metricstest.Labels(s)
		counts[l["chain"]+" "+l["provider"]+" "+l["method"]+" "+l["outcome"]] = s.GetCounter().GetValue()
	}
	wantCounts := map[string]float64{
		"main a eth_call ok":        2,
		"main a eth_call rpc_error": 1,
		"main a eth_call timeout":   1,
		"main b other stalled":      1,
	}
	if !maps.Equal(counts, wantCounts) {
		t.Errorf("attempt counters %v, want %v", counts, wantCounts)
	}
	samples := map[string]uint64{}
	for _, s := range fams["rpcmesh_upstream_duration_seconds"].GetMetric() {
		l := metricstest.Labels(s)
		samples[l["chain"]+" "+l["provider"]+" "+l["method"]] = s.GetHistogram().GetSampleCount()
	}
	if want := map[string]uint64{"main a eth_call": 3}; !maps.Equal(samples, want) {
		t.Errorf("latency samples %v, want %v (answers only)", samples, want)
	}
}

// TestCall: calls are counted by outcome, ok or the error code, and each
// one's latency lands in its chain and method's histogram whatever the
// outcome; retries, hedges, HTTP statuses and the in-flight gauge count
// what they are given.
func TestCall(t *testing.T) {
	m := metrics.New()
	m.Call("main", "eth_getBalance", time.Millisecond, nil)
	m.Call("main", "eth_getBalance", time.Millisecond, &jsonrpc.Error{Code: -32000, Message: "x"})
	m.Call("main", "eth_getBalance", time.Millisecond, &jsonrpc.Error{Code: -32000, Message: "y"})
	m.Call("main", "made_up", time.Millisecond, nil)
	m.Retry("main", "eth_getBalance")
	m.Hedge("main", "made_up")
	m.HTTPRequest("main", 200)
	m.HTTPRequest("main", 413)
	m.HTTPRequest("main", 413)
	m.Inflight(1)
	m.Inflight(1)
	m.Inflight(-1)
	fams := metricstest.Scrape(t, m)
	checks := []struct {
		name, by string
		want     map[string]float64
	}{
		{"rpcmesh_calls_total", "outcome", map[string]float64{"ok": 2, "-32000": 2}},
		{"rpcmesh_calls_total", "method", map[string]float64{"eth_getBalance": 3, "other": 1}},
		{"rpcmesh_retries_total", "method", map[string]float64{"eth_getBalance": 1}},
		{"rpcmesh_hedges_total", "method", map[string]float64{"other": 1}},
		{"rpcmesh_http_requests_total", "code", map[string]float64{"200": 1, "413": 2}},
		{"rpcmesh_http_inflight_requests", "", map[string]float64{"": 1}},
	}
	for _, c := range checks {
		if got := fams.Sum(c.name, c.by, map[string]string{}); !maps.Equal(got, c.want) {
			t.Errorf("%s by %q = %v, want %v", c.name, c.by, got, c.want)
		}
	}
	count := map[string]uint64{}
	for _, s := range fams["rpcmesh_call_duration_seconds"].GetMetric() {
		count[metricstest.Labels(s)["method"]] = s.GetHistogram().GetSampleCount()
	}
	if want := map[string]uint64{"eth_getBalance": 3, "other": 1}; !maps.Equal(count, want) {
		t.Errorf("call latency samples %v, want %v (every outcome)", count, want)
	}
}

// TestCounterVec: a package's own counters (txwatch's) count by their
// label values, given in the order the family named its labels.
func TestCounterVec(t *testing.T) {
	m := metrics.New()
	c := m.NewCounterVec("rpcmesh_test_sends_total", "Test sends.", "chain", "provider", "outcome")
	c.Inc("main", "a", "accepted")
	c.Inc("main", "a", "accepted")
	c.Inc("main", "b", "rejected")
	got := metricstest.Scrape(t, m).Sum("rpcmesh_test_sends_total", "provider", map[string]string{"chain": "main"})
	if want := map[string]float64{"a": 2, "b": 1}; !maps.Equal(got, want) {
		t.Errorf("sends by provider %v, want %v", got, want)
	}
}

// TestConcurrentRecords: goroutines that record the same new series at
// once share one child: no count is lost to a child made twice.
func TestConcurrentRecords(t *testing.T) {
	m := metrics.New()
	const goroutines, each = 8, 500
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range each {
				m.Attempt("main", []string{"a", "b"}[(g+i)%2], "eth_call", time.Millisecond, "ok")
			}
		})
	}
	wg.Wait()
	got := metricstest.Scrape(t, m).Sum("rpcmesh_upstream_requests_total", "provider", nil)
	if want := map[string]float64{"a": goroutines * each / 2, "b": goroutines * each / 2}; !maps.Equal(got, want) {
		t.Errorf("attempts by provider %v, want %v", got, want)
	}
}
