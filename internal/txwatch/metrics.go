package txwatch

import "github.com/rpcmesh/rpcmesh/internal/metrics"

// Metrics are the transaction watch's metrics, shared by every chain's
// watcher. Nil-safe: a nil *Metrics records nothing.
type Metrics struct {
	sends        *metrics.CounterVec // rpcmesh_tx_sends_total
	censorship   *metrics.CounterVec // rpcmesh_tx_censorship_total
	rebroadcasts *metrics.CounterVec // rpcmesh_tx_rebroadcasts_total
	finished     *metrics.CounterVec // rpcmesh_tx_watch_finished_total
}

// NewMetrics makes the metrics in the gateway's set.
func NewMetrics(m *metrics.Metrics) *Metrics {
	return &Metrics{
		sends: m.NewCounterVec("rpcmesh_tx_sends_total",
			"eth_sendRawTransaction sends to providers, by outcome: accepted, rejected or failed.", "chain", "provider", "outcome"),
		censorship: m.NewCounterVec("rpcmesh_tx_censorship_total",
			"Transactions a provider accepted, did not hold, and that were mined through others.", "chain", "provider", "operator"),
		rebroadcasts: m.NewCounterVec("rpcmesh_tx_rebroadcasts_total",
			"Re-broadcasts of transactions that neither spread nor were included.", "chain"),
		finished: m.NewCounterVec("rpcmesh_tx_watch_finished_total",
			"Tracked transactions that left the watch, by final state.", "chain", "state"),
	}
}

func (m *Metrics) send(chain, provider, outcome string) {
	if m != nil {
		m.sends.Inc(chain, provider, outcome)
	}
}

func (m *Metrics) censor(chain, provider, operator string) {
	if m != nil {
		m.censorship.Inc(chain, provider, operator)
	}
}

func (m *Metrics) rebroadcast(chain string) {
	if m != nil {
		m.rebroadcasts.Inc(chain)
	}
}

func (m *Metrics) finish(chain string, s State) {
	if m != nil {
		m.finished.Inc(chain, string(s))
	}
}
