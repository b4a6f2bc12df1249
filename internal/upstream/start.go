package upstream

import "encoding/json"

// Completer receives the outcome of a call started with Provider.Start.
type Completer interface {
	Complete(result json.RawMessage, err error)
}

// Start begins nothing and reports false: every call goes through Call,
// on the caller's goroutine. It remains only so that callers written for
// the former WebSocket fast path keep building; it goes with CallContext.
func (p *Provider) Start(_ *CallContext, _ string, _ json.RawMessage, _ bool, _ Completer) bool {
	return false
}
