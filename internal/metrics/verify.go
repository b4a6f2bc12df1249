package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Verify holds the verification stage's metrics: answers by how they were
// established, and provider answers that failed verification. Safe for
// concurrent use.
type Verify struct {
	answers  *prometheus.CounterVec
	rejected *prometheus.CounterVec
}

// NewVerify builds the verification metrics and registers them with reg
// (the gateway's Metrics.Registry); call it once per registry.
func NewVerify(reg prometheus.Registerer) *Verify {
	v := &Verify{
		answers: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rpcmesh_verified_answers_total", Help: "Answers of the verification stage, by chain, method and how each was established: proof, quorum or trusted (one provider).",
		}, []string{"chain", "method", "class"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rpcmesh_verify_rejected_total", Help: "Provider answers that failed verification (each is evidence on /verify/evidence), by chain, provider, method and what failed.",
		}, []string{"chain", "provider", "method", "kind"}),
	}
	reg.MustRegister(v.answers, v.rejected)
	return v
}

// Answered counts one answer by how it was established.
func (v *Verify) Answered(chain, method, class string) {
	v.answers.WithLabelValues(chain, MethodLabel(method), class).Inc()
}

// Rejected counts one provider answer that failed verification.
func (v *Verify) Rejected(chain, provider, method, kind string) {
	v.rejected.WithLabelValues(chain, provider, MethodLabel(method), kind).Inc()
}
