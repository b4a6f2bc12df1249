package config

import (
	"strings"
	"testing"
	"time"
)

func TestAuditValidation(t *testing.T) {
	d := DefaultAudit()
	if !d.Enabled || d.CallsPerMinute != 6 || d.Concurrency != 2 || d.Timeout.D() != 10*time.Second || d.Depth != 32 {
		t.Fatalf("defaults %+v", d)
	}
	tests := []struct {
		name, path, msg string
		edit            func(*Audit)
	}{
		{"zero rate", "audit.calls_per_minute", "must be above 0", func(a *Audit) { a.CallsPerMinute = 0 }},
		{"huge rate", "audit.calls_per_minute", "at most 6000", func(a *Audit) { a.CallsPerMinute = 1e6 }},
		{"zero concurrency", "audit.concurrency", "must be 1 to 64, got 0", func(a *Audit) { a.Concurrency = 0 }},
		{"zero timeout", "audit.timeout", "must be a positive duration", func(a *Audit) { a.Timeout = 0 }},
		{"long timeout", "audit.timeout", "is over 5m0s", func(a *Audit) { a.Timeout = Duration(time.Hour) }},
		{"zero depth", "audit.depth", "must be 1 to 1024, got 0", func(a *Audit) { a.Depth = 0 }},
		{"depth past the walk", "audit.depth", "must be 1 to 1024, got 2000", func(a *Audit) { a.Depth = 2000 }},
		{"bad address", "audit.addresses[1]", `"0x12" is not a 0x-prefixed 20-byte hex address`, func(a *Audit) {
			a.Addresses = []string{"0x00000000000000000000000000000000000000aa", "0x12"}
		}},
		{"address without 0x", "audit.addresses[0]", "not a 0x-prefixed", func(a *Audit) { a.Addresses = []string{strings.Repeat("ab", 20)} }},
		{"too many addresses", "audit.addresses", "1001 addresses, at most 1000", func(a *Audit) {
			for range MaxAuditAddresses + 1 {
				a.Addresses = append(a.Addresses, "0x00000000000000000000000000000000000000aa")
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := oneChainConfig()
			tt.edit(&c.Audit)
			wantFieldError(t, c.Validate(), tt.path, tt.msg)
		})
	}
}

func TestAuditYAML(t *testing.T) {
	c := parseWant(t, `
audit:
  enabled: false
  calls_per_minute: 30
  concurrency: 4
  timeout: 3s
  depth: 8
  addresses: ["0x00000000000000000000000000000000000000aa"]`, "")
	a := c.Audit
	if a.Enabled || a.CallsPerMinute != 30 || a.Concurrency != 4 || a.Timeout.D() != 3*time.Second || a.Depth != 8 || len(a.Addresses) != 1 {
		t.Fatalf("audit %+v", a)
	}
}
