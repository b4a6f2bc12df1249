package metrics

import vm "github.com/VictoriaMetrics/metrics"

// Verify holds the verification stage's metrics: answers by how they were
// established, and provider answers that failed verification. Safe for
// concurrent use.
type Verify struct {
	answers  *family[*vm.Counter] // rpcmesh_verified_answers_total
	rejected *family[*vm.Counter] // rpcmesh_verify_rejected_total
}

// NewVerify makes the verification metrics in m's set.
func NewVerify(m *Metrics) *Verify {
	return &Verify{
		answers: m.counters("rpcmesh_verified_answers_total",
			"Answers of the verification stage, by chain, method and how each was established: proof, quorum or trusted (one provider).", "chain", "method", "class"),
		rejected: m.counters("rpcmesh_verify_rejected_total",
			"Provider answers that failed verification (each is evidence on /verify/evidence), by chain, provider, method and what failed.", "chain", "provider", "method", "kind"),
	}
}

// Answered counts one answer by how it was established.
func (v *Verify) Answered(chain, method, class string) {
	v.answers.with(labelValues{chain, MethodLabel(method), class}).Inc()
}

// Rejected counts one provider answer that failed verification.
func (v *Verify) Rejected(chain, provider, method, kind string) {
	v.rejected.with(labelValues{chain, provider, MethodLabel(method), kind}).Inc()
}
