package chain

import (
	"context"
	"fmt"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/incident"
	"github.com/rpcmesh/rpcmesh/internal/status"
)

// Public is the chain as people see it (internal/status): no URLs.
func (c *Chain) Public(now time.Time) status.Chain {
	_, opShare, cloudShare := c.router.Shares()
	pc := status.Chain{Name: c.cfg.Name, ChainID: c.cfg.ChainID, HeadAgeMs: c.head.HeadAge().Milliseconds(),
		BlockTimeMs: c.head.BlockTime().Milliseconds(), OperatorShare: opShare, CloudShare: cloudShare,
		Stale: c.Stale(), Answers: c.answers.counts(), Providers: []status.Provider{}}
	pc.Ready, pc.NotReady = c.Ready()
	if h, ok := c.head.Latest(); ok {
		pc.Head, pc.HeadHash = h.Number, h.Hash
	}
	for _, v := range c.views(now, c.providers()) {
		s, l := &v.snap, v.snap.Labels
		pc.Providers = append(pc.Providers, status.Provider{
			Name: s.Name, Operator: l.Operator, Cloud: l.Cloud, Region: l.Region, Tier: l.Tier,
			State: v.state, Reason: v.reason, Head: s.HeadNumber, LagBlocks: v.lag,
			P50Ms: ms(s.P50), P99Ms: ms(s.P99), ErrorRate: s.ErrorRate, Share: opShare[l.Operator],
			Requests: s.Requests, Failures: s.Failures, Penalty: s.Penalty,
			VerifyFailures: v.verifyFailures, Censored: v.censored,
		})
	}
	return pc
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// observe is the chain at now as the incident detector takes it.
func (c *Chain) observe(now time.Time) incident.Observation {
	attempts, opShare, cloudShare := c.router.Shares()
	o := incident.Observation{Chain: c.cfg.Name, HeadAge: c.head.HeadAge(), BlockTime: c.head.BlockTime(),
		OperatorShare: opShare, CloudShare: cloudShare, WindowAttempts: attempts,
		MaxOperatorShare: c.caps[0], MaxCloudShare: c.caps[1], Answers: c.answers.counts()}
	if h, ok := c.head.Latest(); ok {
		o.Head = h.Number
	}
	o.Agreed, o.AgreedAge, _ = c.head.Agreed()
	// Candidates take no call: their faults are no incident (and their
	// heads no sign of a frozen one).
	for _, v := range c.views(now, c.serving()) {
		l := v.snap.Labels
		o.Providers = append(o.Providers, incident.Provider{Name: v.snap.Name, Operator: l.Operator, Cloud: l.Cloud,
			Region: l.Region, Tier: l.Tier, TierRank: v.snap.Tier, State: v.state, Head: v.snap.HeadNumber,
			VerifyFailures: v.verifyFailures, Censored: v.censored})
	}
	return o
}

// Stale says why the chain's answers may be stale, "" when they are
// fresh: "head-frozen; age=12s" when the agreed head stood for more than
// incidents.frozen_blocks block times, "degraded; operators=1; required=2"
// when it is followed on fewer operators than head_agreement. Answers
// carry it in the X-Rpcmesh-Stale header.
func (c *Chain) Stale() string {
	if _, ok := c.head.Latest(); !ok {
		return ""
	}
	if age, frozen := c.frozen(); frozen {
		return "head-frozen; age=" + age.Round(100*time.Millisecond).String()
	}
	if tr := c.head.Trust(); tr.Degraded {
		return fmt.Sprintf("degraded; operators=%d; required=%d", tr.Operators, tr.Required)
	}
	return ""
}

// frozen reports whether the agreed head has stood for more than
// incidents.frozen_blocks block times, and for how long.
func (c *Chain) frozen() (time.Duration, bool) {
	bt, age := c.head.BlockTime(), c.head.HeadAge()
	return age, bt > 0 && c.frozenBlocks > 0 && age > time.Duration(c.frozenBlocks*float64(bt))
}

// Snapshot is every chain as people see it, at the moment of the call,
// with the open and the most recent ended incidents (status.Source).
func (s *Set) Snapshot() status.Snapshot {
	now := time.Now()
	snap := status.Snapshot{At: now.UTC(), Chains: []status.Chain{}, Incidents: s.incidents.Incidents()}
	for _, c := range s.chains {
		snap.Chains = append(snap.Chains, c.Public(now))
	}
	return snap
}

// Incident is one detected incident (status.Incident), named here so that
// the front door's /status carries incidents without importing status.
type Incident = status.Incident

// Incidents are the open incidents and the most recent ended ones, newest
// first.
func (s *Set) Incidents() []Incident { return s.incidents.Incidents() }

// Subscribe returns incident events until ctx ends (status.Source). A
// subscriber that falls behind loses events rather than slowing the
// gateway.
func (s *Set) Subscribe(ctx context.Context) <-chan status.Event { return s.incidents.Subscribe(ctx) }
