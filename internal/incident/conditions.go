package incident

import (
	"slices"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/status"
)

// condition is something wrong seen in one observation: an incident once it
// holds for open_after.
type condition struct {
	kind      status.Kind
	subject   string     // what it is about within its kind: a provider, cloud, region, tier, "operator x"
	providers []Provider // the providers affected
	base      status.Severity
	// For the message: the agreed head and the highest provider head
	// (head kinds), the share and its cap (concentration).
	head, top  uint64
	age        time.Duration
	share, cap float64
}

// key identifies a condition across ticks: the same key is the same
// incident. A provider's own conditions share one key, so that a provider
// going from down to degraded (a flapping one readmitted on probation) is
// one incident; so do a frozen and a halted head.
func (c *condition) key(chain string) string {
	group := string(c.kind)
	switch {
	case providerRank(c.kind) > 0:
		group = "provider"
	case c.kind == status.KindHeadFrozen || c.kind == status.KindChainHalted:
		group = "head" // a frozen head whose last advancing provider stops too is the same incident
	}
	return chain + "/" + group + "/" + c.subject
}

// providerRank orders a provider's own kinds, worst highest; 0 for the
// other kinds. A provider incident keeps the worst kind it had.
func providerRank(k status.Kind) int {
	switch k {
	case status.KindProviderDegraded:
		return 1
	case status.KindProviderLagging:
		return 2
	case status.KindProviderForked:
		return 3
	case status.KindProviderDown:
		return 4
	}
	return 0
}

// minShareAttempts is how many attempts the routing window must hold
// before shares count: a handful of calls says nothing of concentration.
const minShareAttempts = 20

// conditions finds what is wrong in o. Providers failing together on one
// cloud (then one region) make one correlated condition instead of one
// each; frozenBlocks is how many block times the head may stand.
func conditions(o *Observation, frozenBlocks float64) []condition {
	var out []condition
	covered := map[string]bool{}
	out = append(out, correlated(o, status.KindCloudOutage, func(p Provider) string { return p.Cloud }, covered)...)
	out = append(out, correlated(o, status.KindRegionOutage, func(p Provider) string { return p.Region }, covered)...)
	for _, p := range o.Providers {
		if covered[p.Name] {
			continue
		}
		if c, ok := providerCondition(p); ok {
			out = append(out, c)
		}
		if p.State == status.StateSuspect && p.VerifyFailures > 0 {
			out = append(out, condition{kind: status.KindVerification, subject: p.Name, providers: []Provider{p}, base: status.SeverityMajor})
		}
		if p.State == status.StateSuspect && p.Censored > 0 {
			out = append(out, condition{kind: status.KindCensorship, subject: p.Name, providers: []Provider{p}, base: status.SeverityMajor})
		}
	}
	if c, ok := headCondition(o, frozenBlocks); ok {
		out = append(out, c)
	}
	out = append(out, capacity(o)...)
	out = append(out, concentration(o)...)
	return out
}

// providerCondition is one provider's own condition, from its state.
func providerCondition(p Provider) (condition, bool) {
	kind := status.Kind("")
	switch {
	case failing(p.State):
		kind = status.KindProviderDown
	case p.State == status.StateDegraded:
		kind = status.KindProviderDegraded
	case p.State == status.StateLagging:
		kind = status.KindProviderLagging
	case p.State == status.StateForked:
		kind = status.KindProviderForked
	default:
		return condition{}, false
	}
	return condition{kind: kind, subject: p.Name, providers: []Provider{p}, base: status.SeverityMinor}, true
}

// correlated finds labels (by label) shared by at least two failing
// providers not yet covered: one outage each, its providers then covered.
func correlated(o *Observation, kind status.Kind, label func(Provider) string, covered map[string]bool) []condition {
	groups := map[string][]Provider{}
	var order []string
	for _, p := range o.Providers {
		l := label(p)
		if l == "" || covered[p.Name] || !failing(p.State) {
			continue
		}
		if groups[l] == nil {
			order = append(order, l)
		}
		groups[l] = append(groups[l], p)
	}
	var out []condition
	for _, l := range order {
		ps := groups[l]
		if len(ps) < 2 {
			continue
		}
		for _, p := range ps {
			covered[p.Name] = true
		}
		out = append(out, condition{kind: kind, subject: l, providers: ps, base: status.SeverityMajor})
	}
	return out
}

