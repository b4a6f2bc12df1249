package txbroadcast

import (
	"context"
	"encoding/json"
	"slices"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/config"
	"github.com/rpcmesh/rpcmesh/internal/route"
	"github.com/rpcmesh/rpcmesh/internal/upstream"
)

// Target is a provider a transaction can be sent to (*upstream.Provider
// is one; tests use fakes).
type Target interface {
	Name() string
	Labels() config.Labels
	Call(ctx context.Context, method string, params json.RawMessage) (json.RawMessage, error)
}

// Ranked orders the usable providers for a broadcast: fewest censorship
// records first (penalty returns a provider's count), then best tier, then
// routing score. Providers with an open breaker, a pending Retry-After or a
// wrong chain are left out; if that leaves none, those with an open breaker
// or a Retry-After are returned (called as a last resort, as routing does),
// so that an overload that tripped every breaker does not stop transactions.
func Ranked(providers []*upstream.Provider, penalty func(name string) int) []Target {
	if out := ranked(providers, penalty, false); len(out) > 0 {
		return out
	}
	return ranked(providers, penalty, true)
}

// lastResort calls a provider whose breaker is open.
type lastResort struct{ *upstream.Provider }

// Call sends the call despite the breaker (upstream.Provider.CallLastResort).
func (l lastResort) Call(ctx context.Context, method string, params json.RawMessage) (json.RawMessage, error) {
	return l.CallLastResort(ctx, method, params)
}

func ranked(providers []*upstream.Provider, penalty func(name string) int, last bool) []Target {
	now := time.Now()
	type ranked struct {
		p       *upstream.Provider
		penalty int
		tier    int
		score   float64
	}
	var rs []ranked
	for _, p := range providers {
		s := p.RouteSnapshot(now)
		if !last && !s.Usable() || last && !s.LastResort() {
			continue
		}
		r := ranked{p: p, tier: s.Tier, score: route.Score(&s, 50*time.Millisecond)}
		if penalty != nil {
			r.penalty = penalty(p.Name())
		}
		if s.Degraded {
			r.score *= 10
		}
		rs = append(rs, r)
	}
	slices.SortStableFunc(rs, func(a, b ranked) int {
		switch {
		case a.penalty != b.penalty:
			return a.penalty - b.penalty
		case a.tier != b.tier:
			return a.tier - b.tier
		case a.score < b.score:
			return -1
		case a.score > b.score:
			return 1
		}
		return 0
	})
	out := make([]Target, len(rs))
	for i, r := range rs {
		out[i] = r.p
		if last {
			out[i] = lastResort{r.p}
		}
	}
	return out
}

// Distinct picks up to k targets from ranked (in its order), skipping
// names in skip: first only targets whose operator and cloud are both new,
// then, if fewer than k, targets of a new operator on a cloud already
// chosen. Two targets of one operator are never picked.
func Distinct(ranked []Target, k int, skip map[string]bool) []Target {
	var out []Target
	ops, clouds := map[string]bool{}, map[string]bool{}
	for _, pass := range []bool{true, false} {
		for _, t := range ranked {
			if len(out) >= k {
				return out
			}
			l := t.Labels()
			if skip[t.Name()] || ops[operator(t)] || pass && l.Cloud != "" && clouds[l.Cloud] {
				continue
			}
			out = append(out, t)
			ops[operator(t)] = true
			if l.Cloud != "" {
				clouds[l.Cloud] = true
			}
		}
	}
	return out
}

// operator is the target's operator, its name when it has none.
func operator(t Target) string {
	if op := t.Labels().Operator; op != "" {
		return op
	}
	return t.Name()
}
