package chain

import (
	"fmt"
	"slices"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/status"
	"github.com/rpcmesh/rpcmesh/internal/upstream"
)

// suspectPenalty is the integrity penalty from which a provider is
// suspect: the level from which routing avoids it while clean providers
// are left (route.Score).
const suspectPenalty = 0.5

// Slowness: a provider whose recent latency is slowFactor times the
// chain's median and above slowFloor is slow (degraded).
const (
	slowFactor = 4
	slowFloor  = 100 * time.Millisecond
)

// providerView is one provider as measured at one moment: its health
// snapshot and what the chain knows of it besides (lag, fork, evidence),
// with its state in one word. Every view of a provider (status page,
// /status, metrics, incidents) is built from this one value.
type providerView struct {
	p                        *upstream.Provider
	snap                     upstream.Snapshot
	lag                      uint64
	forked                   bool
	verifyFailures, censored uint64
	state                    status.ProviderState
	reason                   string
}

// views measures providers (c.providers(), or those serving) at now.
func (c *Chain) views(now time.Time, providers []*upstream.Provider) []providerView {
	out := make([]providerView, len(providers))
	var recent []time.Duration
	for i, p := range providers {
		v := &out[i]
		v.p, v.snap = p, p.Snapshot(now)
		v.lag = c.head.Lag(v.snap.HeadNumber)
		if b, _ := p.Head(); !b.IsZero() {
			on, known := c.head.OnChain(b.Number, b.Hash)
			v.forked = known && !on
		}
		for _, pc := range p.Penalties() {
			if pc.Reason == "censored" {
				v.censored += pc.Count
			} else {
				v.verifyFailures += pc.Count
			}
		}
		if v.snap.Usable() && v.snap.Recent > 0 {
			recent = append(recent, v.snap.Recent)
		}
	}
	median := time.Duration(0)
	if len(recent) > 0 {
		slices.Sort(recent)
		median = recent[len(recent)/2]
	}
	open := c.incidents.Open(c.cfg.Name)
	for i := range out {
		v := &out[i]
		v.state, v.reason = c.derive(v, median)
		if v.state == status.StateUp {
			v.reason = recovering(open, v.snap.Name)
		}
	}
	return out
}

// recovering says, for a provider measured up, which open incident still
// names it: its incident ends only once it stayed clear for close_after.
// (The state stays up: incidents are derived from states, not the other
// way round.)
func recovering(open []status.Incident, name string) string {
	for _, inc := range open {
		if slices.Contains(inc.Providers, name) {
			return fmt.Sprintf("recovering: incident %s open since %s until clear for incidents.close_after", inc.Kind, inc.Start.Format("15:04:05 UTC"))
		}
	}
	return ""
}

// derive is a provider's state in one word, worst first, and why.
func (c *Chain) derive(v *providerView, median time.Duration) (status.ProviderState, string) {
	s := &v.snap
	switch {
	case s.State == upstream.StateWrongChain:
		return status.StateWrongChain, s.WrongChain
	case s.State == upstream.StateBreaker || s.State == upstream.StateUnchecked && s.Breaker == upstream.BreakerOpen:
		return status.StateDown, "unreachable or failing: circuit breaker open"
	case s.State == upstream.StateStalled:
		return status.StateStalled, "a call has been in flight far too long: probably hung"
	case s.Penalty >= suspectPenalty:
		return status.StateSuspect, fmt.Sprintf("caught out %s (failed verification %d, censored %d); penalty %.2f", times(v.verifyFailures+v.censored),
			v.verifyFailures, v.censored, s.Penalty)
	case v.forked:
		return status.StateForked, "its head is on a fork the operators agreeing on the head do not follow"
	case c.lagLimit > 0 && v.lag > c.lagLimit:
		return status.StateLagging, fmt.Sprintf("%d blocks behind the agreed head (limit %d)", v.lag, c.lagLimit)
	case s.State == upstream.StateThrottled:
		return status.StateDegraded, "throttled: honouring a Retry-After"
	case s.Degraded:
		return status.StateDegraded, fmt.Sprintf("failing or throttled often (error rate %.0f%%)", 100*s.ErrorRate)
	case median > 0 && s.Recent > slowFloor && s.Recent > slowFactor*median:
		return status.StateDegraded, fmt.Sprintf("slow: recent latency %s, the chain's median %s", s.Recent.Round(time.Millisecond), median.Round(time.Millisecond))
	case s.State == upstream.StateUnchecked:
		return status.StateChecking, "chain ID not yet confirmed"
	}
	return status.StateUp, ""
}

// times is "once" or "N times".
func times(n uint64) string {
	if n == 1 {
		return "once"
	}
	return fmt.Sprintf("%d times", n)
}
