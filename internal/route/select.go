package route

import (
	"math/rand/v2"
	"slices"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/ethmethod"
	"github.com/rpcmesh/rpcmesh/internal/upstream"
)

// candidate is a provider with the snapshot it was judged by (a pointer:
// filters copy candidates around).
type candidate struct {
	p    *upstream.Provider
	snap *upstream.Snapshot
}

// tried remembers what a request already used, so retries and hedges go
// elsewhere.
// Slices, not maps: a request tries a handful of providers, and the
// sets are made on every call.
type tried struct {
	providers []*upstream.Provider
	operators []string
	clouds    []string
}

func newTried() *tried { return &tried{} }

func (t *tried) add(p *upstream.Provider) {
	l := p.Labels()
	t.exclude(p)
	t.excludeOperator(l.Operator)
	if l.Cloud != "" && !slices.Contains(t.clouds, l.Cloud) {
		t.clouds = append(t.clouds, l.Cloud)
	}
}

// exclude marks p tried without preferring other operators or clouds.
func (t *tried) exclude(p *upstream.Provider) {
	if !t.hasProvider(p) {
		t.providers = append(t.providers, p)
	}
}

// excludeOperator marks every provider of op tried.
func (t *tried) excludeOperator(op string) {
	if !t.hasOperator(op) {
		t.operators = append(t.operators, op)
	}
}

func (t *tried) hasProvider(p *upstream.Provider) bool { return slices.Contains(t.providers, p) }
func (t *tried) hasOperator(op string) bool            { return slices.Contains(t.operators, op) }
func (t *tried) hasCloud(c string) bool                { return slices.Contains(t.clouds, c) }

// pick chooses the provider for the next attempt of req, or nil. When
// newOperator is set only providers of operators not yet tried qualify
// (hedges); otherwise untried operators and clouds are preferred (retries).
// lastResort is true when no provider is usable and the pick is one whose
// breaker is open or that asked us to back off (panic mode).
func (r *Router) pick(req *Request, t *tried, newOperator bool) (p *upstream.Provider, lastResort bool) {
	if p := r.pickFrom(req, t, newOperator, false); p != nil {
		return p, false
	}
	if newOperator {
		return nil, false // hedges never go to excluded providers
	}
	return r.pickFrom(req, t, false, true), true
}

func (r *Router) pickFrom(req *Request, t *tried, newOperator, lastResort bool) *upstream.Provider {
	now := time.Now()
	agreed, haveHead := r.head.Latest()

	// Hard filters: what must hold for the provider to serve the call at all.
	cands := make([]candidate, 0, len(r.providers))
	snaps := make([]upstream.Snapshot, len(r.providers))
	for i, p := range r.providers {
		if t.hasProvider(p) {
			continue
		}
		if newOperator && t.hasOperator(p.Labels().Operator) {
			continue
		}
		snaps[i] = p.RouteSnapshot(now)
		s := &snaps[i]
		if lastResort && !s.LastResort() || !lastResort && !s.Usable() || !capable(p, req.Info) {
			continue
		}
		if req.HasBlock {
			if s.HeadNumber < req.Block {
				continue // it does not have the block yet
			}
			if depth := p.Config().ArchiveDepth; req.Info.State && depth > 0 && s.HeadNumber-req.Block > depth {
				continue // state that old is pruned there
			}
		} else if haveHead && r.maxLag > 0 && s.HeadNumber+r.maxLag < agreed.Number {
			continue // lagging: it would answer from the past
		}
		cands = append(cands, candidate{p: p, snap: s})
	}
	if len(cands) == 0 {
		return nil
	}
	// Soft filters: dropped only if something remains.
	cands = keep(cands, func(c candidate) bool { return c.snap.State != upstream.StateStalled })
	cands = dropDegraded(cands)
	// A provider recently caught lying or censoring serves only when no
	// clean one is left, whatever its tier: integrity before preference.
	cands = keep(cands, func(c candidate) bool { return c.snap.Penalty < penaltyAvoid })
	if !req.HasBlock && haveHead {
		// Unpinned calls: prefer providers within a block of the agreed head
		// (one block of slack for the polling race).
		cands = keep(cands, func(c candidate) bool { return c.snap.HeadNumber+1 >= agreed.Number })
	}
	cands = keep(cands, func(c candidate) bool { return !c.p.Saturated() })
	cands = keep(cands, func(c candidate) bool { return !t.hasOperator(c.snap.Labels.Operator) })

	// Tiers first: only the best tier that has a candidate.
	best := cands[0].snap.Tier
	for _, c := range cands[1:] {
		best = min(best, c.snap.Tier)
	}
	cands = keep(cands, func(c candidate) bool { return c.snap.Tier == best })
	// Within the tier, a cloud not yet tried (a retry or hedge should not
	// land on the same outage).
	cands = keep(cands, func(c candidate) bool { return c.snap.Labels.Cloud == "" || !t.hasCloud(c.snap.Labels.Cloud) })

	// Diversity caps within the tier: skip operators and clouds over their share.
	cands = keep(cands, func(c candidate) bool {
		return !r.shares.overCap(c.snap.Labels.Operator, c.snap.Labels.Cloud, r.cfg.MaxOperatorShare, r.cfg.MaxCloudShare)
	})

	if len(cands) == 1 {
		return cands[0].p
	}
	if rand.Float64() < r.cfg.ExplorationShare {
		return cands[rand.IntN(len(cands))].p
	}
	return weighted(cands)
}

