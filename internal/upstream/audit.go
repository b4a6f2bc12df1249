package upstream

import (
	"context"
	"encoding/json"
)

// AuditCall sends one call of the continuous audit (internal/audit). It
// goes as Call does (breaker, Retry-After, concurrency slot, rate limit)
// and its outcome counts in the provider's availability and latency, but
// not in Requests, which counts clients' traffic (health checks are not
// counted either), and it is never merged with clients' calls.
func (p *Provider) AuditCall(ctx context.Context, method string, params json.RawMessage) (json.RawMessage, error) {
	return p.send(ctx, method, params, false, false)
}
