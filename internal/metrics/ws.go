package metrics

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

// WS holds the WebSocket front door's metrics; it is the front door's
// observer (wsfront.Observer). Safe for concurrent use.
type WS struct {
	open        *prometheus.GaugeVec
	accepted    *prometheus.CounterVec
	rejected    *prometheus.CounterVec
	disconnects *prometheus.CounterVec
	slowReaders *prometheus.CounterVec
	subs        *prometheus.GaugeVec
}

// NewWS builds the WebSocket metrics and registers them with reg (the
// gateway's Metrics.Registry); call it once per registry.
func NewWS(reg prometheus.Registerer) *WS {
	w := &WS{
		open: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "rpcmesh_ws_connections_open", Help: "WebSocket connections open, by chain.",
		}, []string{"chain"}),
		accepted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rpcmesh_ws_connections_accepted_total", Help: "WebSocket upgrades accepted, by chain.",
		}, []string{"chain"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rpcmesh_ws_connections_rejected_total", Help: "WebSocket upgrades refused, by chain and reason: per_ip_limit, shutting_down, origin, handshake.",
		}, []string{"chain", "reason"}),
		disconnects: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rpcmesh_ws_disconnects_total", Help: "WebSocket connections ended, by chain and close code (the gateway's if it closed first, else the client's; 1006: dropped without a close frame; other: a code outside 1000-1015).",
		}, []string{"chain", "code"}),
		slowReaders: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rpcmesh_ws_slow_reader_disconnects_total", Help: "WebSocket clients disconnected because their send queue filled (close 1008); the messages that did not fit were dropped.",
		}, []string{"chain"}),
		subs: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "rpcmesh_ws_subscriptions_active", Help: "eth_subscribe subscriptions open, by chain and kind.",
		}, []string{"chain", "kind"}),
	}
	reg.MustRegister(w.open, w.accepted, w.rejected, w.disconnects, w.slowReaders, w.subs)
	return w
}

// ConnAccepted counts an accepted connection, open until ConnClosed.
func (w *WS) ConnAccepted(chain string) {
	w.accepted.WithLabelValues(chain).Inc()
	w.open.WithLabelValues(chain).Inc()
}

// ConnRejected counts a refused upgrade.
func (w *WS) ConnRejected(chain, reason string) {
	w.rejected.WithLabelValues(chain, reason).Inc()
}

// ConnClosed counts an ended connection by its close code.
func (w *WS) ConnClosed(chain string, code int) {
	w.open.WithLabelValues(chain).Dec()
	w.disconnects.WithLabelValues(chain, closeCodeLabel(code)).Inc()
}

// SlowReader counts a client disconnected for a full send queue.
func (w *WS) SlowReader(chain string) {
	w.slowReaders.WithLabelValues(chain).Inc()
}

// Subscriptions moves the active subscriptions of kind by delta.
func (w *WS) Subscriptions(chain, kind string, delta int) {
	w.subs.WithLabelValues(chain, kind).Add(float64(delta))
}

// closeCodeLabel bounds the code label: clients may close with any code
// from 3000 to 4999, which would be a series each.
func closeCodeLabel(code int) string {
	if code >= 1000 && code <= 1015 {
		return strconv.Itoa(code)
	}
	return "other"
}
