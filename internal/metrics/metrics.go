// Package metrics holds the gateway's Prometheus metrics in a set of its
// own (no global state): client calls by chain and method, attempts by
// provider with their outcome class, retries and hedges, and, read at
// scrape time, each provider's health and each chain's agreed head. It
// writes the Prometheus text format with github.com/VictoriaMetrics/metrics,
// which, unlike prometheus/client_golang, does not link protobuf: protobuf's
// reflection switches off the linker's dead-method elimination (+12 MB).
package metrics

import (
	"bytes"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	vm "github.com/VictoriaMetrics/metrics"

	"github.com/rpcmesh/rpcmesh/internal/ethmethod"
	"github.com/rpcmesh/rpcmesh/internal/jsonrpc"
)

// ContentType is the media type of the Prometheus text format /metrics
// answers in.
const ContentType = "text/plain; version=0.0.4; charset=utf-8"

// Metrics is the gateway's metric set. Its methods are safe for concurrent
// use. The text format's # HELP and # TYPE lines are written only when the
// program turns them on with VictoriaMetrics' ExposeMetadata (the commands
// do); the help texts are the gateway's own (describe).
type Metrics struct {
	set     *vm.Set
	buckets []float64 // the latency histograms' bucket bounds, in seconds

	helpMu sync.Mutex
	help   map[string]string // family name → its # HELP text

	calls        *family[*vm.Counter]             // rpcmesh_calls_total
	callDuration *family[*vm.PrometheusHistogram] // rpcmesh_call_duration_seconds
	attempts     *family[*vm.Counter]             // rpcmesh_upstream_requests_total
	attemptDur   *family[*vm.PrometheusHistogram] // rpcmesh_upstream_duration_seconds
	retries      *family[*vm.Counter]             // rpcmesh_retries_total
	hedges       *family[*vm.Counter]             // rpcmesh_hedges_total
	httpRequests *family[*vm.Counter]             // rpcmesh_http_requests_total
	inflight     *vm.Gauge                        // rpcmesh_http_inflight_requests
	privacy      *family[*vm.Counter]             // see privacy.go

	// The children of the families above by what the caller holds, so the
	// hot path neither formats codes nor looks a method up twice.
	callChildren    childCache[callKey, callChild]
	attemptChildren childCache[attemptKey, attemptChild]
	httpChildren    childCache[httpKey, *vm.Counter]
}

type callKey struct {
	chain, method string
	code          int
	ok            bool
}

type callChild struct {
	count    *vm.Counter
	duration *vm.PrometheusHistogram
}

type attemptKey struct{ chain, provider, method, outcome string }

type attemptChild struct {
	count    *vm.Counter
	duration *vm.PrometheusHistogram // nil: not an answer
}

type httpKey struct {
	chain string
	code  int
}

// New builds the metrics in a fresh set; the Go runtime's and the
// process's metrics are added when written.
func New() *Metrics {
	m := &Metrics{
		set:     vm.NewSet(),
		buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
	}
	m.calls = m.counters("rpcmesh_calls_total", "JSON-RPC calls answered, by chain, method and outcome (ok or the error code).", "chain", "method", "outcome")
	m.callDuration = m.histograms("rpcmesh_call_duration_seconds", "Time to answer one JSON-RPC call.", "chain", "method")
	m.attempts = m.counters("rpcmesh_upstream_requests_total", "Attempts sent to providers, by outcome: ok, rpc_error, or the failure class.", "chain", "provider", "method", "outcome")
	m.attemptDur = m.histograms("rpcmesh_upstream_duration_seconds", "Latency of attempts sent to providers (answers only).", "chain", "provider", "method")
	m.retries = m.counters("rpcmesh_retries_total", "Retries after a failed attempt.", "chain", "method")
	m.hedges = m.counters("rpcmesh_hedges_total", "Hedged attempts sent to a second operator.", "chain", "method")
	m.httpRequests = m.counters("rpcmesh_http_requests_total", "HTTP requests on the public listener, by chain and status code.", "chain", "code")
	m.describe("rpcmesh_http_inflight_requests", "HTTP requests being served.")
	m.inflight = m.set.NewGauge("rpcmesh_http_inflight_requests", nil)
	m.privacy = m.newPrivacyCounter()
	return m
}

func (m *Metrics) counters(name, help string, labels ...string) *family[*vm.Counter] {
	m.describe(name, help)
	return newFamily(name, m.set.GetOrCreateCounter, labels...)
}

func (m *Metrics) gauges(name, help string, labels ...string) *family[*vm.Gauge] {
	m.describe(name, help)
	return newFamily(name, func(series string) *vm.Gauge { return m.set.GetOrCreateGauge(series, nil) }, labels...)
}

func (m *Metrics) histograms(name, help string, labels ...string) *family[*vm.PrometheusHistogram] {
	m.describe(name, help)
	return newFamily(name, func(series string) *vm.PrometheusHistogram {
		return m.set.GetOrCreatePrometheusHistogramExt(series, m.buckets)
	}, labels...)
}

// describe keeps the help text of the family name for its # HELP line.
func (m *Metrics) describe(name, help string) {
	m.helpMu.Lock()
	defer m.helpMu.Unlock()
	if m.help == nil {
		m.help = make(map[string]string)
	}
	m.help[name] = help
}

