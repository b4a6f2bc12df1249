package stage

import (
	"context"
	"encoding/json"
	"errors"
	"sort"
	"sync"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/route"
	"github.com/rpcmesh/rpcmesh/internal/upstream"
)

// ErrNoProvider means no provider is left to ask.
var ErrNoProvider = errors.New("no provider left to ask")

// Request is one call the stage sends to providers.
type Request struct {
	Method string
	Params json.RawMessage
	// Block, when HasBlock, is the block the call reads: only providers
	// that have it qualify.
	Block    uint64
	HasBlock bool
}

// Answer is one provider's answer.
type Answer struct {
	Provider string
	Operator string
	Value    json.RawMessage
	Err      error
}

// Asker is what the stage needs from routing: ask one provider it has not
// tried (so that a liar's call is retried elsewhere), or k providers of k
// distinct operators at once (quorum), and penalise a provider caught lying.
type Asker interface {
	// Ask sends req to one usable provider whose name is not in avoid.
	Ask(ctx context.Context, req Request, avoid map[string]bool) Answer
	// AskProvider sends req to the named provider (follow-up calls of one
	// verification go to the provider that gave the first answer, so a
	// failure is blamed on the right one).
	AskProvider(ctx context.Context, provider string, req Request) Answer
	// AskDistinct sends req to up to k providers of distinct operators at
	// once and returns every answer (fewer when fewer operators qualify).
	AskDistinct(ctx context.Context, req Request, k int) []Answer
	// Penalise lowers the routing score of a provider whose answer failed
	// verification.
	Penalise(provider string, reason string)
}

// Providers is an Asker over a chain's upstream providers, until routing
// offers these calls itself: it orders usable providers by route.Score and
// skips those that have not reached the block. It cannot change scores:
// Penalise only counts, for Penalties.
type Providers struct {
	List []*upstream.Provider

	mu        sync.Mutex
	penalties map[string]int
}

// Ask sends req to the best-scored usable provider not in avoid.
func (p *Providers) Ask(ctx context.Context, req Request, avoid map[string]bool) Answer {
	for _, pr := range p.ordered(req) {
		if avoid[pr.Name()] {
			continue
		}
		v, err := pr.Call(ctx, req.Method, req.Params)
		return Answer{Provider: pr.Name(), Operator: pr.Labels().Operator, Value: v, Err: err}
	}
	return Answer{Err: ErrNoProvider}
}

// AskProvider sends req to the named provider.
func (p *Providers) AskProvider(ctx context.Context, provider string, req Request) Answer {
	for _, pr := range p.List {
		if pr.Name() == provider {
			v, err := pr.Call(ctx, req.Method, req.Params)
			return Answer{Provider: pr.Name(), Operator: pr.Labels().Operator, Value: v, Err: err}
		}
	}
	return Answer{Provider: provider, Err: ErrNoProvider}
}

// AskDistinct sends req to the best provider of each of up to k operators.
func (p *Providers) AskDistinct(ctx context.Context, req Request, k int) []Answer {
	var picked []*upstream.Provider
	seen := map[string]bool{}
	for _, pr := range p.ordered(req) {
		if op := pr.Labels().Operator; !seen[op] && len(picked) < k {
			seen[op] = true
			picked = append(picked, pr)
		}
	}
	out := make([]Answer, len(picked))
	var wg sync.WaitGroup
	for i, pr := range picked {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, err := pr.Call(ctx, req.Method, req.Params)
			out[i] = Answer{Provider: pr.Name(), Operator: pr.Labels().Operator, Value: v, Err: err}
		}()
	}
	wg.Wait()
	return out
}

// Penalise counts a failed verification against provider.
func (p *Providers) Penalise(provider string, _ string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.penalties == nil {
		p.penalties = map[string]int{}
	}
	p.penalties[provider]++
}

// Penalties returns how often each provider was penalised.
func (p *Providers) Penalties() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[string]int, len(p.penalties))
	for k, v := range p.penalties {
		out[k] = v
	}
	return out
}

// ordered returns the usable providers that have req's block, best score
// first, penalised ones last.
func (p *Providers) ordered(req Request) []*upstream.Provider {
	now := time.Now()
	type cand struct {
		p     *upstream.Provider
		score float64
	}
	p.mu.Lock()
	pen := make(map[string]int, len(p.penalties))
	for k, v := range p.penalties {
		pen[k] = v
	}
	p.mu.Unlock()
	var cs []cand
	for _, pr := range p.List {
		s := pr.Snapshot(now)
		if !s.Usable() || (req.HasBlock && s.HeadNumber < req.Block) {
			continue
		}
		cs = append(cs, cand{pr, route.Score(&s, 50*time.Millisecond) * float64(1+pen[pr.Name()])})
	}
	sort.SliceStable(cs, func(i, j int) bool { return cs[i].score < cs[j].score })
	out := make([]*upstream.Provider, len(cs))
	for i, c := range cs {
		out[i] = c.p
	}
	return out
}
