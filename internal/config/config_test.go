package config

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// env is a fixed environment for parse.
func env(kv ...string) func(string) (string, bool) {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

// minimal is the smallest valid config: one chain, one provider.
const minimal = `
chains:
  - name: eth
    chain_id: 1
    providers:
      - name: a
        http: https://a.example
`

func mustParse(t *testing.T, src string) *Config {
	t.Helper()
	cfg, err := parse([]byte(src), "t.yaml", env())
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return cfg
}

func TestDefault(t *testing.T) {
	d := Default()
	checks := []struct {
		name      string
		got, want any
	}{
		{"server.listen", d.Server.Listen, "127.0.0.1:8545"},
		{"server.read_header_timeout", d.Server.ReadHeaderTimeout.D(), 5 * time.Second},
		{"server.read_timeout", d.Server.ReadTimeout.D(), 30 * time.Second},
		{"server.write_timeout", d.Server.WriteTimeout.D(), 60 * time.Second},
		{"server.max_header_bytes", d.Server.MaxHeaderBytes, 16 << 10},
		{"server.idle_timeout", d.Server.IdleTimeout.D(), 120 * time.Second},
		{"server.shutdown_timeout", d.Server.ShutdownTimeout.D(), 15 * time.Second},
		{"server.cors.allowed_origins", d.Server.CORS.AllowedOrigins, []string{"*"}},
		{"server.gzip", d.Server.Gzip, true},
		{"admin.listen", d.Admin.Listen, "127.0.0.1:9545"},
		{"limits.max_body_bytes", d.Limits.MaxBodyBytes, int64(1 << 20)},
		{"limits.max_batch_items", d.Limits.MaxBatchItems, 100},
		{"limits.batch_concurrency", d.Limits.BatchConcurrency, 16},
		{"limits.max_response_bytes", d.Limits.MaxResponseBytes, int64(32 << 20)},
		{"limits.request_timeout", d.Limits.RequestTimeout.D(), 30 * time.Second},
		{"limits.max_concurrent_requests", d.Limits.MaxConcurrentRequests, 1024},
		{"limits.max_logs_block_range", d.Limits.MaxLogsBlockRange, uint64(10000)},
		{"limits.logs_split_blocks", d.Limits.LogsSplitBlocks, uint64(1000)},
		{"routing.max_operator_share", d.Routing.MaxOperatorShare, 0.5},
		{"routing.max_cloud_share", d.Routing.MaxCloudShare, 0.6},
		{"routing.share_window", d.Routing.ShareWindow.D(), 60 * time.Second},
		{"routing.retries", d.Routing.Retries, 2},
		{"routing.retry_backoff", d.Routing.RetryBackoff.D(), 50 * time.Millisecond},
		{"routing.hedge", d.Routing.Hedge, true},
		{"routing.hedge_quantile", d.Routing.HedgeQuantile, 0.9},
		{"routing.hedge_min_delay", d.Routing.HedgeMinDelay.D(), 20 * time.Millisecond},
		{"routing.hedge_max_delay", d.Routing.HedgeMaxDelay.D(), 2 * time.Second},
		{"routing.exploration_share", d.Routing.ExplorationShare, 0.05},
		{"health.poll_interval", d.Health.PollInterval.D(), 2 * time.Second},
		{"health.poll_min_interval", d.Health.PollMinInterval.D(), 100 * time.Millisecond},
		{"health.head_stale_blocks", d.Health.HeadStaleBlocks, 1.5},
		{"health.ready_stale_blocks", d.Health.ReadyStaleBlocks, 10.0},
		{"health.chain_id_interval", d.Health.ChainIDInterval.D(), 60 * time.Second},
		{"health.max_lag_blocks", d.Health.MaxLagBlocks, uint64(3)},
		{"health.breaker_failures", d.Health.BreakerFailures, 5},
		{"health.breaker_cooldown", d.Health.BreakerCooldown.D(), 10 * time.Second},
		{"health.probe_interval", d.Health.ProbeInterval.D(), 5 * time.Second},
		{"health.ewma_half_life", d.Health.EWMAHalfLife.D(), 30 * time.Second},
		{"health.provider_timeout", d.Health.ProviderTimeout.D(), 10 * time.Second},
		{"health.penalty_half_life", d.Health.PenaltyHalfLife.D(), 10 * time.Minute},
		{"server.gc_percent", d.Server.GCPercent, 400},
		{"server.memory_limit_mib", d.Server.MemoryLimitMiB, int64(0)},
		{"server.max_procs", d.Server.MaxProcs, 0},
		{"chains", len(d.Chains), 0},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	// Default is valid once it has a chain.
	d.Chains = []Chain{DefaultChain()}
	d.Chains[0].Name, d.Chains[0].ChainID = "eth", 1
	p := DefaultProvider()
	p.Name, p.HTTP = "a", "https://a.example"
	d.Chains[0].Providers = []Provider{p}
	d.Complete()
	if err := d.Validate(); err != nil {
		t.Fatalf("Default() plus a chain built in code: %v", err)
	}
}

func TestParseAppliesDefaults(t *testing.T) {
	cfg := mustParse(t, minimal)
	want := Default()
	got := *cfg
	got.Chains = nil
	if !reflect.DeepEqual(&got, want) {
		t.Errorf("top-level sections of a file without them differ from Default():\n got %+v\nwant %+v", got, *want)
	}
	ch := cfg.Chains[0]
	if ch.FinalityDepth != 64 || ch.HeadAgreement != 1 || ch.Routing != nil || ch.MaxLagBlocks != 0 {
		t.Errorf("chain defaults: finality %d, head_agreement %d, routing %v, max_lag %d", ch.FinalityDepth, ch.HeadAgreement, ch.Routing, ch.MaxLagBlocks)
	}
	if got := ch.LagLimit(cfg.Health); got != 3 {
		t.Errorf("LagLimit = %d, want health.max_lag_blocks 3", got)
	}
	p := ch.Providers[0]
	wantP := Provider{Name: "a", HTTP: "https://a.example", Labels: Labels{Operator: "a", Tier: TierPublic}, Weight: 1, MaxConcurrency: 64,
		CallTransport: CallTransportHTTP, WSConns: 2, CoalesceMax: 32}
	if !reflect.DeepEqual(p, wantP) {
		t.Errorf("provider defaults:\n got %+v\nwant %+v", p, wantP)
	}
}

func TestParseOverridesAndExplicitZero(t *testing.T) {
	cfg := mustParse(t, `
server:
  gzip: false
  cors: { allowed_origins: [], max_age: 0s }
admin:
  listen: ""
limits:
  max_body_bytes: 2_097_152
  max_logs_block_range: 0x10000
routing: { hedge: false, retries: 0, exploration_share: 0 }
chains:
  - name: avax
    chain_id: 43114
    finality_depth: 0
    max_lag_blocks: 40
    providers:
      - name: a
        http: https://a.example
        labels: { operator: op1, cloud: aws, region: us-east-1, tier: own }
        weight: 2.5
        max_concurrency: 8
        max_rps: 12.5
        archive_depth: 128
        debug: true
        trace: true
        ws: wss://a.example
        call_transport: ws
        ws_conns: 4
      - name: b
        http: https://b.example
        labels: { operator: op2 }
      - name: c
        http: https://c.example
        labels: { operator: op3 }
`)
	if cfg.Server.Gzip || cfg.Admin.Listen != "" || len(cfg.Server.CORS.AllowedOrigins) != 0 || cfg.Server.CORS.MaxAge != 0 {
		t.Errorf("explicit false/empty not kept: %+v %+v", cfg.Server, cfg.Admin)
	}
	if cfg.Limits.MaxBodyBytes != 2<<20 || cfg.Limits.MaxLogsBlockRange != 0x10000 {
		t.Errorf("numbers: %+v", cfg.Limits)
	}
	if cfg.Routing.Hedge || cfg.Routing.Retries != 0 || cfg.Routing.ExplorationShare != 0 {
		t.Errorf("routing zero values not kept: %+v", cfg.Routing)
	}
	ch := cfg.Chains[0]
	if ch.FinalityDepth != 0 || ch.HeadAgreement != 2 || ch.LagLimit(cfg.Health) != 40 {
		t.Errorf("chain: finality %d head_agreement %d lag %d", ch.FinalityDepth, ch.HeadAgreement, ch.LagLimit(cfg.Health))
	}
	want := Provider{Name: "a", HTTP: "https://a.example", WS: "wss://a.example", Labels: Labels{"op1", "aws", "us-east-1", "own"},
		Weight: 2.5, MaxConcurrency: 8, MaxRPS: 12.5, ArchiveDepth: 128, Debug: true, Trace: true,
		CallTransport: CallTransportWS, WSConns: 4, CoalesceMax: 32}
	if !reflect.DeepEqual(ch.Providers[0], want) {
		t.Errorf("provider:\n got %+v\nwant %+v", ch.Providers[0], want)
	}
}

func TestEffectiveRouting(t *testing.T) {
	cfg := mustParse(t, `
routing: { retries: 3, hedge_min_delay: 30ms }
chains:
  - name: eth
    chain_id: 1
    routing: { hedge: false, max_operator_share: 0.7 }
    providers: [{ name: a, http: "https://a.example" }]
  - name: poly
    chain_id: 137
    providers: [{ name: a, http: "https://a.example" }]
  - name: arb
    chain_id: 42161
    routing: {}
    providers: [{ name: a, http: "https://a.example" }]
`)
	want := cfg.Routing
	want.Hedge, want.MaxOperatorShare = false, 0.7
	if got := cfg.Chains[0].EffectiveRouting(cfg.Routing); got != want {
		t.Errorf("override:\n got %+v\nwant %+v", got, want)
	}
	if *cfg.Chains[0].Routing != want {
		t.Errorf("Chain.Routing after load is not the complete effective routing: %+v", *cfg.Chains[0].Routing)
	}
	if got := cfg.Chains[1].EffectiveRouting(cfg.Routing); got != cfg.Routing {
		t.Errorf("no override: got %+v", got)
	}
	if cfg.Chains[2].Routing != nil {
		t.Errorf("empty routing block should be nil, got %+v", cfg.Chains[2].Routing)
	}
	if cfg.Routing.Retries != 3 || cfg.Routing.HedgeMinDelay.D() != 30*time.Millisecond || !cfg.Routing.Hedge {
		t.Errorf("top routing: %+v", cfg.Routing)
	}

	// Built in code: non-zero fields override.
	ch := Chain{Routing: &Routing{Retries: 5}}
	top := DefaultRouting()
	got := ch.EffectiveRouting(top)
	want = top
	want.Retries = 5
	if got != want {
		t.Errorf("code-built override: got %+v", got)
	}
}

func TestChainByName(t *testing.T) {
	cfg := mustParse(t, `
chains:
  - { name: ethereum, chain_id: 1, providers: [{ name: a, http: "https://a.example" }] }
  - { name: base, chain_id: 8453, providers: [{ name: a, http: "https://a.example" }] }
`)
	tests := []struct {
		in   string
		want string
		ok   bool
	}{
		{"ethereum", "ethereum", true},
		{"1", "ethereum", true},
		{"base", "base", true},
		{"8453", "base", true},
		{"Base", "", false},
		{"137", "", false},
		{"", "", false},
		{"0x2105", "", false},
		{"-1", "", false},
		{"01", "", false},
		{"+1", "", false},
	}
	for _, tt := range tests {
		ch, ok := cfg.ChainByName(tt.in)
		if ok != tt.ok || (ok && ch.Name != tt.want) {
			t.Errorf("ChainByName(%q) = %v, %v; want %q, %v", tt.in, ch, ok, tt.want, tt.ok)
		}
		if ok && ch != &cfg.Chains[0] && ch != &cfg.Chains[1] {
			t.Errorf("ChainByName(%q) returned a copy, want a pointer into Chains", tt.in)
		}
	}
}

func TestTierRank(t *testing.T) {
	tests := map[string]int{TierOwn: 0, TierPartner: 1, TierCommunity: 2, TierPublic: 3, "gold": 4, "": 4}
	for tier, want := range tests {
		if got := TierRank(tier); got != want {
			t.Errorf("TierRank(%q) = %d, want %d", tier, got, want)
		}
	}
}

func TestMergeKeys(t *testing.T) {
	cfg := mustParse(t, `
chains:
  - name: eth
    chain_id: 1
    providers:
      - &public
        name: a
        http: https://a.example
        labels: { tier: community, cloud: aws }
        max_rps: 10
      - <<: *public
        name: b
        http: https://b.example
        max_rps: 20
`)
	b := cfg.Chains[0].Providers[1]
	if b.Name != "b" || b.HTTP != "https://b.example" || b.MaxRPS != 20 || b.Labels.Tier != "community" || b.Labels.Cloud != "aws" || b.Labels.Operator != "b" {
		t.Errorf("merged provider: %+v", b)
	}
}

func TestExamplesLoad(t *testing.T) {
	files, err := filepath.Glob("../../examples/*.yaml")
	if err != nil || len(files) < 2 {
		t.Fatalf("examples: %v %v", files, err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			t.Setenv("ALCHEMY_API_KEY", "")
			if _, err := Load(f); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestExampleMultiChain(t *testing.T) {
	t.Setenv("ALCHEMY_API_KEY", "")
	cfg, err := Load("../../examples/rpcmesh.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]uint64{"ethereum": 1, "polygon": 137, "arbitrum": 42161, "base": 8453, "bsc": 56, "avalanche": 43114}
	if len(cfg.Chains) != len(want) {
		t.Errorf("%d chains, want %d", len(cfg.Chains), len(want))
	}
	for name, id := range want {
		ch, ok := cfg.ChainByName(name)
		if !ok || ch.ChainID != id {
			t.Errorf("chain %s: %v %v", name, ch, ok)
			continue
		}
		if ops := ch.Operators(); ops < 3 {
			t.Errorf("chain %s has %d operators, want several", name, ops)
		}
		for _, p := range ch.Providers {
			if p.Labels.Cloud == "" || p.Labels.Region == "" {
				t.Errorf("chain %s provider %s lacks cloud/region labels", name, p.Name)
			}
		}
	}
	eth, _ := cfg.ChainByName("ethereum")
	if got := eth.Providers[0].HTTP; got != "https://eth-mainnet.g.alchemy.com/v2/demo" {
		t.Errorf("empty ALCHEMY_API_KEY: http = %q, want the demo default", got)
	}

	t.Setenv("ALCHEMY_API_KEY", "k3y")
	cfg, err = Load("../../examples/rpcmesh.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Chains[0].Providers[0].WS; got != "wss://eth-mainnet.g.alchemy.com/v2/k3y" {
		t.Errorf("ALCHEMY_API_KEY=k3y: ws = %q", got)
	}
	if n := cfg.ProviderCount(); n < 20 {
		t.Errorf("ProviderCount = %d", n)
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"))
	if err == nil || !strings.Contains(err.Error(), "nope.yaml") {
		t.Fatalf("err = %v", err)
	}
}

func TestLabelsNormalized(t *testing.T) {
	cfg := mustParse(t, chainDoc("", provA+"        labels: {operator: ' Alchemy ', cloud: AWS, tier: Own}\n"+provB+"        labels: {operator: alchemy, cloud: aws}\n"))
	a, b := cfg.Chains[0].Providers[0].Labels, cfg.Chains[0].Providers[1].Labels
	if a.Operator != "alchemy" || a.Cloud != "aws" || a.Tier != TierOwn || b.Operator != "alchemy" {
		t.Errorf("labels: %+v %+v", a, b)
	}
	if n := cfg.Chains[0].Operators(); n != 1 {
		t.Errorf("Operators = %d, want 1", n)
	}
}

// A Config encoded to YAML reads back the same: the struct tags and the
// decoder agree, and Duration round-trips.
func TestRoundTrip(t *testing.T) {
	t.Setenv("ALCHEMY_API_KEY", "")
	cfg, err := Load("../../examples/rpcmesh.yaml")
	if err != nil {
		t.Fatal(err)
	}
	out, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	back, err := Parse(out, "marshalled.yaml")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for i := range cfg.Chains {
		a, b := &cfg.Chains[i], &back.Chains[i]
		if a.EffectiveRouting(cfg.Routing) != b.EffectiveRouting(back.Routing) {
			t.Errorf("chain %s routing differs", a.Name)
		}
		a.Routing, b.Routing, a.routingSet, b.routingSet = nil, nil, 0, 0
	}
	if !reflect.DeepEqual(cfg, back) {
		t.Errorf("round trip differs:\n%+v\n%+v", cfg, back)
	}
}
