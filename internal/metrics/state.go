package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
)

// ProviderState is one provider's health as exported at scrape time.
type ProviderState struct {
	Provider, Operator, Cloud, Tier string
	// State is the provider's state in one word (status.ProviderState),
	// the same the status page and /status show.
	State              string
	Usable             bool
	BreakerOpen        bool
	Degraded           bool
	Score              float64
	LagBlocks          uint64
	Head               uint64
	LatencyEWMASeconds float64
	ErrorRate          float64
	Share              float64        // of the chain's attempts in the share window
	Penalty            float64        // decayed integrity penalty
	WS                 *WSState       // nil: calls over HTTP
	Coalesce           *CoalesceState // nil: no coalesce_above
}

// CoalesceState is what a provider's coalescer merged (coalesce_above).
type CoalesceState struct {
	Batches, Calls uint64
}

// WSState is a provider's WebSocket call connections (call_transport ws).
type WSState struct {
	Live     int    // connections up now
	Failures uint64 // dials and connections that failed
}

// ChainState is one chain's agreed head and providers.
type ChainState struct {
	Chain     string
	Head      uint64
	Finalized uint64
	Reorgs    int
	// Ready is what /readyz says of the chain.
	Ready bool
	// HeadDegraded: the head is followed on fewer operators than
	// head_agreement; HeadOperators vouch for the head block and
	// ReportingOperators reported a new linked block recently.
	HeadDegraded                      bool
	HeadOperators, ReportingOperators int
	// BlockTimeSeconds is the block time measured from the agreed head;
	// HeadAgeSeconds how long ago the head moved.
	BlockTimeSeconds, HeadAgeSeconds float64
	// Filters is how many filters the gateway keeps for the chain.
	Filters   int
	Providers []ProviderState
}

// stateCollector reads states when scraped.
type stateCollector struct {
	read func() []ChainState

	head, finalized, reorgs                                     *prometheus.Desc
	ready, headDegraded, headOps, reportingOps, blockTime, age  *prometheus.Desc
	filters                                                     *prometheus.Desc
	up, breaker, degraded, score, lag, phead, latency, errs, sh *prometheus.Desc
	penalty, wsLive, wsFailures, coBatches, coCalls             *prometheus.Desc
	state                                                       *prometheus.Desc
}

// providerStates are the values State takes, each a series of
// rpcmesh_provider_state (status.ProviderState; metrics imports nothing of
// it to stay a leaf).
func providerStates() []string {
	return []string{"up", "checking", "degraded", "lagging", "forked", "suspect", "stalled", "down", "wrong_chain"}
}

// WatchState registers a collector that calls read at every scrape.
func (m *Metrics) WatchState(read func() []ChainState) {
	pl := []string{"chain", "provider", "operator", "cloud", "tier"}
	d := func(name, help string, labels []string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, labels, nil)
	}
	m.Registry.MustRegister(&stateCollector{
		read:      read,
		head:      d("rpcmesh_chain_head", "The chain's agreed head block number.", []string{"chain"}),
		finalized: d("rpcmesh_chain_finalized", "The chain's agreed finalized block number.", []string{"chain"}),
		reorgs:    d("rpcmesh_chain_reorgs_total", "Reorgs the agreed head followed.", []string{"chain"}),
		filters:   d("rpcmesh_chain_filters", "Filters (eth_newFilter & co.) the gateway keeps for the chain's clients.", []string{"chain"}),
		ready:     d("rpcmesh_chain_ready", "1 when the chain serves fresh answers (what /readyz checks).", []string{"chain"}),
		headDegraded: d("rpcmesh_chain_head_degraded",
			"1 when the head is followed on fewer operators than head_agreement (the others stopped reporting).", []string{"chain"}),
		headOps:      d("rpcmesh_chain_head_operators", "Distinct operators that vouch for the head block.", []string{"chain"}),
		reportingOps: d("rpcmesh_chain_reporting_operators", "Operators that reported a new block linked to the agreed chain within health.head_stale_blocks block times.", []string{"chain"}),
		blockTime:    d("rpcmesh_chain_block_time_seconds", "The chain's block time measured from the agreed head (0 until measured).", []string{"chain"}),
		age:          d("rpcmesh_chain_head_age_seconds", "How long ago the agreed head last moved.", []string{"chain"}),
		up:           d("rpcmesh_provider_up", "1 when the provider may take traffic.", pl),
		breaker:      d("rpcmesh_provider_breaker_open", "1 when the provider's circuit breaker is open.", pl),
		degraded:     d("rpcmesh_provider_degraded", "1 when the provider fails or throttles often and gets traffic only if no healthy provider is left.", pl),
		score:        d("rpcmesh_provider_score", "Routing cost of the provider (lower is better).", pl),
		lag:          d("rpcmesh_provider_lag_blocks", "Blocks the provider's head trails the agreed head.", pl),
		phead:        d("rpcmesh_provider_head", "The provider's reported head block number.", pl),
		latency:      d("rpcmesh_provider_latency_ewma_seconds", "The provider's latency EWMA.", pl),
		errs:         d("rpcmesh_provider_error_rate", "The provider's failure rate EWMA.", pl),
		sh:           d("rpcmesh_provider_operator_share", "The provider's operator's share of the chain's attempts in the share window.", pl),
		wsLive:       d("rpcmesh_provider_ws_connections", "WebSocket connections up that carry the provider's calls (call_transport: ws).", pl),
		wsFailures: d("rpcmesh_provider_ws_connection_failures_total",
			"Dials and WebSocket connections carrying the provider's calls that failed (call_transport: ws).", pl),
		coBatches: d("rpcmesh_provider_coalesced_batches_total",
			"Batch requests that carried the provider's waiting calls together (coalesce_above).", pl),
		coCalls: d("rpcmesh_provider_coalesced_calls_total", "Calls those batch requests carried (coalesce_above).", pl),
		state: d("rpcmesh_provider_state",
			"1 for the provider's state in one word (label state: up, checking, degraded, lagging, forked, suspect, stalled, down, wrong_chain), 0 for the others: what the status page and /status show.",
			append(pl, "state")),
		penalty: d("rpcmesh_provider_penalty", "The provider's integrity penalty (failed verifications and censored transactions, fading with health.penalty_half_life); from 0.5 it gets traffic only if no clean provider is left.", pl),
	})
}

