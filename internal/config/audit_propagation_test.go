package config

import (
	"testing"
	"time"
)

func TestAuditPropagationValidation(t *testing.T) {
	d := DefaultAudit().Propagation
	if !d.Enabled || d.ChecksPerMinute != 1 || d.Transactions != 32 || d.MaxAge.D() != 2*time.Minute || d.Wait.D() != 5*time.Second {
		t.Fatalf("defaults %+v", d)
	}
	tests := []struct {
		name, path, msg string
		edit            func(*AuditPropagation)
	}{
		{"zero rate", "audit.propagation.checks_per_minute", "must be above 0", func(p *AuditPropagation) { p.ChecksPerMinute = 0 }},
		{"huge rate", "audit.propagation.checks_per_minute", "at most 600", func(p *AuditPropagation) { p.ChecksPerMinute = 1e4 }},
		{"no transactions", "audit.propagation.transactions", "must be 1 to 1024, got 0", func(p *AuditPropagation) { p.Transactions = 0 }},
		{"zero max age", "audit.propagation.max_age", "must be a positive duration", func(p *AuditPropagation) { p.MaxAge = 0 }},
		{"long max age", "audit.propagation.max_age", "is over 1h0m0s", func(p *AuditPropagation) { p.MaxAge = Duration(2 * time.Hour) }},
		{"zero wait", "audit.propagation.wait", "must be a positive duration", func(p *AuditPropagation) { p.Wait = 0 }},
		{"long wait", "audit.propagation.wait", "is over 5m0s", func(p *AuditPropagation) { p.Wait = Duration(time.Hour) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := oneChainConfig()
			tt.edit(&c.Audit.Propagation)
			wantFieldError(t, c.Validate(), tt.path, tt.msg)
		})
	}
	// Off, its bounds are not checked.
	c := oneChainConfig()
	c.Audit.Propagation = AuditPropagation{}
	if err := c.Validate(); err != nil {
		t.Fatalf("propagation off: %v", err)
	}
	// YAML overrides one key and keeps the other defaults.
	c = parseWant(t, "audit:\n  propagation:\n    wait: 2s", "")
	if p := c.Audit.Propagation; p.Wait.D() != 2*time.Second || !p.Enabled || p.Transactions != 32 {
		t.Fatalf("parsed %+v", p)
	}
}
