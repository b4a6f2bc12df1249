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
// elsewhere. The zero value is empty and ready.
// Small sets, not maps: a request tries a handful of providers, and the
// sets are made on every call.
type tried struct {
	providers smallSet[*upstream.Provider]
	operators smallSet[string]
	clouds    smallSet[string]
}

func (t *tried) add(p *upstream.Provider) {
	l := p.Labels()
	t.exclude(p)
	t.excludeOperator(l.Operator)
	if l.Cloud != "" {
		t.clouds.add(l.Cloud)
	}
}

// exclude marks p tried without preferring other operators or clouds.
func (t *tried) exclude(p *upstream.Provider) { t.providers.add(p) }

// excludeOperator marks every provider of op tried.
func (t *tried) excludeOperator(op string) { t.operators.add(op) }

func (t *tried) hasProvider(p *upstream.Provider) bool { return t.providers.has(p) }
func (t *tried) hasOperator(op string) bool            { return t.operators.has(op) }
func (t *tried) hasCloud(c string) bool                { return t.clouds.has(c) }

// smallSet is a set of a few values, in the order added: the first four
// are held inline (no allocation), any more in a slice.
type smallSet[T comparable] struct {
	n      int // values held inline
	inline [4]T
	more   []T
}

func (s *smallSet[T]) add(v T) {
	switch {
	case s.has(v):
	case s.n < len(s.inline):
		s.inline[s.n] = v
		s.n++
	default:
		s.more = append(s.more, v)
	}
}

func (s *smallSet[T]) has(v T) bool {
	for _, x := range s.inline[:s.n] {
		if x == v {
			return true
		}
	}
	return slices.Contains(s.more, v)
}

// last returns the value added last.
func (s *smallSet[T]) last() (v T, ok bool) {
	if len(s.more) > 0 {
		return s.more[len(s.more)-1], true
	}
	if s.n == 0 {
		return v, false
	}
	return s.inline[s.n-1], true
}

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

	// The candidates are on the stack for the usual chain of a few
	// providers. Their snapshots are not: the filters' closures make what
	// a candidate points to escape, so they come from the router's pool.
	ro := r.list()
	var candBuf [maxInline]candidate
	cands := candBuf[:0]
	if n := len(ro.providers); n > maxInline {
		cands = make([]candidate, 0, n)
	}
	snapBuf := r.snapshots(len(ro.providers))
	defer r.snaps.Put(snapBuf)
	snaps := *snapBuf

	// Hard filters: what must hold for the provider to serve the call at all.
	for i, p := range ro.providers {
		if t.hasProvider(p) || ro.stages != nil && !r.admits(ro, p, req) {
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
		// Not append: its elements escape to the heap (it might grow).
		cands = cands[:len(cands)+1]
		cands[len(cands)-1] = candidate{p: p, snap: s}
	}
	if len(cands) == 0 {
		return nil
	}
	// A provider on probation takes a share of the verified calls, whatever
	// the tiers (roster.go); not of those the privacy policy routes, which
	// go where it keeps their addresses (a probation provider may still be
	// picked among the others).
	if ro.probation && !r.privacy.covers(req) {
		var p *upstream.Provider
		if cands, p = r.pickProbation(ro, cands); p != nil {
			return p
		}
	}
	// The privacy policy (opt-in): a call naming addresses its client asked
	// about before stays with their operator; a new one is spread.
	sp := r.privacy.begin(req)
	// Soft filters: dropped only if something remains.
	cands = keep(cands, func(c candidate) bool { return c.snap.State != upstream.StateStalled })
	if sp == nil {
		cands = dropDegraded(cands)
	}
	// A provider recently caught lying or censoring serves only when no
	// clean one is left, whatever its tier: integrity before preference.
	cands = keep(cands, func(c candidate) bool { return c.snap.Penalty < penaltyAvoid })
	if !req.HasBlock && haveHead {
		// Unpinned calls: prefer providers within a block of the agreed head
		// (one block of slack for the polling race).
		cands = keep(cands, func(c candidate) bool { return c.snap.HeadNumber+1 >= agreed.Number })
	}
	if sp != nil {
		// Privacy before the preferences for speed, errors and warm-up
		// (dropDegraded, then applied among what privacy kept): a slow but
		// serving operator keeps its addresses, and a new address goes to
		// an operator under its share of the client's addresses, whatever
		// its tier (the tiers order those that are). Not before the stalled,
		// the penalised and the lagging: privacy yields to availability.
		cands = sp.balance(sp.sticky(cands))
		cands = dropDegraded(cands)
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
	cands = sp.quorumOrder(cands)

	// Diversity caps within the tier: skip operators and clouds over their share.
	cands = keep(cands, func(c candidate) bool {
		return !r.shares.overCap(c.snap.Labels.Operator, c.snap.Labels.Cloud, r.cfg.MaxOperatorShare, r.cfg.MaxCloudShare)
	})

	p := r.choose(cands)
	r.reportPrivacy(sp.done(p))
	return p
}

// choose picks one of cands: at random for exploration_share of picks,
// else weighted by score.
func (r *Router) choose(cands []candidate) *upstream.Provider {
	if len(cands) == 1 {
		return cands[0].p
	}
	if rand.Float64() < r.cfg.ExplorationShare {
		return cands[rand.IntN(len(cands))].p
	}
	return weighted(cands)
}

// snapshots returns a buffer for a snapshot of each of n providers, from
// the router's pool (give it back with r.snaps.Put).
func (r *Router) snapshots(n int) *[]upstream.Snapshot {
	if b, ok := r.snaps.Get().(*[]upstream.Snapshot); ok && len(*b) >= n {
		return b
	}
	b := make([]upstream.Snapshot, n)
	return &b
}

// maxInline is how many candidates pickFrom and weighted handle in arrays
// on the stack; a chain with more providers allocates.
const maxInline = 16

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
	out := 0
	for i, c := range cands {
		if pass[i] { // not append: its elements would escape to the heap
			cands[out] = c
			out++
		}
	}
	return cands[:out]
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
	var buf [maxInline]float64
	weights := buf[:0]
	if len(cands) > len(buf) {
		weights = make([]float64, 0, len(cands))
	}
	weights = weights[:len(cands)]
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
