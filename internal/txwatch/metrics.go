package txwatch

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the transaction watch's metrics, shared by every chain's
// watcher. Nil-safe: a nil *Metrics records nothing.
type Metrics struct {
	sends        *prometheus.CounterVec
	censorship   *prometheus.CounterVec
	rebroadcasts *prometheus.CounterVec
	finished     *prometheus.CounterVec
}

// NewMetrics builds the metrics and registers them with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		sends: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rpcmesh_tx_sends_total", Help: "eth_sendRawTransaction sends to providers, by outcome: accepted, rejected or failed.",
		}, []string{"chain", "provider", "outcome"}),
		censorship: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rpcmesh_tx_censorship_total", Help: "Transactions a provider accepted, did not hold, and that were mined through others.",
		}, []string{"chain", "provider", "operator"}),
		rebroadcasts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rpcmesh_tx_rebroadcasts_total", Help: "Re-broadcasts of transactions that neither spread nor were included.",
		}, []string{"chain"}),
		finished: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rpcmesh_tx_watch_finished_total", Help: "Tracked transactions that left the watch, by final state.",
		}, []string{"chain", "state"}),
	}
	reg.MustRegister(m.sends, m.censorship, m.rebroadcasts, m.finished)
	return m
}

func (m *Metrics) send(chain, provider, outcome string) {
	if m != nil {
		m.sends.WithLabelValues(chain, provider, outcome).Inc()
	}
}

func (m *Metrics) censor(chain, provider, operator string) {
	if m != nil {
		m.censorship.WithLabelValues(chain, provider, operator).Inc()
	}
}

func (m *Metrics) rebroadcast(chain string) {
	if m != nil {
		m.rebroadcasts.WithLabelValues(chain).Inc()
	}
}

func (m *Metrics) finish(chain string, s State) {
	if m != nil {
		m.finished.WithLabelValues(chain, string(s)).Inc()
	}
}