// Describe sends the descriptors.
func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.head, c.finalized, c.reorgs, c.filters, c.ready, c.headDegraded, c.headOps, c.reportingOps, c.blockTime, c.age, c.up, c.breaker, c.degraded, c.score, c.lag, c.phead, c.latency, c.errs, c.sh, c.penalty, c.wsLive, c.wsFailures, c.coBatches, c.coCalls, c.state} {
		ch <- d
	}
}

// Collect reads the states and sends the metrics.
func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	b2f := func(b bool) float64 {
		if b {
			return 1
		}
		return 0
	}
	for _, cs := range c.read() {
		ch <- prometheus.MustNewConstMetric(c.head, prometheus.GaugeValue, float64(cs.Head), cs.Chain)
		ch <- prometheus.MustNewConstMetric(c.finalized, prometheus.GaugeValue, float64(cs.Finalized), cs.Chain)
		ch <- prometheus.MustNewConstMetric(c.reorgs, prometheus.CounterValue, float64(cs.Reorgs), cs.Chain)
		ch <- prometheus.MustNewConstMetric(c.ready, prometheus.GaugeValue, b2f(cs.Ready), cs.Chain)
		ch <- prometheus.MustNewConstMetric(c.headDegraded, prometheus.GaugeValue, b2f(cs.HeadDegraded), cs.Chain)
		ch <- prometheus.MustNewConstMetric(c.filters, prometheus.GaugeValue, float64(cs.Filters), cs.Chain)
		ch <- prometheus.MustNewConstMetric(c.headOps, prometheus.GaugeValue, float64(cs.HeadOperators), cs.Chain)
		ch <- prometheus.MustNewConstMetric(c.reportingOps, prometheus.GaugeValue, float64(cs.ReportingOperators), cs.Chain)
		ch <- prometheus.MustNewConstMetric(c.blockTime, prometheus.GaugeValue, cs.BlockTimeSeconds, cs.Chain)
		ch <- prometheus.MustNewConstMetric(c.age, prometheus.GaugeValue, cs.HeadAgeSeconds, cs.Chain)
		for _, p := range cs.Providers {
			lv := []string{cs.Chain, p.Provider, p.Operator, p.Cloud, p.Tier}
			ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, b2f(p.Usable), lv...)
			ch <- prometheus.MustNewConstMetric(c.breaker, prometheus.GaugeValue, b2f(p.BreakerOpen), lv...)
			ch <- prometheus.MustNewConstMetric(c.degraded, prometheus.GaugeValue, b2f(p.Degraded), lv...)
			ch <- prometheus.MustNewConstMetric(c.score, prometheus.GaugeValue, p.Score, lv...)
			ch <- prometheus.MustNewConstMetric(c.lag, prometheus.GaugeValue, float64(p.LagBlocks), lv...)
			ch <- prometheus.MustNewConstMetric(c.phead, prometheus.GaugeValue, float64(p.Head), lv...)
			ch <- prometheus.MustNewConstMetric(c.latency, prometheus.GaugeValue, p.LatencyEWMASeconds, lv...)
			ch <- prometheus.MustNewConstMetric(c.errs, prometheus.GaugeValue, p.ErrorRate, lv...)
			ch <- prometheus.MustNewConstMetric(c.sh, prometheus.GaugeValue, p.Share, lv...)
			ch <- prometheus.MustNewConstMetric(c.penalty, prometheus.GaugeValue, p.Penalty, lv...)
			for _, st := range providerStates() {
				ch <- prometheus.MustNewConstMetric(c.state, prometheus.GaugeValue, b2f(p.State == st), append(lv, st)...)
			}
			if p.WS != nil {
				ch <- prometheus.MustNewConstMetric(c.wsLive, prometheus.GaugeValue, float64(p.WS.Live), lv...)
				ch <- prometheus.MustNewConstMetric(c.wsFailures, prometheus.CounterValue, float64(p.WS.Failures), lv...)
			}
			if p.Coalesce != nil {
				ch <- prometheus.MustNewConstMetric(c.coBatches, prometheus.CounterValue, float64(p.Coalesce.Batches), lv...)
				ch <- prometheus.MustNewConstMetric(c.coCalls, prometheus.CounterValue, float64(p.Coalesce.Calls), lv...)
			}
		}
	}
}
