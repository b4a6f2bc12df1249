// Package metrics holds the gateway's Prometheus metrics in a registry of
// its own (no global state): client calls by chain and method, attempts by
// provider with their outcome class, retries and hedges, and, read at
// scrape time, each provider's health and each chain's agreed head.
package metrics

import (
	"errors"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/rpcmesh/rpcmesh/internal/ethmethod"
	"github.com/rpcmesh/rpcmesh/internal/jsonrpc"
	"github.com/rpcmesh/rpcmesh/internal/upstream"
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
	m.Registry.MustRegister(m.calls, m.callDuration, m.attempts, m.attemptDur, m.retries, m.hedges, m.httpRequests, m.inflight,
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
	outcome := "ok"
	if err != nil {
		outcome = strconv.Itoa(err.Code)
	}
	m.calls.WithLabelValues(chain, method, outcome).Inc()
	m.callDuration.WithLabelValues(chain, method).Observe(d.Seconds())
}

// Attempt records one attempt at a provider (route.Observer).
func (m *Metrics) Attempt(chain string, p *upstream.Provider, method string, d time.Duration, err error) {
	method = MethodLabel(method)
	outcome := "ok"
	var ue *upstream.Error
	var je *jsonrpc.Error
	switch {
	case err == nil:
	case errors.As(err, &ue):
		outcome = string(ue.Class)
	case errors.As(err, &je):
		outcome = "rpc_error"
	default:
		outcome = "error"
	}
	m.attempts.WithLabelValues(chain, p.Name(), method, outcome).Inc()
	if err == nil || je != nil {
		m.attemptDur.WithLabelValues(chain, p.Name(), method).Observe(d.Seconds())
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
	m.httpRequests.WithLabelValues(chain, strconv.Itoa(code)).Inc()
}

// Inflight adjusts the in-flight gauge by delta.
func (m *Metrics) Inflight(delta float64) { m.inflight.Add(delta) }
