package metrics

import (
	"bytes"
	"io"
	"strconv"

	vm "github.com/VictoriaMetrics/metrics"
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

// providerStates are the values State takes, each a series of
// rpcmesh_provider_state (status.ProviderState; metrics imports nothing of
// it to stay a leaf).
func providerStates() []string {
	return []string{"up", "checking", "degraded", "lagging", "forked", "suspect", "stalled", "down", "wrong_chain"}
}

// stateFamily is a family whose values are read at scrape time: of a chain
// (label chain) or of a provider (labels chain, provider, operator, cloud,
// tier).
type stateFamily struct {
	name, help, typ string
	chain           func(ChainState) float64
	provider        func(ProviderState) (float64, bool) // false: no series for this provider
}

func stateFamilies() []stateFamily {
	b2f := func(b bool) float64 {
		if b {
			return 1
		}
		return 0
	}
	always := func(f func(ProviderState) float64) func(ProviderState) (float64, bool) {
		return func(p ProviderState) (float64, bool) { return f(p), true }
	}
	// The coalescer's and the ws transport's families have no sample for a
	// provider without them.
	coalesce := func(f func(*CoalesceState) float64) func(ProviderState) (float64, bool) {
		return func(p ProviderState) (float64, bool) {
			if p.Coalesce == nil {
				return 0, false
			}
			return f(p.Coalesce), true
		}
	}
	ws := func(f func(*WSState) float64) func(ProviderState) (float64, bool) {
		return func(p ProviderState) (float64, bool) {
			if p.WS == nil {
				return 0, false
			}
			return f(p.WS), true
		}
	}
	return []stateFamily{
		{name: "rpcmesh_chain_block_time_seconds", help: "The chain's block time measured from the agreed head (0 until measured).", typ: "gauge", chain: func(c ChainState) float64 { return c.BlockTimeSeconds }},
		{name: "rpcmesh_chain_filters", help: "Filters (eth_newFilter & co.) the gateway keeps for the chain's clients.", typ: "gauge", chain: func(c ChainState) float64 { return float64(c.Filters) }},
		{name: "rpcmesh_chain_finalized", help: "The chain's agreed finalized block number.", typ: "gauge", chain: func(c ChainState) float64 { return float64(c.Finalized) }},
		{name: "rpcmesh_chain_head", help: "The chain's agreed head block number.", typ: "gauge", chain: func(c ChainState) float64 { return float64(c.Head) }},
		{name: "rpcmesh_chain_head_age_seconds", help: "How long ago the agreed head last moved.", typ: "gauge", chain: func(c ChainState) float64 { return c.HeadAgeSeconds }},
		{name: "rpcmesh_chain_head_degraded", help: "1 when the head is followed on fewer operators than head_agreement (the others stopped reporting).", typ: "gauge", chain: func(c ChainState) float64 { return b2f(c.HeadDegraded) }},
		{name: "rpcmesh_chain_head_operators", help: "Distinct operators that vouch for the head block.", typ: "gauge", chain: func(c ChainState) float64 { return float64(c.HeadOperators) }},
		{name: "rpcmesh_chain_ready", help: "1 when the chain serves fresh answers (what /readyz checks).", typ: "gauge", chain: func(c ChainState) float64 { return b2f(c.Ready) }},
		{name: "rpcmesh_chain_reorgs_total", help: "Reorgs the agreed head followed.", typ: "counter", chain: func(c ChainState) float64 { return float64(c.Reorgs) }},
		{name: "rpcmesh_chain_reporting_operators", help: "Operators that reported a new block linked to the agreed chain within health.head_stale_blocks block times.", typ: "gauge", chain: func(c ChainState) float64 { return float64(c.ReportingOperators) }},
		{name: "rpcmesh_provider_breaker_open", help: "1 when the provider's circuit breaker is open.", typ: "gauge", provider: always(func(p ProviderState) float64 { return b2f(p.BreakerOpen) })},
		{name: "rpcmesh_provider_coalesced_batches_total", help: "Batch requests that carried the provider's waiting calls together (coalesce_above).", typ: "counter", provider: coalesce(func(c *CoalesceState) float64 { return float64(c.Batches) })},
		{name: "rpcmesh_provider_coalesced_calls_total", help: "Calls those batch requests carried (coalesce_above).", typ: "counter", provider: coalesce(func(c *CoalesceState) float64 { return float64(c.Calls) })},
		{name: "rpcmesh_provider_degraded", help: "1 when the provider fails or throttles often and gets traffic only if no healthy provider is left.", typ: "gauge", provider: always(func(p ProviderState) float64 { return b2f(p.Degraded) })},
		{name: "rpcmesh_provider_error_rate", help: "The provider's failure rate EWMA.", typ: "gauge", provider: always(func(p ProviderState) float64 { return p.ErrorRate })},
		{name: "rpcmesh_provider_head", help: "The provider's reported head block number.", typ: "gauge", provider: always(func(p ProviderState) float64 { return float64(p.Head) })},
		{name: "rpcmesh_provider_lag_blocks", help: "Blocks the provider's head trails the agreed head.", typ: "gauge", provider: always(func(p ProviderState) float64 { return float64(p.LagBlocks) })},
		{name: "rpcmesh_provider_latency_ewma_seconds", help: "The provider's latency EWMA.", typ: "gauge", provider: always(func(p ProviderState) float64 { return p.LatencyEWMASeconds })},
		{name: "rpcmesh_provider_operator_share", help: "The provider's operator's share of the chain's attempts in the share window.", typ: "gauge", provider: always(func(p ProviderState) float64 { return p.Share })},
		{name: "rpcmesh_provider_penalty", help: "The provider's integrity penalty (failed verifications and censored transactions, fading with health.penalty_half_life); from 0.5 it gets traffic only if no clean provider is left.", typ: "gauge", provider: always(func(p ProviderState) float64 { return p.Penalty })},
		{name: "rpcmesh_provider_score", help: "Routing cost of the provider (lower is better).", typ: "gauge", provider: always(func(p ProviderState) float64 { return p.Score })},
		{name: "rpcmesh_provider_up", help: "1 when the provider may take traffic.", typ: "gauge", provider: always(func(p ProviderState) float64 { return b2f(p.Usable) })},
		{name: "rpcmesh_provider_ws_connection_failures_total", help: "Dials and WebSocket connections carrying the provider's calls that failed (call_transport: ws).", typ: "counter", provider: ws(func(c *WSState) float64 { return float64(c.Failures) })},
		{name: "rpcmesh_provider_ws_connections", help: "WebSocket connections up that carry the provider's calls (call_transport: ws).", typ: "gauge", provider: ws(func(c *WSState) float64 { return float64(c.Live) })},
	}
}

// WatchState has every scrape call read and write the chains' states.
func (m *Metrics) WatchState(read func() []ChainState) {
	for _, f := range stateFamilies() {
		m.describe(f.name, f.help)
	}
	m.describe("rpcmesh_provider_state", "1 for the provider's state in one word (label state: up, checking, degraded, lagging, forked, suspect, stalled, down, wrong_chain), 0 for the others: what the status page and /status show.")
	m.set.RegisterMetricsWriter(func(w io.Writer) { writeState(w, read()) })
}

// writeState writes the states family by family (the text format wants a
// family's series together), then rpcmesh_provider_state: 1 for the
// provider's state in one word (label state: up, checking, degraded,
// lagging, forked, suspect, stalled, down, wrong_chain), 0 for the others:
// what the status page and /status show.
func writeState(w io.Writer, chains []ChainState) {
	var out bytes.Buffer
	var series []byte
	family := func(name, typ string) {
		if len(series) > 0 {
			vm.WriteMetadataIfNeeded(&out, name, typ)
			out.Write(series)
		}
		series = series[:0]
	}
	for _, f := range stateFamilies() {
		for _, c := range chains {
			if f.chain != nil {
				series = appendSample(series, f.name, appendLabel([]byte(nil), "chain", c.Chain), f.chain(c))
				continue
			}
			for _, p := range c.Providers {
				if v, ok := f.provider(p); ok {
					series = appendSample(series, f.name, providerLabels(c.Chain, p, ""), v)
				}
			}
		}
		family(f.name, f.typ)
	}
	for _, c := range chains {
		for _, p := range c.Providers {
			for _, st := range providerStates() {
				v := 0.0
				if p.State == st {
					v = 1
				}
				series = appendSample(series, "rpcmesh_provider_state", providerLabels(c.Chain, p, st), v)
			}
		}
	}
	family("rpcmesh_provider_state", "gauge")
	_, _ = w.Write(out.Bytes())
}

// providerLabels are a provider's labels in the exposition's order (by
// name), with state when it is not "".
func providerLabels(chain string, p ProviderState, state string) []byte {
	b := appendLabel(nil, "chain", chain)
	b = appendLabel(append(b, ','), "cloud", p.Cloud)
	b = appendLabel(append(b, ','), "operator", p.Operator)
	b = appendLabel(append(b, ','), "provider", p.Provider)
	if state != "" {
		b = appendLabel(append(b, ','), "state", state)
	}
	return appendLabel(append(b, ','), "tier", p.Tier)
}

// appendSample appends one line: name{labels} value.
func appendSample(b []byte, name string, labels []byte, v float64) []byte {
	b = append(b, name...)
	b = append(b, '{')
	b = append(b, labels...)
	b = append(b, '}', ' ')
	b = strconv.AppendFloat(b, v, 'g', -1, 64)
	return append(b, '\n')
}