// dropDegraded drops (softly) providers that fail or throttle often (see
// upstream's degraded state), or whose recent latency is far above the best
// candidate's: such a provider must not keep its tier's traffic while
// healthy providers exist.
func dropDegraded(cands []candidate) []candidate {
	best := time.Duration(-1)
	for _, c := range cands {
		if r := c.snap.Recent; r > 0 && (best < 0 || r < best) {
			best = r
		}
	}
	return keep(cands, func(c candidate) bool {
		if c.snap.Degraded {
			return false
		}
		if c.snap.Warmup < 1 && rand.Float64() > c.snap.Warmup {
			return false // warming up after a readmission: a growing share
		}
		return best < 0 || c.snap.Recent <= 5*best+50*time.Millisecond
	})
}

// keep returns the candidates that pass f, or all of them if none does. It
// filters in place (no allocation): cands must not be used afterwards.
func keep(cands []candidate, f func(candidate) bool) []candidate {
	pass := make([]bool, 0, 16)
	n := 0
	for _, c := range cands {
		ok := f(c)
		pass = append(pass, ok)
		if ok {
			n++
		}
	}
	if n == 0 || n == len(cands) {
		return cands
	}
	out := cands[:0]
	for i, c := range cands {
		if pass[i] {
			out = append(out, c)
		}
	}
	return out
}

// capable reports whether p offers the namespace the method needs.
func capable(p *upstream.Provider, info ethmethod.Info) bool {
	switch info.Needs {
	case "debug":
		return p.Config().Debug
	case "trace":
		return p.Config().Trace
	}
	return true
}

// penaltyAvoid is the integrity penalty at which routing avoids a provider
// while clean ones remain: one recent failure, or several faded ones.
const penaltyAvoid = 0.5

// Score is a provider's cost for routing: lower is better. It is the peak
// latency EWMA (ms) inflated by the error and throttle rates, by the
// integrity penalty and by the calls already in flight there, divided by
// the weight. A provider without latency samples gets fallback, so it is
// tried.
func Score(s *upstream.Snapshot, fallback time.Duration) float64 {
	lat := s.LatencyEWMA
	if lat <= 0 {
		lat = fallback
	}
	ms := max(float64(lat)/float64(time.Millisecond), 0.1)
	cost := ms * (1 + 20*s.ErrorRate) * (1 + 5*s.ThrottleRate) * (1 + 10*s.Penalty) * float64(1+s.Inflight)
	w := s.Weight
	if w <= 0 {
		w = 1
	}
	return cost / w
}

// weighted picks a candidate with probability inversely proportional to
// its score, so the best gets most traffic and none is starved of samples.
func weighted(cands []candidate) *upstream.Provider {
	var sum, n float64
	for _, c := range cands {
		if c.snap.LatencyEWMA > 0 {
			sum += float64(c.snap.LatencyEWMA)
			n++
		}
	}
	fallback := 50 * time.Millisecond
	if n > 0 {
		fallback = time.Duration(sum / n)
	}
	weights := make([]float64, len(cands))
	var total float64
	for i, c := range cands {
		weights[i] = 1 / Score(c.snap, fallback)
		total += weights[i]
	}
	x := rand.Float64() * total
	for i, w := range weights {
		if x < w {
			return cands[i].p
		}
		x -= w
	}
	return cands[len(cands)-1].p
}