// WritePrometheus writes every metric in the Prometheus text format: the
// gateway's, the states read now (WatchState), and the Go runtime's and the
// process's (go_*, process_*).
func (m *Metrics) WritePrometheus(w io.Writer) {
	var b bytes.Buffer
	m.set.WritePrometheus(&b)
	vm.WriteProcessMetrics(&b)
	vm.WriteFDMetrics(&b)
	_, _ = w.Write(m.withHelp(b.Bytes()))
}

// withHelp gives each of the gateway's families its help text: the
// library writes "# HELP name" lines (when the program turned metadata on)
// but has no text for them.
func (m *Metrics) withHelp(text []byte) []byte {
	if !bytes.Contains(text, []byte("# HELP ")) {
		return text
	}
	m.helpMu.Lock()
	defer m.helpMu.Unlock()
	out := make([]byte, 0, len(text)+len(m.help)*64)
	for len(text) > 0 {
		line := text
		if i := bytes.IndexByte(text, '\n'); i >= 0 {
			line = text[:i+1]
		}
		text = text[len(line):]
		if name, ok := bytes.CutPrefix(bytes.TrimSuffix(line, []byte("\n")), []byte("# HELP ")); ok {
			if help, known := m.help[string(name)]; known { // a bare # HELP line of ours
				out = append(out, "# HELP "...)
				out = append(out, name...)
				out = append(out, ' ')
				out = appendHelp(out, help)
				out = append(out, '\n')
				continue
			}
		}
		out = append(out, line...)
	}
	return out
}

// appendHelp appends a help text escaped as the text format wants it
// (backslash and line feed).
func appendHelp(b []byte, help string) []byte {
	for _, r := range help {
		switch r {
		case '\\':
			b = append(b, `\\`...)
		case '\n':
			b = append(b, `\n`...)
		default:
			b = utf8.AppendRune(b, r)
		}
	}
	return b
}

// ServeHTTP answers a scrape (GET /metrics on the admin listener).
func (m *Metrics) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", ContentType)
	m.WritePrometheus(w)
}

// CounterVec is a counter family with labels, for a package that records
// its own counters in the gateway's set (txwatch).
type CounterVec struct{ f *family[*vm.Counter] }

// NewCounterVec makes a counter family in m's set; name ends in _total,
// help says what it counts. At most four labels.
func (m *Metrics) NewCounterVec(name, help string, labels ...string) *CounterVec {
	return &CounterVec{m.counters(name, help, labels...)}
}

// Inc adds one to the series of the label values, given in the order of
// the labels NewCounterVec named.
func (c *CounterVec) Inc(values ...string) {
	var k labelValues
	copy(k[:], values)
	c.f.with(k).Inc()
}

// MethodLabel bounds the method label: unknown methods are "other".
func MethodLabel(method string) string {
	if ethmethod.Known(method) {
		return method
	}
	return "other"
}

// Call records one answered client call; err is nil on success.
func (m *Metrics) Call(chain, method string, d time.Duration, err *jsonrpc.Error) {
	method = MethodLabel(method)
	k := callKey{chain: chain, method: method, ok: err == nil}
	if err != nil {
		k.code = err.Code
	}
	c := m.callChildren.get(k, func() callChild {
		outcome := "ok"
		if !k.ok {
			outcome = strconv.Itoa(k.code)
		}
		return callChild{m.calls.with(labelValues{chain, method, outcome}), m.callDuration.with(labelValues{chain, method})}
	})
	c.count.Inc()
	c.duration.Update(d.Seconds())
}

// Attempt records one attempt at provider (route.Observer). outcome is
// "ok", "rpc_error" (the node answered with an error) or the failure class
// the caller found; the duration counts for answers only.
func (m *Metrics) Attempt(chain, provider, method string, d time.Duration, outcome string) {
	k := attemptKey{chain, provider, MethodLabel(method), outcome}
	c := m.attemptChildren.get(k, func() attemptChild {
		c := attemptChild{count: m.attempts.with(labelValues{k.chain, k.provider, k.method, k.outcome})}
		if k.outcome == "ok" || k.outcome == "rpc_error" { // answers only
			c.duration = m.attemptDur.with(labelValues{k.chain, k.provider, k.method})
		}
		return c
	})
	c.count.Inc()
	if c.duration != nil {
		c.duration.Update(d.Seconds())
	}
}

// Retry records a retry (route.Observer).
func (m *Metrics) Retry(chain, method string) {
	m.retries.with(labelValues{chain, MethodLabel(method)}).Inc()
}

// Hedge records a hedge (route.Observer).
func (m *Metrics) Hedge(chain, method string) {
	m.hedges.with(labelValues{chain, MethodLabel(method)}).Inc()
}

// HTTPRequest records one HTTP request's status.
func (m *Metrics) HTTPRequest(chain string, code int) {
	m.httpChildren.get(httpKey{chain, code}, func() *vm.Counter {
		return m.httpRequests.with(labelValues{chain, strconv.Itoa(code)})
	}).Inc()
}

// Inflight adjusts the in-flight gauge by delta.
func (m *Metrics) Inflight(delta float64) { m.inflight.Add(delta) }
