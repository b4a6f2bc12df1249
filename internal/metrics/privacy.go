package metrics

import "github.com/prometheus/client_golang/prometheus"

// newPrivacyCounter builds the privacy policy's counter (docs/privacy.md).
func newPrivacyCounter() *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "rpcmesh_privacy_routes_total",
		Help: "Attempts routed by the privacy policy (routing.privacy: spread), by chain and outcome: sticky (to the operator the addresses are kept with), assigned (a new address, to an operator under its share), over_cap (a new address, to an operator over its share: privacy yielded to availability), fallback (the addresses' operator could not serve: another operator saw them).",
	}, []string{"chain", "outcome"})
}

// Privacy counts one attempt routed by the privacy policy
// (route.PrivacyObserver).
func (m *Metrics) Privacy(chain, outcome string) {
	m.privacy.WithLabelValues(chain, outcome).Inc()
}