// headCondition is an agreed head that stood for frozenBlocks block times:
// frozen while a provider reports a higher block (the gateway then serves
// an old head, or follows that provider alone on degraded trust), else the
// chain halted.
func headCondition(o *Observation, frozenBlocks float64) (condition, bool) {
	if o.Agreed == 0 || o.BlockTime <= 0 || frozenBlocks <= 0 || o.AgreedAge <= time.Duration(frozenBlocks*float64(o.BlockTime)) {
		return condition{}, false
	}
	c := condition{kind: status.KindChainHalted, base: status.SeverityCritical, head: o.Agreed, top: o.Agreed, age: o.AgreedAge}
	for _, p := range o.Providers {
		if p.Head > o.Agreed && !failing(p.State) && p.State != status.StateForked {
			c.kind = status.KindHeadFrozen
			c.providers = append(c.providers, p)
			c.top = max(c.top, p.Head)
		}
	}
	return c, true
}

// capacity finds tiers of at least two providers that are all failing.
func capacity(o *Observation) []condition {
	tiers := map[string][]Provider{}
	var order []string
	for _, p := range o.Providers {
		if tiers[p.Tier] == nil {
			order = append(order, p.Tier)
		}
		tiers[p.Tier] = append(tiers[p.Tier], p)
	}
	var out []condition
	for _, t := range order {
		ps := tiers[t]
		if len(ps) < 2 || slices.ContainsFunc(ps, func(p Provider) bool { return !failing(p.State) }) {
			continue
		}
		out = append(out, condition{kind: status.KindCapacity, subject: t, providers: ps, base: status.SeverityMajor})
	}
	return out
}

// concentration finds operators and clouds whose share of the routing
// window is above their cap because others that routing would have
// preferred or shared with are failing: providers of another operator (or
// cloud) in a tier as good as the one routing now serves from. (Routing sends everything to the
// best tier by design: a single own node carrying all is no incident.)
func concentration(o *Observation) []condition {
	if o.WindowAttempts < minShareAttempts {
		return nil
	}
	// serving is the best tier with a provider that is not failing: the
	// tier routing sends traffic to.
	serving := -1
	for _, p := range o.Providers {
		if !failing(p.State) && (serving < 0 || p.TierRank < serving) {
			serving = p.TierRank
		}
	}
	var out []condition
	check := func(what string, shares map[string]float64, limit float64, of func(Provider) string) {
		if limit <= 0 || limit >= 1 {
			return
		}
		names := make([]string, 0, len(shares))
		for n := range shares {
			names = append(names, n)
		}
		slices.Sort(names)
		for _, n := range names {
			if n == "" || shares[n] <= limit+0.01 {
				continue
			}
			c := condition{kind: status.KindConcentration, subject: what + " " + n, base: status.SeverityMinor, share: shares[n], cap: limit}
			for _, p := range o.Providers {
				if of(p) == n {
					c.providers = append(c.providers, p)
				}
			}
			// An operator (cloud) whose providers are all failing carries
			// nothing now: its share is the window's memory of before.
			serves := slices.ContainsFunc(c.providers, func(p Provider) bool { return !failing(p.State) })
			if serves && slices.ContainsFunc(o.Providers, func(p Provider) bool { return of(p) != n && failing(p.State) && p.TierRank <= serving }) {
				out = append(out, c)
			}
		}
	}
	check("operator", o.OperatorShare, o.MaxOperatorShare, func(p Provider) string { return p.Operator })
	check("cloud", o.CloudShare, o.MaxCloudShare, func(p Provider) string { return p.Cloud })
	return out
}
