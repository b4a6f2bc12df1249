// Package metrics holds the gateway's Prometheus metrics in a registry of
// its own (no global state): client calls by chain and method, attempts by
// provider with their outcome class, retries and hedges, and, read at
// scrape time, each provider's health and each chain's agreed head.
package metrics

import (
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/rpcmesh/rpcmesh/internal/ethmethod"
	"github.com/rpcmesh/rpcmesh/internal/jsonrpc"
)

// Metrics is the gateway's metric set. Its methods are safe for concurrent use.
type Metrics struct {
	Registry *prometheus.Registry

	calls        *prometheus.CounterVec
	callDuration *prometheus.HistogramVec
	attempts     *prometheus.CounterVec
	attemptDur   *prometheus.HistogramVec
	retries      *prometheus.CounterVec
	hedges       *prometheus.CounterVec
	httpRequests *prometheus.CounterVec
	inflight     prometheus.Gauge
	privacy      *prometheus.CounterVec // see privacy.go

	// The children of the vectors above by label values, so the hot path
	// neither hashes label values nor formats codes on every call.
	callChildren    childCache[callKey, callChild]
	attemptChildren childCache[attemptKey, attemptChild]
	httpChildren    childCache[httpKey, prometheus.Counter]
}

type callKey struct {
	chain, method string
	code          int
	ok            bool
}

type callChild struct {
	count    prometheus.Counter
	duration prometheus.Observer
}

type attemptKey struct{ chain, provider, method, outcome string }

type attemptChild struct {
	count    prometheus.Counter
	duration prometheus.Observer
}

type httpKey struct {
	chain string
	code  int
}

// childCache maps label values to a vector's children, built on first use.
// Label values are bounded (chains, providers, known methods, codes), so it
// stays small.
type childCache[K comparable, V any] struct {
	mu sync.RWMutex
	m  map[K]V
}

func (c *childCache[K, V]) get(k K, build func() V) V {
	c.mu.RLock()
	v, ok := c.m[k]
	c.mu.RUnlock()
	if ok {
		return v
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if v, ok := c.m[k]; ok {
		return v
	}
	if c.m == nil {
		c.m = make(map[K]V)
	}
	v = build()
	c.m[k] = v
	return v
}

var buckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}

// New builds the metrics in a fresh registry with Go and process collectors.
func New() *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rpcmesh_calls_total", Help: "JSON-RPC calls answered, by chain, method and outcome (ok or the error code).",
		}, []string{"chain", "method", "outcome"}),
		callDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "rpcmesh_call_duration_seconds", Help: "Time to answer one JSON-RPC call.", Buckets: buckets,
		}, []string{"chain", "method"}),
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rpcmesh_upstream_requests_total", Help: "Attempts sent to providers, by outcome: ok, rpc_error, or the failure class.",
		}, []string{"chain", "provider", "method", "outcome"}),
		attemptDur: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "rpcmesh_upstream_duration_seconds", Help: "Latency of attempts sent to providers.", Buckets: buckets,
		}, []string{"chain", "provider", "method"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rpcmesh_retries_total", Help: "Retries after a failed attempt.",
		}, []string{"chain", "method"}),
		hedges: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rpcmesh_hedges_total", Help: "Hedged attempts sent to a second operator.",
		}, []string{"chain", "method"}),
		httpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rpcmesh_http_requests_total", Help: "HTTP requests on the public listener, by chain and status code.",
		}, []string{"chain", "code"}),
		inflight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "rpcmesh_http_inflight_requests", Help: "HTTP requests being served.",
		}),
	}
	m.privacy = newPrivacyCounter()
	m.Registry.MustRegister(m.calls, m.callDuration, m.attempts, m.attemptDur, m.retries, m.hedges, m.httpRequests, m.inflight, m.privacy,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
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
		return callChild{m.calls.WithLabelValues(chain, method, outcome), m.callDuration.WithLabelValues(chain, method)}
	})
	c.count.Inc()
	c.duration.Observe(d.Seconds())
}

// Attempt records one attempt at provider (route.Observer). outcome is
// "ok", "rpc_error" (the node answered with an error) or the failure class
// the caller found; the duration counts for answers only.
func (m *Metrics) Attempt(chain, provider, method string, d time.Duration, outcome string) {
	k := attemptKey{chain, provider, MethodLabel(method), outcome}
	c := m.attemptChildren.get(k, func() attemptChild {
		c := attemptChild{count: m.attempts.WithLabelValues(k.chain, k.provider, k.method, k.outcome)}
		if k.outcome == "ok" || k.outcome == "rpc_error" { // answers only
			c.duration = m.attemptDur.WithLabelValues(k.chain, k.provider, k.method)
		}
		return c
	})
	c.count.Inc()
	if c.duration != nil {
		c.duration.Observe(d.Seconds())
	}
}

// Retry records a retry (route.Observer).
func (m *Metrics) Retry(chain, method string) {
	m.retries.WithLabelValues(chain, MethodLabel(method)).Inc()
}

// Hedge records a hedge (route.Observer).
func (m *Metrics) Hedge(chain, method string) {
	m.hedges.WithLabelValues(chain, MethodLabel(method)).Inc()
}

// HTTPRequest records one HTTP request's status.
func (m *Metrics) HTTPRequest(chain string, code int) {
	m.httpChildren.get(httpKey{chain, code}, func() prometheus.Counter {
		return m.httpRequests.WithLabelValues(chain, strconv.Itoa(code))
	}).Inc()
}

// Inflight adjusts the in-flight gauge by delta.
func (m *Metrics) Inflight(delta float64) { m.inflight.Add(delta) }
