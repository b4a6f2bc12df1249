package config

import "time"

// AuditPropagation configures the audit's sent-transaction propagation
// check (docs/audit.md): a transaction users sent through the gateway
// that is still pending or recently included is handed, as the same
// public raw bytes, to a provider the broadcast did not send it to; a
// provider that acknowledges it and still does not know it after Wait,
// while another operator does, is penalised as a censor. No transaction
// of the gateway's own is sent and no gas is spent.
type AuditPropagation struct {
	// Enabled turns the check on wherever the audit runs: true.
	Enabled bool `yaml:"enabled"`
	// ChecksPerMinute bounds the checks one provider gets: 1 (a check is
	// up to four calls to it and one or two to other operators).
	ChecksPerMinute float64 `yaml:"checks_per_minute"`
	// Transactions bounds the recent transactions a check picks from: 32.
	Transactions int `yaml:"transactions"`
	// MaxAge is how long after its first send a transaction may be used:
	// 2m.
	MaxAge Duration `yaml:"max_age"`
	// Wait is how long a provider has to know a transaction it
	// acknowledged: 5s (polled, so an honest provider passes sooner).
	Wait Duration `yaml:"wait"`
}

// Bounds of audit.propagation.
const (
	maxPropagationPerMinute = 600
	maxPropagationTxs       = 1024
	maxPropagationDuration  = Duration(time.Hour)
	maxPropagationWait      = Duration(5 * time.Minute)
)

// DefaultAuditPropagation returns the propagation check's defaults: on,
// one check a minute per provider.
func DefaultAuditPropagation() AuditPropagation {
	return AuditPropagation{Enabled: true, ChecksPerMinute: 1, Transactions: 32,
		MaxAge: Duration(2 * time.Minute), Wait: Duration(5 * time.Second)}
}

func (v *validator) auditPropagation(p *AuditPropagation) {
	if !p.Enabled {
		return
	}
	if p.ChecksPerMinute <= 0 || p.ChecksPerMinute > maxPropagationPerMinute {
		v.errorf("audit.propagation.checks_per_minute", "must be above 0 and at most %d, got %g", maxPropagationPerMinute, p.ChecksPerMinute)
	}
	v.within("audit.propagation.transactions", p.Transactions, 1, maxPropagationTxs)
	v.positive("audit.propagation.max_age", p.MaxAge)
	if p.MaxAge > maxPropagationDuration {
		v.errorf("audit.propagation.max_age", "%s is over %s", p.MaxAge, maxPropagationDuration)
	}
	v.positive("audit.propagation.wait", p.Wait)
	if p.Wait > maxPropagationWait {
		v.errorf("audit.propagation.wait", "%s is over %s", p.Wait, maxPropagationWait)
	}
}
