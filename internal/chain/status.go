package chain

import (
	"fmt"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/head"
	"github.com/rpcmesh/rpcmesh/internal/metrics"
	"github.com/rpcmesh/rpcmesh/internal/route"
	"github.com/rpcmesh/rpcmesh/internal/status"
	"github.com/rpcmesh/rpcmesh/internal/upstream"
)

// Ready reports whether the chain serves fresh answers: it has an agreed
// head (full or degraded), the head moved within ready_stale_blocks block
// times, and a provider is usable. When not, why.
func (c *Chain) Ready() (bool, string) {
	if _, ok := c.head.Latest(); !ok {
		return false, "no agreed head"
	}
	if bt := c.head.BlockTime(); c.readyStale > 0 && bt > 0 {
		if age := c.head.HeadAge(); age > time.Duration(c.readyStale*float64(bt)) {
			return false, fmt.Sprintf("head has not moved for %s (block time %s)", age.Round(time.Millisecond), bt)
		}
	}
	if age, frozen := c.frozen(); frozen {
		// The head stands while a provider reports higher: answers are
		// stale though the chain goes on. (A chain that halted as a whole
		// is ready until ready_stale_blocks: nothing fresher exists.)
		h, _ := c.head.Latest()
		for _, p := range c.admitted() { // those that vote on the head
			if b, _ := p.Head(); b.Number > h.Number {
				return false, fmt.Sprintf("head frozen: block %d has stood for %s while %s reports block %d",
					h.Number, age.Round(100*time.Millisecond), p.Name(), b.Number)
			}
		}
	}
	now := time.Now()
	for _, p := range c.admitted() { // a candidate serves nothing
		if s := p.Snapshot(now); s.Usable() {
			return true, ""
		}
	}
	return false, "no usable provider"
}

// Trust is how well the chain's head block is vouched for, for the front
// door's X-Rpcmesh-Head header and /readyz.
type Trust struct {
	// Head is whether the chain has an agreed head (full or degraded).
	Head bool
	// Degraded is true when the head is followed on fewer operators than
	// head_agreement, because the others stopped reporting.
	Degraded bool
	// Operators is how many distinct operators vouch for the head block.
	Operators int
	// Required is head_agreement.
	Required int
}

// Trust reports how well the chain's head block is vouched for.
func (c *Chain) Trust() Trust {
	if _, ok := c.head.Latest(); !ok {
		return Trust{}
	}
	tr := c.head.Trust()
	return Trust{Head: true, Degraded: tr.Degraded, Operators: tr.Operators, Required: tr.Required}
}

// Status is one chain in the admin listener's /status.
type Status struct {
	Name          string `json:"name"`
	ChainID       uint64 `json:"chainId"`
	Ready         bool   `json:"ready"`
	HeadAgreement int    `json:"headAgreement"`
	// NotReady says why /readyz fails for the chain ("" when ready).
	NotReady string `json:"notReady,omitempty"`
	// HeadTrust is how well the head block is vouched for.
	HeadTrust HeadTrust `json:"headTrust"`
	// BlockTimeMs is the chain's block time measured from the agreed head
	// (0 until measured).
	BlockTimeMs int64 `json:"blockTimeMs"`
	// Filters is how many filters (eth_newFilter & co.) the gateway keeps
	// for the chain's clients.
	Filters        int                `json:"filters"`
	Head           *BlockStatus       `json:"head,omitempty"`
	Safe           uint64             `json:"safe"`
	Finalized      uint64             `json:"finalized"`
	Reorgs         int                `json:"reorgs"`
	WindowAttempts int                `json:"windowAttempts"`
	OperatorShare  map[string]float64 `json:"operatorShare"`
	CloudShare     map[string]float64 `json:"cloudShare"`
	Providers      []ProviderStatus   `json:"providers"`
	// Stale says why answers may be stale ("" when fresh), as the
	// X-Rpcmesh-Stale header does; Answers counts what the chain answered.
	Stale   string         `json:"stale,omitempty"`
	Answers status.Answers `json:"answers"`
}

// HeadTrust is the head's trust in /status.
type HeadTrust struct {
	// Level is "agreed" (head_agreement operators vouch for the head
	// block), "degraded" (fewer: the others stopped reporting and the
	// head follows those left, block by linked block) or "none" (no head
	// yet).
	Level string `json:"level"`
	// Operators is how many distinct operators vouch for the head block.
	Operators int `json:"operators"`
	// Reporting is how many operators reported a new block linked to the
	// agreed chain within health.head_stale_blocks block times.
	Reporting int `json:"reporting"`
}

// headTrust is the chain's head trust for /status.
func headTrust(tr head.Trust) HeadTrust {
	level := "agreed"
	switch {
	case tr.Degraded:
		level = "degraded"
	case tr.Operators == 0:
		level = "none"
	}
	return HeadTrust{Level: level, Operators: tr.Operators, Reporting: tr.Reporting}
}

// BlockStatus is a block number and hash.
type BlockStatus struct {
	Number uint64 `json:"number"`
	Hash   string `json:"hash"`
}

