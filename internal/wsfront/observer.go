package wsfront

// Observer is told what happens to WebSocket clients, for metrics (the
// gateway passes a *metrics.WS; wsfront does not import metrics, as route
// does not). Its methods must be safe for concurrent use and not block.
type Observer interface {
	// ConnAccepted: a client's upgrade succeeded; its connection is open
	// until ConnClosed.
	ConnAccepted(chain string)
	// ConnRejected: a client was refused before or during the upgrade,
	// for one of the Reject* reasons.
	ConnRejected(chain, reason string)
	// ConnClosed: an accepted connection ended. code is the gateway's
	// close code when it closed first, the client's when the client did,
	// 1006 when the connection dropped without one.
	ConnClosed(chain string, code int)
	// SlowReader: a client was disconnected because its send queue filled
	// (close 1008); what did not fit was dropped.
	SlowReader(chain string)
	// Subscriptions: delta subscriptions of kind began (> 0) or ended (< 0).
	Subscriptions(chain, kind string, delta int)
}

// Reasons a connection is rejected.
const (
	RejectPerIPLimit = "per_ip_limit"  // over max_connections_per_ip (HTTP 429)
	RejectShutdown   = "shutting_down" // the server is closing
	RejectOrigin     = "origin"        // a browser origin not allowed (HTTP 403)
	RejectHandshake  = "handshake"     // not a valid WebSocket upgrade (HTTP 400)
)

// nopObserver is the Observer when none is given.
type nopObserver struct{}

func (nopObserver) ConnAccepted(string)               {}
func (nopObserver) ConnRejected(string, string)       {}
func (nopObserver) ConnClosed(string, int)            {}
func (nopObserver) SlowReader(string)                 {}
func (nopObserver) Subscriptions(string, string, int) {}
