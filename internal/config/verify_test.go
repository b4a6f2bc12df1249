package config

import (
	"strings"
	"testing"
)

func TestVerifyValidation(t *testing.T) {
	valid := oneChainConfig
	if err := valid().Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	cases := []struct {
		name  string
		edit  func(*Verify)
		field string
	}{
		{"zero quorum", func(v *Verify) { v.Quorum = 0 }, "verify.quorum"},
		{"agree over quorum", func(v *Verify) { v.Agree = 3 }, "verify.agree"},
		{"zero attempts", func(v *Verify) { v.Attempts = 0 }, "verify.attempts"},
		{"zero log blocks", func(v *Verify) { v.MaxLogBlocks = 0 }, "verify.max_log_blocks"},
		{"zero evidence", func(v *Verify) { v.Evidence = 0 }, "verify.evidence"},
		{"fee quorum of two", func(v *Verify) { v.FeeQuorum = 2 }, "verify.fee_quorum"},
		{"zero walks", func(v *Verify) { v.MaxConcurrentWalks = 0 }, "verify.max_concurrent_walks"},
		{"negative block cache", func(v *Verify) { v.BlockCache = -1 }, "verify.block_cache"},
		{"negative full block cache", func(v *Verify) { v.FullBlockCache = -1 }, "verify.full_block_cache"},
		{"negative full block cache bytes", func(v *Verify) { v.FullBlockCacheBytes = -1 }, "verify.full_block_cache_bytes"},
		{"proof as default", func(v *Verify) { v.DefaultPolicy = PolicyProof }, "verify.default_policy"},
		{"unknown policy", func(v *Verify) {
			v.Policies = []MethodPolicy{{Methods: []string{"eth_call"}, Policy: "trust"}}
		}, "verify.policies[0].policy"},
		{"proof of eth_call", func(v *Verify) {
			v.Policies = []MethodPolicy{{Methods: []string{"eth_getBalance", "eth_call"}, Policy: PolicyProof}}
		}, "verify.policies[0].methods[1]"},
		{"no methods", func(v *Verify) { v.Policies = []MethodPolicy{{Policy: PolicyQuorum}} }, "verify.policies[0].methods"},
	}
	for _, tc := range cases {
		c := valid()
		tc.edit(&c.Verify)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("%s: %v, want an error naming %s", tc.name, err, tc.field)
		}
		// The same mistake in a chain's own block names the chain's key.
		c = valid()
		v := c.Verify
		tc.edit(&v)
		c.Chains[0].Verify = &v
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "chains[0]."+tc.field) {
			t.Errorf("%s in chains[0]: %v, want an error naming chains[0].%s", tc.name, err, tc.field)
		}
	}
	c := valid()
	c.Verify.Enabled = false
	c.Verify.Quorum = 0
	if err := c.Validate(); err != nil {
		t.Errorf("disabled verification still validated: %v", err)
	}
}

// TestChainVerifyInherits: a chain's verify block overrides only the keys
// it writes; the rest comes from the top-level block, not the defaults.
func TestChainVerifyInherits(t *testing.T) {
	c, err := Parse([]byte(`
verify:
  quorum: 3
  check_plain: true
  policies:
    - methods: [eth_call]
      policy: trust-one
chains:
  - name: one
    chain_id: 1
    providers:
      - { name: a, http: "http://127.0.0.1:1" }
  - name: two
    chain_id: 2
    verify:
      enabled: false
      max_log_blocks: 16
    providers:
      - { name: a, http: "http://127.0.0.1:1" }
`), "test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	top := c.Verify
	if !top.Enabled || top.Quorum != 3 || !top.CheckPlain || top.Attempts != 3 || len(top.Policies) != 1 || top.Policies[0].Policy != PolicyTrustOne {
		t.Fatalf("top-level verify %+v", top)
	}
	if got := c.Chains[0].EffectiveVerify(top); got.Quorum != 3 || !got.Enabled {
		t.Fatalf("chain without a block: %+v", got)
	}
	got := c.Chains[1].EffectiveVerify(top)
	if got.Enabled || got.MaxLogBlocks != 16 || got.Quorum != 3 || !got.CheckPlain || len(got.Policies) != 1 {
		t.Fatalf("chain block over top: %+v", got)
	}
}

func TestRuntimeSettingsValidation(t *testing.T) {
	for _, tc := range []struct {
		name  string
		edit  func(*Server)
		field string
	}{
		{"gc percent too low", func(s *Server) { s.GCPercent = 10 }, "server.gc_percent"},
		{"gc percent too high", func(s *Server) { s.GCPercent = 20000 }, "server.gc_percent"},
		{"negative memory limit", func(s *Server) { s.MemoryLimitMiB = -1 }, "server.memory_limit_mib"},
		{"negative max procs", func(s *Server) { s.MaxProcs = -1 }, "server.max_procs"},
		{"too many max procs", func(s *Server) { s.MaxProcs = 5000 }, "server.max_procs"},
	} {
		c := oneChainConfig()
		tc.edit(&c.Server)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("%s: %v, want an error naming %s", tc.name, err, tc.field)
		}
	}
}

// oneChainConfig is the defaults with one chain of one provider: valid.
func oneChainConfig() *Config {
	c := Default()
	ch := DefaultChain()
	ch.Name, ch.ChainID = "dev", 1337
	p := DefaultProvider()
	p.Name, p.HTTP = "a", "http://127.0.0.1:1"
	ch.Providers = []Provider{p}
	c.Chains = []Chain{ch}
	c.Complete()
	return c
}
