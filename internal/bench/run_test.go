package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/cmdtest"
)

// countingHandler counts the HTTP requests that reach h.
type countingHandler struct {
	n atomic.Int64
	h http.Handler
}

func (c *countingHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.n.Add(1)
	c.h.ServeHTTP(w, r)
}

func TestRunCountsRequests(t *testing.T) {
	up := NewUpstream(UpstreamOptions{})
	t.Cleanup(func() { _ = up.Close() })
	counter := &countingHandler{h: up}
	srv := httptest.NewServer(counter)
	t.Cleanup(srv.Close)
	ws := "ws" + strings.TrimPrefix(srv.URL, "http")

	for _, c := range []struct {
		name  string
		url   string
		batch int
		rate  float64
	}{
		{"http single", srv.URL, 0, 0},
		{"http batch", srv.URL, 5, 0},
		{"ws single", ws, 0, 0},
		{"ws batch", ws, 10, 0},
		{"http rate", srv.URL, 0, 2000},
		{"ws rate batch", ws, 3, 2000},
	} {
		t.Run(c.name, func(t *testing.T) {
			counter.n.Store(0)
			const requests = 60
			rep, err := Run(context.Background(), Options{
				Targets:     []Target{{Name: "up", URL: c.url}},
				Mix:         mustMix(t, "eth_getBalance=2,eth_blockNumber=1,eth_getBlockByNumber=1", true),
				Concurrency: 4,
				Duration:    20 * time.Second, // the request bound ends the run
				Requests:    requests,
				Batch:       c.batch,
				Rate:        c.rate,
			})
			if err != nil {
				t.Fatal(err)
			}
			tr := rep.Targets[0]
			calls := int64(requests * max(c.batch, 1))
			if tr.Requests != requests || tr.OKRequests != requests || tr.Calls != calls || tr.OKCalls != calls {
				t.Fatalf("requests %d ok %d calls %d ok %d, want %d requests of %d calls, all ok; errors %v",
					tr.Requests, tr.OKRequests, tr.Calls, tr.OKCalls, requests, calls, tr.ErrorSamples)
			}
			if len(tr.Errors) != 0 || tr.Latency.Count != requests {
				t.Fatalf("errors %v, latency count %d", tr.Errors, tr.Latency.Count)
			}
			if tr.Connections < 1 || tr.Connections > 4 { // kept alive: one per worker at most
				t.Fatalf("%d connections for 4 workers", tr.Connections)
			}
			if !strings.HasPrefix(c.url, "ws") {
				if got := counter.n.Load(); got != requests {
					t.Fatalf("upstream saw %d HTTP requests, want %d", got, requests)
				}
			}
		})
	}
}

