package metrics

import vm "github.com/VictoriaMetrics/metrics"

// newPrivacyCounter makes the privacy policy's counter (docs/privacy.md),
// rpcmesh_privacy_routes_total: attempts routed by the privacy policy
// (routing.privacy: spread), by chain and outcome: sticky (to the operator
// the addresses are kept with), assigned (a new address, to an operator
// under its share), over_cap (a new address, to an operator over its
// share: privacy yielded to availability), fallback (the addresses'
// operator could not serve: another operator saw them).
func (m *Metrics) newPrivacyCounter() *family[*vm.Counter] {
	return m.counters("rpcmesh_privacy_routes_total",
		"Attempts routed by the privacy policy (routing.privacy: spread), by chain and outcome: sticky, assigned, over_cap (privacy yielded to availability) or fallback.", "chain", "outcome")
}

// Privacy counts one attempt routed by the privacy policy
// (route.PrivacyObserver).
func (m *Metrics) Privacy(chain, outcome string) {
	m.privacy.with(labelValues{chain, outcome}).Inc()
}
