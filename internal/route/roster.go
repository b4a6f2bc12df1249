package route

import (
	"math/rand/v2"
	"slices"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/ethmethod"
	"github.com/rpcmesh/rpcmesh/internal/upstream"
)

// Stage is a provider's admission stage as routing sees it
// (docs/admission.md).
type Stage int

// The stages.
const (
	// Admitted providers take every call and vote in quorums.
	Admitted Stage = iota
	// Probation providers take only calls whose answers the caller
	// verifies (Request.Verified), within the probation share of the
	// chain's attempts, and never a quorum vote.
	Probation
	// Candidate providers take no call.
	Candidate
)

// roster is the providers routing chooses among, with their stages: an
// immutable value, replaced whole (copy on write) when a provider is
// added, removed or changes stage, so a call reads one consistent list
// without a lock.
type roster struct {
	providers []*upstream.Provider
	stages    map[*upstream.Provider]Stage // absent: Admitted
	probation bool                         // some provider is on probation
	// voters counts the distinct operators of admitted providers by the
	// capability a method needs ("", "debug", "trace"): who a quorum can hear.
	voters map[string]int
}

// stage is p's stage in ro.
func (ro *roster) stage(p *upstream.Provider) Stage { return ro.stages[p] }

// rosterOf builds a roster of providers with stages (by provider; absent: Admitted).
func rosterOf(providers []*upstream.Provider, stages map[*upstream.Provider]Stage) *roster {
	ro := &roster{providers: providers, stages: stages, voters: map[string]int{}}
	for _, s := range stages {
		ro.probation = ro.probation || s == Probation
	}
	for _, needs := range []string{"", "debug", "trace"} {
		ops := map[string]bool{}
		for _, p := range providers {
			if ro.stage(p) == Admitted && capable(p, ethmethod.Info{Needs: needs}) {
				ops[p.Labels().Operator] = true
			}
		}
		ro.voters[needs] = len(ops)
	}
	return ro
}

// Voters is how many distinct operators have an admitted provider able to
// serve a method of info (its capability): the operators a quorum on it can
// hear, as the providers are now (no vote before admission).
func (r *Router) Voters(info ethmethod.Info) int { return r.list().voters[info.Needs] }

// list is the router's current providers (every stage). The roster and
// its slice are shared: never change them in place.
func (r *Router) list() *roster { return r.roster.Load() }

// change replaces the roster with what edit makes of a copy of it. Writers
// take turns; readers never wait.
func (r *Router) change(edit func(ps []*upstream.Provider, st map[*upstream.Provider]Stage) []*upstream.Provider) {
	r.rosterMu.Lock()
	defer r.rosterMu.Unlock()
	old := r.list()
	st := make(map[*upstream.Provider]Stage, len(old.stages)+1)
	for p, s := range old.stages {
		st[p] = s
	}
	ps := edit(slices.Clone(old.providers), st)
	for p, s := range st {
		if s == Admitted || !slices.Contains(ps, p) {
			delete(st, p) // absent is admitted: a chain without stages looks nothing up
		}
	}
	if len(st) == 0 {
		st = nil
	}
	r.roster.Store(rosterOf(ps, st))
}

// Add adds p to the router's providers in stage s (a provider of the same
// name is replaced).
func (r *Router) Add(p *upstream.Provider, s Stage) {
	r.privacy.add(p.Labels().Operator) // before it can be picked
	r.change(func(ps []*upstream.Provider, st map[*upstream.Provider]Stage) []*upstream.Provider {
		ps = slices.DeleteFunc(ps, func(x *upstream.Provider) bool { return x.Name() == p.Name() })
		st[p] = s
		return append(ps, p)
	})
}

// Remove takes the provider named name out of routing and returns it (nil
// when unknown). Calls already running on it go on; new ones go elsewhere.
func (r *Router) Remove(name string) *upstream.Provider {
	var gone *upstream.Provider
	r.change(func(ps []*upstream.Provider, _ map[*upstream.Provider]Stage) []*upstream.Provider {
		return slices.DeleteFunc(ps, func(x *upstream.Provider) bool {
			if x.Name() == name {
				gone = x
				return true
			}
			return false
		})
	})
	return gone
}

// SetStage sets the stage of the provider named name; false when unknown.
func (r *Router) SetStage(name string, s Stage) bool {
	found := false
	r.change(func(ps []*upstream.Provider, st map[*upstream.Provider]Stage) []*upstream.Provider {
		for _, p := range ps {
			if p.Name() == name {
				st[p], found = s, true
			}
		}
		return ps
	})
	return found
}

// StageOf is the stage of the provider named name (Admitted when unknown).
func (r *Router) StageOf(name string) Stage {
	ro := r.list()
	for _, p := range ro.providers {
		if p.Name() == name {
			return ro.stage(p)
		}
	}
	return Admitted
}

// ProbationShare returns the provider's share of the chain's attempts
// over the share window (counted while some provider is on probation).
func (r *Router) ProbationShare(name string) float64 { return r.probation.share(name) }

// admits is the stage rule of the hard filters: a candidate takes no
// call; a probation provider only a call whose answer is verified, and
// only while its share of the window stays under the cap.
func (r *Router) admits(ro *roster, p *upstream.Provider, req *Request) bool {
	switch ro.stage(p) {
	case Candidate:
		return false
	case Probation:
		return req.Verified && !r.probation.wouldExceed(p.Name(), r.probationCap)
	}
	return true
}

// pickProbation takes the candidates on probation out of cands and, with
// probability twice probationCap (or when no other candidate is left),
// returns one of them: a provider on probation is tried on verified calls
// whatever its tier, so that it can earn its admission, and the cap
// (admits) holds it to its share.
func (r *Router) pickProbation(ro *roster, cands []candidate) ([]candidate, *upstream.Provider) {
	var onProbation []*upstream.Provider
	n := 0
	for _, c := range cands {
		if ro.stage(c.p) == Probation {
			onProbation = append(onProbation, c.p)
			continue
		}
		cands[n] = c
		n++
	}
	cands = cands[:n]
	if len(onProbation) > 0 && (n == 0 || rand.Float64() < 2*r.probationCap) {
		return cands, onProbation[rand.IntN(len(onProbation))]
	}
	return cands, nil
}

// count counts one attempt at p in the share windows: the diversity caps'
// and, while a provider is on probation, the probation cap's.
func (r *Router) count(now time.Time, p *upstream.Provider) {
	l := p.Labels()
	r.shares.add(now, l.Operator, l.Cloud)
	if r.list().probation {
		r.probation.add(now, p.Name(), "")
	}
}

// probationWindow counts attempts per provider for the probation cap (a
// shareWindow keyed by provider name).
type probationWindow struct{ *shareWindow }

// wouldExceed reports whether one more attempt at provider would take its
// share of the window above limit: checked before the attempt, so that the
// share stays at or under the cap (callers racing between the check and
// the count may overshoot by the calls in flight).
func (w probationWindow) wouldExceed(provider string, limit float64) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return float64(w.operator[provider]+1)/float64(w.total+1) > limit
}

// share is provider's share of the window.
func (w probationWindow) share(provider string) float64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.total == 0 {
		return 0
	}
	return float64(w.operator[provider]) / float64(w.total)
}
