package config

import (
	"encoding/hex"
	"fmt"
	"strings"
	"time"
)

// Audit configures the continuous audit (docs/audit.md): every provider,
// reserve tiers that get no traffic included, is sent a steady trickle of
// calls whose answers are proven against headers the admitted operators
// agree on; a provider caught lying is penalised as a failed verification
// is, with evidence of kind "audit". Audit calls go to each provider
// directly, never through routing: they count in its availability and
// latency, not in route shares or metering.
type Audit struct {
	// Enabled turns the audit on for every chain that verifies answers
	// (verify.enabled): true.
	Enabled bool `yaml:"enabled"`
	// CallsPerMinute bounds the audit calls one provider is sent: 6 (a
	// check is one to three calls; header fetches to prove it come on top,
	// from providers of the chain, about one per new block, cached).
	CallsPerMinute float64 `yaml:"calls_per_minute"`
	// Concurrency bounds the checks running at once on one chain: 2.
	Concurrency int `yaml:"concurrency"`
	// Timeout bounds one check, its calls and header fetches: 10s.
	Timeout Duration `yaml:"timeout"`
	// Depth is how far below the agreed head a check picks its block, at
	// random: 32 blocks (at most verify.max_walk_blocks). The head itself
	// is left out: a provider a block behind has not lied.
	Depth int `yaml:"depth"`
	// Addresses are accounts every check may prove besides those found in
	// recent blocks (senders, recipients, fee recipients) and random ones
	// (proofs of absence). At most MaxAuditAddresses.
	Addresses []string `yaml:"addresses,omitempty"`
	// Propagation is the sent-transaction propagation check.
	Propagation AuditPropagation `yaml:"propagation"`
}

// Bounds of the audit section.
const (
	MaxAuditAddresses      = 1000
	maxAuditCallsPerMinute = 6000
	maxAuditConcurrency    = 64
	maxAuditTimeout        = Duration(5 * time.Minute)
)

// DefaultAudit returns the default audit settings: on, 6 calls a minute
// per provider.
func DefaultAudit() Audit {
	return Audit{Enabled: true, CallsPerMinute: 6, Concurrency: 2, Timeout: Duration(10 * time.Second), Depth: 32,
		Propagation: DefaultAuditPropagation()}
}

func (v *validator) audit(c *Config) {
	a := &c.Audit
	if a.CallsPerMinute <= 0 || a.CallsPerMinute > maxAuditCallsPerMinute {
		v.errorf("audit.calls_per_minute", "must be above 0 and at most %d, got %g", maxAuditCallsPerMinute, a.CallsPerMinute)
	}
	v.within("audit.concurrency", a.Concurrency, 1, maxAuditConcurrency)
	v.positive("audit.timeout", a.Timeout)
	if a.Timeout > maxAuditTimeout {
		v.errorf("audit.timeout", "%s is over %s", a.Timeout, maxAuditTimeout)
	}
	v.within("audit.depth", a.Depth, 1, max(c.Verify.MaxWalkBlocks, 1))
	if len(a.Addresses) > MaxAuditAddresses {
		v.errorf("audit.addresses", "%d addresses, at most %d", len(a.Addresses), MaxAuditAddresses)
	}
	v.auditPropagation(&a.Propagation)
	for i, s := range a.Addresses {
		if b, err := hex.DecodeString(strings.TrimPrefix(s, "0x")); err != nil || len(b) != 20 || !strings.HasPrefix(s, "0x") {
			v.errorf(fmt.Sprintf("audit.addresses[%d]", i), "%s is not a 0x-prefixed 20-byte hex address", quote(s))
		}
	}
}