func mustMix(t *testing.T, spec string, distinct bool) *Mix {
	t.Helper()
	entries, err := ParseMixFlag(spec)
	if err != nil {
		t.Fatal(err)
	}
	m, err := NewMix(entries, nil, distinct)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestRunDurationBound(t *testing.T) {
	// Each request takes at least 20 ms, so in 200 ms two workers can start
	// at most 2 × 11 requests, however fast the machine (the upper bound is
	// what is tested; a slow machine may start fewer).
	s := newTestUpstream(t, UpstreamOptions{Latency: 20 * time.Millisecond})
	for _, url := range []string{s.URL, s.WSURL} {
		rep, err := Run(context.Background(), Options{
			Targets:     []Target{{Name: "slow", URL: url}},
			Mix:         SingleMethod("eth_chainId"),
			Concurrency: 2,
			Duration:    200 * time.Millisecond,
		})
		if err != nil {
			t.Fatal(err)
		}
		if r := rep.Targets[0]; r.Requests > 22 || r.Latency.Count != r.Requests {
			t.Fatalf("%s: %d requests (%d timed) in 200ms at >=20ms each with 2 workers, want at most 22", url, r.Requests, r.Latency.Count)
		}
	}
}

func TestRunRate(t *testing.T) {
	fast := newTestUpstream(t, UpstreamOptions{})
	slow := newTestUpstream(t, UpstreamOptions{Latency: 50 * time.Millisecond})
	for _, c := range []struct {
		name        string
		url         string
		rate        float64
		duration    time.Duration
		requests    int64
		concurrency int
		check       func(TargetReport) bool
		want        string
	}{
		// The schedule, not the machine, sets the count: k/rate < duration.
		{name: "rate sets count", url: fast.URL, rate: 400, duration: 250 * time.Millisecond, concurrency: 8,
			check: func(r TargetReport) bool { return r.Requests+r.Unsent == 100 && r.Requests >= 1 },
			want:  "100 scheduled, some sent"},
		{name: "requests bound", url: fast.URL, rate: 400, duration: 250 * time.Millisecond, requests: 30, concurrency: 8,
			check: func(r TargetReport) bool { return r.Requests == 30 && r.Unsent == 0 }, want: "30 sent"},
		// One worker on a 50 ms target cannot keep 100/s: the rest is unsent
		// and what was sent is late, with latency from the schedule.
		{name: "rate not kept", url: slow.URL, rate: 100, duration: 300 * time.Millisecond, concurrency: 1,
			check: func(r TargetReport) bool {
				return r.Requests+r.Unsent == 30 && r.Requests <= 7 && r.Unsent >= 23 && r.Late >= r.Requests-1 && r.Latency.Max >= 50
			}, want: "30 scheduled, at most 7 sent, late"},
	} {
		t.Run(c.name, func(t *testing.T) {
			rep, err := Run(context.Background(), Options{
				Targets:     []Target{{Name: "t", URL: c.url}},
				Mix:         SingleMethod("eth_blockNumber"),
				Rate:        c.rate,
				Duration:    c.duration,
				Requests:    c.requests,
				Concurrency: c.concurrency,
			})
			if err != nil {
				t.Fatal(err)
			}
			r := rep.Targets[0]
			if !c.check(r) {
				t.Fatalf("requests %d unsent %d late %d max %.1fms; want %s", r.Requests, r.Unsent, r.Late, r.Latency.Max, c.want)
			}
		})
	}
}

// errorHandler answers by the call's id: id%5 == 0 → 429, 1 → 500,
// 2 → a JSON-RPC error, 3 → garbage, 4 → a result.
func errorHandler(t *testing.T) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct{ ID uint64 }
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			t.Errorf("bad request: %v", err)
			return
		}
		switch req.ID % 5 {
		case 0:
			http.Error(w, "slow down", http.StatusTooManyRequests)
		case 1:
			http.Error(w, "oops", http.StatusInternalServerError)
		case 2:
			_, _ = w.Write(appendError(nil, []byte(jsonUint(req.ID)), -32005, "limit exceeded"))
		case 3:
			_, _ = w.Write([]byte("<html>gateway</html>"))
		default:
			_, _ = w.Write(appendResult(nil, []byte(jsonUint(req.ID)), []byte(`"0x1"`)))
		}
	})
}

func jsonUint(n uint64) string { b, _ := json.Marshal(n); return string(b) }

func TestRunClassifiesErrors(t *testing.T) {
	errSrv := httptest.NewServer(errorHandler(t))
	defer errSrv.Close()
	hang := make(chan struct{})
	hangSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-hang:
		}
	}))
	defer hangSrv.Close()
	defer close(hang)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := "http://" + ln.Addr().String()
	ln.Close()
	notFound := httptest.NewServer(http.NotFoundHandler())
	defer notFound.Close()
	slowWS := newTestUpstream(t, UpstreamOptions{Latency: 5 * time.Second})

	// Only the cases that must time out get a short timeout, so a slow
	// machine cannot turn an answer into a timeout.
	const short, long = 100 * time.Millisecond, 20 * time.Second
	for _, c := range []struct {
		name     string
		url      string
		timeout  time.Duration
		requests int64
		want     map[string]int64
		ok       int64
	}{
		{"http and rpc errors", errSrv.URL, long, 50, map[string]int64{
			"http 429": 10, "http 500": 10, "rpc -32005": 10, kindBadJSON: 10}, 10},
		{"refused", refused, long, 3, map[string]int64{kindRefused: 3}, 0},
		{"timeout", hangSrv.URL, short, 2, map[string]int64{kindTimeout: 2}, 0},
		{"ws timeout", "ws" + strings.TrimPrefix(hangSrv.URL, "http"), short, 2, map[string]int64{kindTimeout: 2}, 0},
		{"ws slow answer", slowWS.WSURL, short, 2, map[string]int64{kindTimeout: 2}, 0},
		{"ws handshake", "ws" + strings.TrimPrefix(notFound.URL, "http"), long, 2, map[string]int64{kindHandshake: 2}, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			rep, err := Run(context.Background(), Options{
				Targets:     []Target{{Name: "t", URL: c.url}},
				Mix:         SingleMethod("eth_blockNumber"),
				Concurrency: 2,
				Duration:    20 * time.Second,
				Requests:    c.requests,
				Timeout:     c.timeout,
			})
			if err != nil {
				t.Fatal(err)
			}
			r := rep.Targets[0]
			if !reflect.DeepEqual(r.Errors, c.want) || r.OKCalls != c.ok || r.Requests != c.requests {
				t.Fatalf("errors %v ok %d requests %d, want %v ok %d requests %d (samples %v)",
					r.Errors, r.OKCalls, r.Requests, c.want, c.ok, c.requests, r.ErrorSamples)
			}
			for kind := range c.want {
				if r.ErrorSamples[kind] == "" {
					t.Errorf("no sample for %s", kind)
				}
			}
		})
	}
}

