package upstream

import (
	"context"
	"encoding/json"
	"time"
)

// AuditCall sends one call of the continuous audit (internal/audit). It
// goes as Call does (breaker, Retry-After, concurrency slot, rate limit)
// and its outcome counts in the provider's availability and latency, but
// not in Requests, which counts clients' traffic (health checks are not
// counted either), and it is never merged with clients' calls.
func (p *Provider) AuditCall(ctx context.Context, method string, params json.RawMessage) (json.RawMessage, error) {
	if err := p.acquire(ctx, method, false, 1); err != nil {
		return nil, err
	}
	defer p.release()
	id := p.seq.Add(1)
	start := time.Now()
	p.mu.Lock()
	p.inflight[id] = start // a hung audit call shows as stalled, as any call
	p.mu.Unlock()

	res, err := p.post(ctx, id, method, params)

	p.mu.Lock()
	delete(p.inflight, id)
	p.mu.Unlock()
	p.record(start, err, false)
	return res, err
}
