package route

import (
	"context"
	"encoding/json"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/upstream"
)

// The calls below let a stage that must choose its providers itself (the
// verification stage: retry a liar's call elsewhere, ask k operators at
// once, follow up with the provider that answered) use routing's choice,
// share accounting and timeouts instead of bypassing them.

// Pick returns the provider routing would choose for req now, skipping the
// providers named in avoid, or nil when none qualifies. When no provider
// is usable it may return one whose breaker is open (as Do would).
func (r *Router) Pick(req *Request, avoid map[string]bool) *upstream.Provider {
	var t tried
	for _, p := range r.Providers() {
		if avoid[p.Name()] {
			t.exclude(p) // without preferring other operators
		}
	}
	p, _ := r.pick(req, &t, false)
	return p
}

// PickDistinct returns up to k providers of k distinct operators, on
// distinct clouds where there are enough, best first, leaving out the
// providers and operators named in avoid and avoidOperators (either may be
// nil). Fewer are returned when fewer operators qualify. Only admitted
// providers are picked: these are votes (a quorum, an agreed header).
func (r *Router) PickDistinct(req *Request, k int, avoid, avoidOperators map[string]bool) []*upstream.Provider {
	var t tried
	ro := r.list()
	for _, p := range ro.providers {
		if avoid[p.Name()] || ro.stage(p) != Admitted {
			t.exclude(p)
		}
	}
	for op := range avoidOperators {
		t.excludeOperator(op)
	}
	var out []*upstream.Provider
	for len(out) < k {
		p := r.pickFrom(req, &t, true, false)
		if p == nil {
			break
		}
		t.add(p)
		out = append(out, p)
		if len(out) == 1 && req.Client != "" {
			// The first goes to the operator the privacy policy keeps the
			// call's addresses with; a quorum shows them to k-1 more
			// (docs/privacy.md), the same ones each time it is asked.
			more := *req
			more.quorum = true
			req = &more
		}
	}
	return out
}

// Provider returns the chain's provider named name, or nil.
func (r *Router) Provider(name string) *upstream.Provider {
	for _, p := range r.Providers() {
		if p.Name() == name {
			return p
		}
	}
	return nil
}

// Call sends req to p as one attempt: bounded by the provider timeout,
// counted in the diversity share window and reported to the observer.
func (r *Router) Call(ctx context.Context, p *upstream.Provider, req *Request) (json.RawMessage, error) {
	start := time.Now()
	r.count(start, p)
	cctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	v, err := p.Call(cctx, req.Method, req.Params)
	r.observe(p, req.Method, time.Since(start), err)
	r.serve(p, req.Method, err)
	return v, err
}