func TestRunTwoTargetsReport(t *testing.T) {
	direct := newTestUpstream(t, UpstreamOptions{})
	slow := newTestUpstream(t, UpstreamOptions{Latency: 5 * time.Millisecond})
	rep, err := Run(context.Background(), Options{
		Targets:     []Target{{Name: "direct", URL: direct.URL}, {Name: "slow", URL: slow.WSURL}},
		Mix:         SingleMethod("eth_getBalance"),
		Concurrency: 2,
		Duration:    20 * time.Second,
		Requests:    41,
		Rounds:      2,
		Warmup:      20 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := rep.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var got Report
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatalf("report JSON: %v\n%s", err, buf.Bytes())
	}
	if len(got.Targets) != 2 || got.Targets[0].Requests != 41 || got.Targets[1].Requests != 41 {
		t.Fatalf("targets %+v, want 2 of 41 requests (over 2 rounds)", got.Targets)
	}
	if len(got.Ratios) != 1 {
		t.Fatalf("ratios %+v, want one", got.Ratios)
	}
	x, d, s := got.Ratios[0], got.Targets[0], got.Targets[1]
	if x.Target != "slow" || x.Baseline != "direct" || x.Throughput <= 0 ||
		x.Throughput < round3(s.OKCallsPerSec/d.OKCallsPerSec)-0.002 || x.Throughput > round3(s.OKCallsPerSec/d.OKCallsPerSec)+0.002 {
		t.Fatalf("ratio %+v does not match targets %+v / %+v", x, s, d)
	}
	if s.Latency.P50 < 5 { // the slow target sleeps 5 ms per request
		t.Fatalf("slow p50 %.3fms, under its 5ms latency", s.Latency.P50)
	}
	if got.Settings.Rounds != 2 || got.Settings.Mode != "concurrency" || got.Settings.Mix[0].Method != "eth_getBalance" {
		t.Fatalf("settings %+v", got.Settings)
	}
	buf.Reset()
	if err := rep.WriteText(&buf); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"direct", "slow", "p99.9 ms", "ratios to direct"} {
		if !strings.Contains(buf.String(), want) {
			t.Fatalf("text report lacks %q:\n%s", want, buf.String())
		}
	}
}

func TestRunStopsOnCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	up := NewUpstream(UpstreamOptions{})
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 20 {
			cancel()
		}
		up.ServeHTTP(w, r)
	}))
	defer srv.Close()
	rep, err := Run(ctx, Options{
		Targets:     []Target{{Name: "a", URL: srv.URL}, {Name: "b", URL: srv.URL}},
		Mix:         SingleMethod("eth_chainId"),
		Concurrency: 2,
		Duration:    time.Hour,
	})
	if err != context.Canceled {
		t.Fatalf("error %v, want context.Canceled", err)
	}
	if rep == nil || rep.Targets[0].Requests < 10 || rep.Targets[0].Requests > 21 || rep.Targets[1].Requests != 0 {
		t.Fatalf("partial report %+v, want ~20 requests on a and none on b", rep)
	}
}

func TestOptionsValidate(t *testing.T) {
	ok := Options{Targets: []Target{{Name: "a", URL: "http://x"}}, Mix: SingleMethod("m")}
	for _, c := range []struct {
		name string
		edit func(*Options)
		want string
	}{
		{"no targets", func(o *Options) { o.Targets = nil }, "targets: none"},
		{"repeated name", func(o *Options) { o.Targets = append(o.Targets, o.Targets[0]) }, "repeated"},
		{"no mix", func(o *Options) { o.Mix = nil }, "mix"},
		{"long", func(o *Options) { o.Duration = 2 * time.Hour }, "duration"},
		{"concurrency", func(o *Options) { o.Concurrency = MaxConcurrency + 1 }, "concurrency"},
		{"batch", func(o *Options) { o.Batch = MaxBatch + 1 }, "batch"},
		{"rate", func(o *Options) { o.Rate = -1 }, "rate"},
		{"rounds", func(o *Options) { o.Duration, o.Rounds = time.Second, 100 }, "rounds"},
	} {
		o := ok
		c.edit(&o)
		_, err := Run(context.Background(), o)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.name, err, c.want)
		}
	}
	o := ok
	o.Targets = []Target{{Name: "a", URL: "ftp://x"}}
	if _, err := Run(context.Background(), o); err == nil || !strings.Contains(err.Error(), "scheme") {
		t.Errorf("ftp target: %v", err)
	}
}

