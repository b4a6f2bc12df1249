package metrics

import (
	"strconv"

	vm "github.com/VictoriaMetrics/metrics"
)

// WS holds the WebSocket front door's metrics; it is the front door's
// observer (wsfront.Observer). Safe for concurrent use.
type WS struct {
	open        *family[*vm.Gauge]   // rpcmesh_ws_connections_open
	accepted    *family[*vm.Counter] // rpcmesh_ws_connections_accepted_total
	rejected    *family[*vm.Counter] // rpcmesh_ws_connections_rejected_total
	disconnects *family[*vm.Counter] // rpcmesh_ws_disconnects_total
	slowReaders *family[*vm.Counter] // rpcmesh_ws_slow_reader_disconnects_total
	subs        *family[*vm.Gauge]   // rpcmesh_ws_subscriptions_active
}

// NewWS makes the WebSocket metrics in m's set.
func NewWS(m *Metrics) *WS {
	return &WS{
		open:     m.gauges("rpcmesh_ws_connections_open", "WebSocket connections open, by chain.", "chain"),
		accepted: m.counters("rpcmesh_ws_connections_accepted_total", "WebSocket upgrades accepted, by chain.", "chain"),
		rejected: m.counters("rpcmesh_ws_connections_rejected_total",
			"WebSocket upgrades refused, by chain and reason: per_ip_limit, shutting_down, origin, handshake.", "chain", "reason"),
		disconnects: m.counters("rpcmesh_ws_disconnects_total",
			"WebSocket connections ended, by chain and close code (the gateway's if it closed first, else the client's; 1006: dropped without a close frame; other: a code outside 1000-1015).", "chain", "code"),
		slowReaders: m.counters("rpcmesh_ws_slow_reader_disconnects_total",
			"WebSocket clients disconnected because their send queue filled (close 1008); the messages that did not fit were dropped.", "chain"),
		subs: m.gauges("rpcmesh_ws_subscriptions_active", "eth_subscribe subscriptions open, by chain and kind.", "chain", "kind"),
	}
}

// ConnAccepted counts an accepted connection, open until ConnClosed.
func (w *WS) ConnAccepted(chain string) {
	w.accepted.with(labelValues{chain}).Inc()
	w.open.with(labelValues{chain}).Inc()
}

// ConnRejected counts a refused upgrade.
func (w *WS) ConnRejected(chain, reason string) {
	w.rejected.with(labelValues{chain, reason}).Inc()
}

// ConnClosed counts an ended connection by its close code.
func (w *WS) ConnClosed(chain string, code int) {
	w.open.with(labelValues{chain}).Dec()
	w.disconnects.with(labelValues{chain, closeCodeLabel(code)}).Inc()
}

// SlowReader counts a client disconnected for a full send queue.
func (w *WS) SlowReader(chain string) {
	w.slowReaders.with(labelValues{chain}).Inc()
}

// Subscriptions moves the active subscriptions of kind by delta.
func (w *WS) Subscriptions(chain, kind string, delta int) {
	w.subs.with(labelValues{chain, kind}).Add(float64(delta))
}

// closeCodeLabel bounds the code label: clients may close with any code
// from 3000 to 4999, which would be a series each.
func closeCodeLabel(code int) string {
	if code >= 1000 && code <= 1015 {
		return strconv.Itoa(code)
	}
	return "other"
}