// ProviderStatus is one provider in /status.
type ProviderStatus struct {
	Name   string            `json:"name"`
	Labels map[string]string `json:"labels"`
	State  upstream.State    `json:"state"`
	// Health is the provider's state in one word as the status page and
	// metrics show it (status.ProviderState: up, degraded, lagging,
	// forked, suspect, stalled, down, ...), derived from breaker, stalls,
	// lag, fork and penalty; HealthReason says why when not up. State is
	// the routing's view only.
	Health        status.ProviderState `json:"health"`
	HealthReason  string               `json:"healthReason,omitempty"`
	Breaker       string               `json:"breaker"`
	Degraded      bool                 `json:"degraded"`
	Reason        string               `json:"reason,omitempty"`
	Score         float64              `json:"score"`
	Head          uint64               `json:"head"`
	LagBlocks     uint64               `json:"lagBlocks"`
	HeadAgeMs     int64                `json:"headAgeMs"`
	LatencyMicros map[string]int64     `json:"latencyMicros"`
	ErrorRate     float64              `json:"errorRate"`
	ThrottleRate  float64              `json:"throttleRate"`
	Inflight      int                  `json:"inflight"`
	Requests      uint64               `json:"requests"`
	Failures      uint64               `json:"failures"`
	// Penalty is the decayed integrity penalty; Penalties counts every
	// failed verification or censored transaction by kind.
	Penalty   float64                 `json:"penalty"`
	Penalties []upstream.PenaltyCount `json:"penalties,omitempty"`
	// CallTransport is how calls reach it: HTTP, or WebSockets with how
	// many are up.
	CallTransport upstream.TransportStatus `json:"callTransport"`
}

// Status reports the chain's head, shares and providers at now.
func (c *Chain) Status(now time.Time) Status {
	cs := Status{Name: c.cfg.Name, ChainID: c.cfg.ChainID, HeadAgreement: c.head.Agreement(), Reorgs: c.head.Reorgs(),
		HeadTrust: headTrust(c.head.Trust()), BlockTimeMs: c.head.BlockTime().Milliseconds(), Filters: c.filters.Len()}
	cs.Ready, cs.NotReady = c.Ready()
	cs.Stale, cs.Answers = c.Stale(), c.answers.counts()
	if h, ok := c.head.Latest(); ok {
		cs.Head = &BlockStatus{Number: h.Number, Hash: h.Hash}
	}
	cs.Safe, _ = c.head.Safe()
	cs.Finalized, _ = c.head.Finalized()
	cs.WindowAttempts, cs.OperatorShare, cs.CloudShare = c.router.Shares()
	for _, v := range c.views(now, c.providers()) {
		p, s := v.p, &v.snap
		l := s.Labels
		cs.Providers = append(cs.Providers, ProviderStatus{
			Health: v.state, HealthReason: v.reason,
			Name:   s.Name,
			Labels: map[string]string{"operator": l.Operator, "cloud": l.Cloud, "region": l.Region, "tier": l.Tier},
			State:  s.State, Breaker: string(s.Breaker), Degraded: s.Degraded, Reason: s.WrongChain,
			Score: route.Score(s, 50*time.Millisecond), Head: s.HeadNumber, LagBlocks: v.lag,
			HeadAgeMs: s.HeadAge.Milliseconds(),
			LatencyMicros: map[string]int64{"ewma": s.LatencyEWMA.Microseconds(), "p50": s.P50.Microseconds(),
				"p90": s.P90.Microseconds(), "p99": s.P99.Microseconds()},
			ErrorRate: s.ErrorRate, ThrottleRate: s.ThrottleRate, Inflight: s.Inflight,
			Requests: s.Requests, Failures: s.Failures,
			Penalty: s.Penalty, Penalties: p.Penalties(), CallTransport: p.Transport(),
		})
	}
	return cs
}

// State is the chain's state for the metrics collector at scrape time.
func (c *Chain) State(now time.Time) metrics.ChainState {
	tr := c.head.Trust()
	cs := metrics.ChainState{Chain: c.cfg.Name, Reorgs: c.head.Reorgs(), HeadDegraded: tr.Degraded,
		HeadOperators: tr.Operators, ReportingOperators: tr.Reporting, BlockTimeSeconds: c.head.BlockTime().Seconds(),
		HeadAgeSeconds: c.head.HeadAge().Seconds(), Filters: c.filters.Len()}
	cs.Ready, _ = c.Ready()
	if h, ok := c.head.Latest(); ok {
		cs.Head = h.Number
	}
	cs.Finalized, _ = c.head.Finalized()
	_, opShare, _ := c.router.Shares()
	for _, v := range c.views(now, c.providers()) {
		s, t := &v.snap, v.p.Transport()
		cs.Providers = append(cs.Providers, metrics.ProviderState{
			Provider: s.Name, Operator: s.Labels.Operator, Cloud: s.Labels.Cloud, Tier: s.Labels.Tier, State: string(v.state),
			Usable: s.Usable(), BreakerOpen: s.Breaker == upstream.BreakerOpen, Degraded: s.Degraded,
			Score: route.Score(s, 50*time.Millisecond), LagBlocks: v.lag, Head: s.HeadNumber,
			LatencyEWMASeconds: s.LatencyEWMA.Seconds(), ErrorRate: s.ErrorRate, Share: opShare[s.Labels.Operator],
			Penalty: s.Penalty, WS: wsState(t), Coalesce: coalesceState(t),
		})
	}
	return cs
}

// coalesceState is the metrics' view of what a provider's coalescer merged
// (nil without coalesce_above).
func coalesceState(t upstream.TransportStatus) *metrics.CoalesceState {
	if t.Coalesce == nil {
		return nil
	}
	return &metrics.CoalesceState{Batches: t.Coalesce.Batches, Calls: t.Coalesce.Calls}
}

// wsState is the metrics' view of a provider's WebSocket call connections
// (nil for HTTP).
func wsState(t upstream.TransportStatus) *metrics.WSState {
	if t.WS == nil {
		return nil
	}
	return &metrics.WSState{Live: t.WS.Live, Failures: t.WS.Failures}
}