// BenchmarkRun measures the load generator and the trivial upstream together,
// per request, over loopback: what one request costs the machine when
// nothing else is in the way.
func BenchmarkRun(b *testing.B) {
	up, err := StartUpstream("127.0.0.1:0", UpstreamOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer up.Close()
	for _, c := range []struct {
		name, url string
		batch     int
	}{
		{"http", up.URL, 0},
		{"http-batch10", up.URL, 10},
		{"ws", up.WSURL, 0},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			rep, err := Run(context.Background(), Options{
				Targets:     []Target{{Name: c.name, URL: c.url}},
				Mix:         SingleMethod("eth_getBalance"),
				Concurrency: 4,
				Duration:    MaxDuration,
				Requests:    int64(b.N),
				Batch:       c.batch,
			})
			if err != nil {
				b.Fatal(err)
			}
			if r := rep.Targets[0]; r.OKRequests != int64(b.N) {
				b.Fatalf("%d of %d requests ok: %v", r.OKRequests, b.N, r.ErrorSamples)
			}
		})
	}
}

func TestRunProcessCPU(t *testing.T) {
	s := newTestUpstream(t, UpstreamOptions{})
	// The upstream runs in this process, so its CPU time is ours.
	rep, err := Run(context.Background(), Options{
		Targets:     []Target{{Name: "self", URL: s.URL, PID: os.Getpid()}},
		Mix:         SingleMethod("eth_blockNumber"),
		Concurrency: 4,
		Duration:    20 * time.Second,
		Requests:    3000,
	})
	if err != nil {
		t.Fatal(err)
	}
	r := rep.Targets[0]
	p := r.Process
	if p == nil || p.PID != os.Getpid() || p.Error != "" || p.PeakRSSMiB <= 0 || p.CPUSeconds < 0 {
		t.Fatalf("process report %+v", p)
	}
	// 3000 requests, client and server, take well over one 10 ms tick of CPU.
	if p.CPUSeconds == 0 || p.CPUPerCall <= 0 || r.GeneratorCPUPerCall <= 0 {
		t.Fatalf("no CPU counted: %+v, generator %.3f µs/call", p, r.GeneratorCPUPerCall)
	}
}

func TestProcCPU(t *testing.T) {
	before, err := procCPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	for end := time.Now().Add(50 * time.Millisecond); time.Now().Before(end); { // burn CPU
	}
	after, err := procCPU(os.Getpid())
	if err != nil || after < before {
		t.Fatalf("cpu %s then %s (%v)", before, after, err)
	}
	if _, err := procCPU(999999999); err == nil {
		t.Fatal("no error for a missing process")
	}
}

func TestRunTimeline(t *testing.T) {
	s := newTestUpstream(t, UpstreamOptions{})
	var progress cmdtest.SyncBuffer
	rep, err := Run(context.Background(), Options{
		Targets:     []Target{{Name: "t", URL: s.URL}},
		Mix:         SingleMethod("eth_blockNumber"),
		Concurrency: 2,
		Duration:    450 * time.Millisecond,
		Rounds:      2,
		Interval:    100 * time.Millisecond,
		Progress:    &progress,
	})
	if err != nil {
		t.Fatal(err)
	}
	r := rep.Targets[0]
	var requests, ok int64
	prev := 0.0
	for i, p := range r.Timeline {
		requests += p.Requests
		ok += p.OKCalls
		if p.At < prev || p.Seconds <= 0 {
			t.Fatalf("point %d %+v after t=%.3f", i, p, prev)
		}
		prev = p.At
	}
	// Every request is in exactly one interval. How many intervals there are
	// depends on the machine's speed, so only their sums are checked.
	if requests != r.Requests || ok != r.OKCalls || len(r.Timeline) == 0 {
		t.Fatalf("timeline of %d points sums to %d requests (%d ok), report has %d (%d ok)",
			len(r.Timeline), requests, ok, r.Requests, r.OKCalls)
	}
	if n := strings.Count(progress.String(), "ok calls/s"); n != len(r.Timeline) {
		t.Fatalf("%d progress lines for %d points:\n%s", n, len(r.Timeline), progress.String())
	}
}
