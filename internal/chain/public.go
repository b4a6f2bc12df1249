package chain

import (
	"context"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/status"
	"github.com/rpcmesh/rpcmesh/internal/upstream"
)

// Public is the chain as people see it (internal/status): no URLs.
func (c *Chain) Public(now time.Time) status.Chain {
	_, opShare, cloudShare := c.router.Shares()
	pc := status.Chain{Name: c.cfg.Name, ChainID: c.cfg.ChainID, HeadAgeMs: c.head.HeadAge().Milliseconds(),
		BlockTimeMs: c.head.BlockTime().Milliseconds(), OperatorShare: opShare, CloudShare: cloudShare}
	pc.Ready, pc.NotReady = c.Ready()
	if h, ok := c.head.Latest(); ok {
		pc.Head, pc.HeadHash = h.Number, h.Hash
	}
	for _, p := range c.providers() {
		s := p.Snapshot(now)
		l := s.Labels
		lag := c.head.Lag(s.HeadNumber)
		st, why := c.providerState(&s, lag)
		pc.Providers = append(pc.Providers, status.Provider{
			Name: s.Name, Operator: l.Operator, Cloud: l.Cloud, Region: l.Region, Tier: l.Tier,
			State: st, Reason: why, Head: s.HeadNumber, LagBlocks: lag,
			P50Ms: ms(s.P50), P99Ms: ms(s.P99), ErrorRate: s.ErrorRate, Share: opShare[l.Operator],
			Requests: s.Requests, Failures: s.Failures, Penalty: s.Penalty,
		})
	}
	return pc
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// providerState is a provider's state in one word, worst first.
func (c *Chain) providerState(s *upstream.Snapshot, lag uint64) (status.ProviderState, string) {
	switch {
	case s.State == upstream.StateWrongChain:
		return status.StateWrongChain, s.WrongChain
	case s.State == upstream.StateBreaker:
		return status.StateDown, "unreachable or failing: circuit breaker open"
	case s.State == upstream.StateStalled:
		return status.StateStalled, "a call has been in flight far too long"
	case s.Penalty >= 0.5:
		return status.StateSuspect, "served answers that failed verification or dropped transactions"
	case c.lagLimit > 0 && lag > c.lagLimit:
		return status.StateLagging, "behind the agreed head"
	case s.State == upstream.StateThrottled || s.Degraded:
		return status.StateDegraded, "failing or throttled often"
	case s.State == upstream.StateUnchecked:
		return status.StateChecking, "chain ID not yet confirmed"
	}
	return status.StateUp, ""
}

// Snapshot is every chain as people see it, at the moment of the call
// (status.Source).
func (s *Set) Snapshot() status.Snapshot {
	now := time.Now()
	snap := status.Snapshot{At: now.UTC(), Incidents: []status.Incident{}}
	for _, c := range s.chains {
		snap.Chains = append(snap.Chains, c.Public(now))
	}
	return snap
}

// Subscribe returns incident events until ctx ends (status.Source).
func (s *Set) Subscribe(ctx context.Context) <-chan status.Event {
	ch := make(chan status.Event)
	go func() {
		<-ctx.Done()
		close(ch)
	}()
	return ch
}
