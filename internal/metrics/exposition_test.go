package metrics_test

import (
	"bytes"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/rpcmesh/rpcmesh/internal/jsonrpc"
	"github.com/rpcmesh/rpcmesh/internal/metrics"
	"github.com/rpcmesh/rpcmesh/internal/metrics/metricstest"
)

// hostile is a provider name an admin could add at run time: quotes,
// backslashes, a line feed, braces, a comma and an equals sign must all
// come back intact, and break neither the line nor the series after it.
const hostile = "ev\"il\\\" } ,x=\"1\"\nrpcmesh_fake 1\\"

// TestExposition parses a whole scrape, served as the admin listener
// serves it, with Prometheus' own text parser: every family the gateway
// makes is there with its TYPE, a hostile provider name comes back as it
// was given, histograms have their buckets, and the series lines keep the
// label order (by name) that dashboards and greps were written against.
func TestExposition(t *testing.T) {
	m := metrics.New()
	m.Call("main", "eth_call", 3*time.Millisecond, nil)
	m.Call("main", "eth_call", 40*time.Millisecond, &jsonrpc.Error{Code: 3, Message: "execution reverted"})
	m.Attempt("main", hostile, "eth_call", 3*time.Millisecond, "ok")
	m.Attempt("main", "a", "eth_call", 3*time.Millisecond, "timeout")
	m.Retry("main", "eth_call")
	m.Hedge("main", "eth_call")
	m.HTTPRequest("main", 200)
	m.Inflight(1)
	m.Privacy("main", "sticky")
	v := metrics.NewVerify(m)
	v.Answered("main", "eth_getBalance", "proof")
	v.Rejected("main", hostile, "eth_getBalance", "proof")
	w := metrics.NewWS(m)
	w.ConnAccepted("main")
	w.ConnRejected("main", "origin")
	w.ConnClosed("main", 1000)
	w.SlowReader("main")
	w.Subscriptions("main", "newHeads", 1)
	m.NewCounterVec("rpcmesh_tx_sends_total", "Sends, with a help text a \\ and a line\nfeed must not break.", "chain", "provider", "outcome").Inc("main", hostile, "accepted")
	m.WatchState(func() []metrics.ChainState {
		return []metrics.ChainState{{Chain: "main", Head: 21_000_001, Providers: []metrics.ProviderState{
			{Provider: hostile, Operator: "op", Cloud: "aws", Tier: "own", State: "up", Usable: true,
				WS: &metrics.WSState{Live: 1}, Coalesce: &metrics.CoalesceState{Batches: 1, Calls: 2}},
		}}}
	})

	rec := httptest.NewRecorder()
	metricstest.Scrape(t, m) // turns # TYPE lines on, as the gateway's main does
	m.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if ct := rec.Header().Get("Content-Type"); ct != "text/plain; version=0.0.4; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	text := rec.Body.Bytes()
	fams := metricstest.Parse(t, text)

	counter, gauge, histogram := dto.MetricType_COUNTER, dto.MetricType_GAUGE, dto.MetricType_HISTOGRAM
	want := map[string]dto.MetricType{
		"rpcmesh_calls_total": counter, "rpcmesh_call_duration_seconds": histogram,
		"rpcmesh_upstream_requests_total": counter, "rpcmesh_upstream_duration_seconds": histogram,
		"rpcmesh_retries_total": counter, "rpcmesh_hedges_total": counter,
		"rpcmesh_http_requests_total": counter, "rpcmesh_http_inflight_requests": gauge,
		"rpcmesh_privacy_routes_total":   counter,
		"rpcmesh_verified_answers_total": counter, "rpcmesh_verify_rejected_total": counter,
		"rpcmesh_ws_connections_open": gauge, "rpcmesh_ws_connections_accepted_total": counter,
		"rpcmesh_ws_connections_rejected_total": counter, "rpcmesh_ws_disconnects_total": counter,
		"rpcmesh_ws_slow_reader_disconnects_total": counter, "rpcmesh_ws_subscriptions_active": gauge,
		"rpcmesh_tx_sends_total": counter,
		"rpcmesh_chain_head":     gauge, "rpcmesh_chain_finalized": gauge, "rpcmesh_chain_reorgs_total": counter,
		"rpcmesh_chain_filters": gauge, "rpcmesh_chain_ready": gauge, "rpcmesh_chain_head_degraded": gauge,
		"rpcmesh_chain_head_operators": gauge, "rpcmesh_chain_reporting_operators": gauge,
		"rpcmesh_chain_block_time_seconds": gauge, "rpcmesh_chain_head_age_seconds": gauge,
		"rpcmesh_provider_up": gauge, "rpcmesh_provider_breaker_open": gauge, "rpcmesh_provider_degraded": gauge,
		"rpcmesh_provider_score": gauge, "rpcmesh_provider_lag_blocks": gauge, "rpcmesh_provider_head": gauge,
		"rpcmesh_provider_latency_ewma_seconds": gauge, "rpcmesh_provider_error_rate": gauge,
		"rpcmesh_provider_operator_share": gauge, "rpcmesh_provider_penalty": gauge,
		"rpcmesh_provider_ws_connections": gauge, "rpcmesh_provider_ws_connection_failures_total": counter,
		"rpcmesh_provider_coalesced_batches_total": counter, "rpcmesh_provider_coalesced_calls_total": counter,
		"rpcmesh_provider_state": gauge,
		// The Go runtime's and the process's, as before.
		"go_goroutines": gauge, "go_memstats_mallocs_total": counter, "go_gc_duration_seconds": dto.MetricType_SUMMARY,
		"process_cpu_seconds_total": counter, "process_resident_memory_bytes": gauge, "process_open_fds": gauge,
		"process_start_time_seconds": gauge,
	}
	for name, typ := range want {
		f, ok := fams[name]
		if !ok {
			t.Errorf("family %s missing", name)
			continue
		}
		if f.GetType() != typ {
			t.Errorf("family %s has TYPE %v, want %v", name, f.GetType(), typ)
		}
		// Every family of the gateway's says what it is.
		if strings.HasPrefix(name, "rpcmesh_") && len(f.GetHelp()) < 10 {
			t.Errorf("family %s has HELP %q, want its meaning", name, f.GetHelp())
		}
	}
	if got, want := fams["rpcmesh_tx_sends_total"].GetHelp(), "Sends, with a help text a \\ and a line\nfeed must not break."; got != want {
		t.Errorf("HELP of rpcmesh_tx_sends_total %q, want %q", got, want)
	}
	if got, want := fams["rpcmesh_calls_total"].GetHelp(), "JSON-RPC calls answered, by chain, method and outcome (ok or the error code)."; got != want {
		t.Errorf("HELP of rpcmesh_calls_total %q, want %q", got, want)
	}
	if _, ok := fams["rpcmesh_fake"]; ok {
		t.Error("a provider name's line feed started a series of its own")
	}

	// The hostile name comes back intact wherever a provider is a label.
	for _, name := range []string{"rpcmesh_upstream_requests_total", "rpcmesh_upstream_duration_seconds", "rpcmesh_verify_rejected_total",
		"rpcmesh_tx_sends_total", "rpcmesh_provider_up", "rpcmesh_provider_state", "rpcmesh_provider_ws_connections"} {
		if _, ok := fams.Sum(name, "provider", nil)[hostile]; !ok {
			t.Errorf("%s: no series has the hostile provider name %q", name, hostile)
		}
	}

	// A histogram: its buckets' bounds, cumulative counts, sum and count.
	var call *dto.Histogram
	for _, s := range fams["rpcmesh_call_duration_seconds"].GetMetric() {
		if l := metricstest.Labels(s); l["chain"] == "main" && l["method"] == "eth_call" {
			call = s.GetHistogram()
		}
	}
	bounds := []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, math.Inf(1)}
	if call == nil || len(call.GetBucket()) != len(bounds) {
		t.Fatalf("rpcmesh_call_duration_seconds{eth_call}: %v, want %d buckets (+Inf included)", call, len(bounds))
	}
	for i, b := range call.GetBucket() {
		var n uint64 // observations of 3 ms and 40 ms
		if bounds[i] >= 0.003 {
			n++
		}
		if bounds[i] >= 0.040 {
			n++
		}
		if b.GetUpperBound() != bounds[i] || b.GetCumulativeCount() != n {
			t.Errorf("bucket %d: le=%g count %d, want le=%g count %d", i, b.GetUpperBound(), b.GetCumulativeCount(), bounds[i], n)
		}
	}
	if call.GetSampleCount() != 2 || call.GetSampleSum() < 0.042 || call.GetSampleSum() > 0.0431 {
		t.Errorf("count %d sum %g, want 2 and 0.043", call.GetSampleCount(), call.GetSampleSum())
	}

	// The lines as dashboards and greps know them: labels by name, and
	// large numbers as client_golang wrote them.
	for _, line := range []string{
		`rpcmesh_calls_total{chain="main",method="eth_call",outcome="3"} 1`,
		`rpcmesh_upstream_requests_total{chain="main",method="eth_call",outcome="timeout",provider="a"} 1`,
		`rpcmesh_call_duration_seconds_bucket{chain="main",method="eth_call",le="0.005"} 1`,
		`rpcmesh_call_duration_seconds_bucket{chain="main",method="eth_call",le="+Inf"} 2`,
		`rpcmesh_provider_state{chain="main",cloud="aws",operator="op",provider=` + `"ev\"il\\\" } ,x=\"1\"\nrpcmesh_fake 1\\"` + `,state="up",tier="own"} 1`,
		`rpcmesh_chain_head{chain="main"} 2.1000001e+07`,
	} {
		if !bytes.Contains(text, []byte("\n"+line+"\n")) {
			t.Errorf("no line %s in\n%s", line, text)
		}
	}
	if strings.Contains(string(text), "\r") {
		t.Error("carriage return in the exposition")
	}
}

// FuzzLabelValue: any label value (a provider's name is outside input)
// comes back from Prometheus' parser as given, invalid UTF-8 as U+FFFD,
// and never breaks the exposition. Run: go test -fuzz FuzzLabelValue
// ./internal/metrics/
func FuzzLabelValue(f *testing.F) {
	for _, s := range []string{hostile, "", "plain", "\r", "\x00", "\xff\xfe", `a\`, `\"`, "{}", "é,=\"\n\t"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m := metrics.New()
		m.NewCounterVec("rpcmesh_fuzz_total", "Fuzzed.", "provider").Inc(s)
		got := metricstest.Scrape(t, m).Sum("rpcmesh_fuzz_total", "provider", nil)
		if want := string([]rune(s)); len(got) != 1 || got[want] != 1 {
			t.Errorf("label value %q came back as %v, want %q", s, got, want)
		}
	})
}
