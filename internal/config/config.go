// Package config is rpcmesh's typed configuration: one struct tree read from
// YAML, with ${ENV} substitution for secrets, defaults applied in one place
// (defaults.go) and validation that names the exact field path and line that
// is wrong (validate.go). docs/configuration.md describes every key.
//
// From a file:
//
//	cfg, err := config.Load("rpcmesh.yaml") // every problem, one per line
//
// Built in code (the devnet does this):
//
//	cfg := config.Default()
//	ch := config.DefaultChain()
//	ch.Name, ch.ChainID = "devnet", 1337
//	p := config.DefaultProvider()
//	p.Name, p.HTTP = "node-a", "http://127.0.0.1:18545"
//	ch.Providers = append(ch.Providers, p)
//	cfg.Chains = append(cfg.Chains, ch)
//	cfg.Complete()
//	err := cfg.Validate()
package config

import (
	"strconv"
	"time"
)

// Duration is a time.Duration that reads "250ms", "5s", "1m" from YAML.
type Duration time.Duration

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// String formats d like time.Duration does ("1m30s").
func (d Duration) String() string { return time.Duration(d).String() }

// MarshalText writes d as "1m30s", so a Config encodes to YAML or JSON that
// Parse reads back.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText reads "250ms", "5s", "1m".
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// Config is the whole gateway configuration.
type Config struct {
	Server  Server  `yaml:"server"`
	Admin   Admin   `yaml:"admin"`
	Limits  Limits  `yaml:"limits"`
	Routing Routing `yaml:"routing"` // defaults for every chain
	Health  Health  `yaml:"health"`
	Chains  []Chain `yaml:"chains"`

	WebSocket WebSocket `yaml:"websocket"` // WS front door limits (websocket.go)
	Broadcast Broadcast `yaml:"broadcast"` // transaction fan-out and inclusion watch (broadcast.go)
	Verify    Verify    `yaml:"verify"`    // proofs and quorums (verify.go); chains may override
	Filters   Filters   `yaml:"filters"`   // eth_newFilter & co. kept by the gateway (filters.go)
	Notify    Notify    `yaml:"notify"`    // webhook notifications of incidents (notify.go)
	Usage     Usage     `yaml:"usage"`     // metering for rewards and signed statements (usage.go)
	Vetting   Vetting   `yaml:"vetting"`   // admission criteria of rpcmesh vet (vetting.go)
	Admission Admission `yaml:"admission"` // provider stages and the admin API's providers (admission.go)

	StatusPage StatusPage `yaml:"status_page"` // the public status page (statuspage.go)
	Audit      Audit      `yaml:"audit"`       // continuous audit of every provider (audit.go)
	Incidents  Incidents  `yaml:"incidents"`   // incident detection (incidents.go)
	// Store is the embedded store's file (bbolt): transactions watched,
	// incidents and whatever else is kept across restarts. "" keeps them
	// in memory only; broadcast.store is its older name.
	Store string `yaml:"store"`
}

// Server configures the public HTTP listener.
type Server struct {
	Listen            string   `yaml:"listen"`              // default "127.0.0.1:8545"
	ReadHeaderTimeout Duration `yaml:"read_header_timeout"` // 5s
	ReadTimeout       Duration `yaml:"read_timeout"`        // 30s
	WriteTimeout      Duration `yaml:"write_timeout"`       // 60s
	IdleTimeout       Duration `yaml:"idle_timeout"`        // 120s
	ShutdownTimeout   Duration `yaml:"shutdown_timeout"`    // 15s
	CORS              CORS     `yaml:"cors"`
	Gzip              bool     `yaml:"gzip"` // default true
	// MaxHeaderBytes bounds a request's line and headers. 16 KiB; 4 KiB to
	// 1 MiB.
	MaxHeaderBytes int `yaml:"max_header_bytes"`
	// GCPercent is the garbage collector's target for rpcmesh serve (Go's
	// GOGC; the GOGC environment variable wins): 400 trades some memory for
	// about 9 % less CPU per call (docs/benchmarks.md). 25 to 10000.
	GCPercent int `yaml:"gc_percent"`
	// MemoryLimitMiB is a soft memory limit for rpcmesh serve (Go's
	// GOMEMLIMIT, which wins when set): the collector works harder near it.
	// 0: none.
	MemoryLimitMiB int64 `yaml:"memory_limit_mib"`
	// MaxProcs bounds the CPUs rpcmesh serve runs Go code on at once (Go's
	// GOMAXPROCS, which wins when set). 0: Go's default, the CPUs the
	// process may use. On a small machine shared with a node, 1 spent
	// 11-20 % less CPU per call at the same throughput (docs/benchmarks.md).
	MaxProcs int `yaml:"max_procs"`
}

// CORS configures cross-origin access for browser dApps.
type CORS struct {
	AllowedOrigins []string `yaml:"allowed_origins"` // default ["*"]
	MaxAge         Duration `yaml:"max_age"`         // default 10m
}

// Admin configures the admin listener (/metrics, health).
type Admin struct {
	Listen string `yaml:"listen"` // default "127.0.0.1:9545"; "" disables
	// Pprof serves net/http/pprof under /debug/pprof/ on the admin listener.
	Pprof bool `yaml:"pprof"` // false
}

// Limits bounds what one client request may cost.
type Limits struct {
	MaxBodyBytes          int64    `yaml:"max_body_bytes"`          // 1 MiB
	MaxBatchItems         int      `yaml:"max_batch_items"`         // 100
	BatchConcurrency      int      `yaml:"batch_concurrency"`       // 8
	MaxResponseBytes      int64    `yaml:"max_response_bytes"`      // 32 MiB
	RequestTimeout        Duration `yaml:"request_timeout"`         // 30s
	MaxConcurrentRequests int      `yaml:"max_concurrent_requests"` // 1024
	MaxLogsBlockRange     uint64   `yaml:"max_logs_block_range"`    // 10000 (whole request)
	LogsSplitBlocks       uint64   `yaml:"logs_split_blocks"`       // 1000 (per upstream call)
}

// Routing configures how providers are chosen, retried and hedged.
type Routing struct {
	MaxOperatorShare float64  `yaml:"max_operator_share"` // 0.5
	MaxCloudShare    float64  `yaml:"max_cloud_share"`    // 0.6
	ShareWindow      Duration `yaml:"share_window"`       // 60s
	Retries          int      `yaml:"retries"`            // 2
	RetryBackoff     Duration `yaml:"retry_backoff"`      // 50ms
	Hedge            bool     `yaml:"hedge"`              // true
	HedgeQuantile    float64  `yaml:"hedge_quantile"`     // 0.9
	HedgeMinDelay    Duration `yaml:"hedge_min_delay"`    // 20ms
	HedgeMaxDelay    Duration `yaml:"hedge_max_delay"`    // 2s
	ExplorationShare float64  `yaml:"exploration_share"`  // 0.05 (share of picks made at random so no provider starves of samples)
	// The privacy policy (opt-in, docs/privacy.md): "spread" spreads each
	// client's distinct addresses over operators; "" or "off" does not.
	Privacy          string  `yaml:"privacy"`
	PrivacyMaxShare  float64 `yaml:"privacy_max_share"` // 0.3 of a client's distinct addresses per operator
	PrivacyAddresses int     `yaml:"privacy_addresses"` // 1024 addresses remembered per client
	PrivacyClients   int     `yaml:"privacy_clients"`   // 1024 clients remembered per chain
}

// Health configures provider health tracking.
type Health struct {
	PollInterval Duration `yaml:"poll_interval"` // 2s (head polling when no WS: the longest wait between polls)
	// PollMinInterval is the shortest wait between head polls: polls are
	// timed to when the next block is due (the block time measured from
	// the agreed head), within [poll_min_interval, poll_interval]. 100ms.
	PollMinInterval Duration `yaml:"poll_min_interval"`
	// HeadStaleBlocks is how many block times an operator may go without
	// reporting a new block linked to the agreed chain before it counts as
	// gone; with fewer operators left than head_agreement the head follows
	// those that remain (degraded trust). 0 turns the degraded head off. 1.5.
	HeadStaleBlocks float64 `yaml:"head_stale_blocks"`
	// ReadyStaleBlocks is how many block times the head may stand still
	// before /readyz answers 503. 0 turns the check off. 10.
	ReadyStaleBlocks float64  `yaml:"ready_stale_blocks"`
	ChainIDInterval  Duration `yaml:"chain_id_interval"` // 60s
	MaxLagBlocks     uint64   `yaml:"max_lag_blocks"`    // 3
	BreakerFailures  int      `yaml:"breaker_failures"`  // 5 consecutive
	BreakerCooldown  Duration `yaml:"breaker_cooldown"`  // 10s
	ProbeInterval    Duration `yaml:"probe_interval"`    // 5s
	EWMAHalfLife     Duration `yaml:"ewma_half_life"`    // 30s
	ProviderTimeout  Duration `yaml:"provider_timeout"`  // 10s per upstream attempt
	// PenaltyHalfLife is how fast an integrity penalty (an answer that
	// failed verification, a censored transaction) fades from the
	// provider's routing score: 10m.
	PenaltyHalfLife Duration `yaml:"penalty_half_life"`
}

// Chain is one blockchain served by the gateway and its providers.
type Chain struct {
	Name          string     `yaml:"name"`           // required, [a-z0-9-]+, unique
	ChainID       uint64     `yaml:"chain_id"`       // required, unique
	HeadAgreement int        `yaml:"head_agreement"` // distinct operators that must agree on a head hash; default min(2, operators)
	FinalityDepth uint64     `yaml:"finality_depth"` // blocks behind head treated as finalized when providers lack the tag; default 64
	MaxLagBlocks  uint64     `yaml:"max_lag_blocks"` // blocks a provider may trail the chain head; 0 = health.max_lag_blocks (see LagLimit)
	Routing       *Routing   `yaml:"routing"`        // optional per-chain override; unset fields inherit the top-level routing
	Verify        *Verify    `yaml:"verify"`         // optional per-chain override; unset fields inherit the top-level verify
	Providers     []Provider `yaml:"providers"`      // at least one

	// routingSet has bit i set when the YAML gave Routing's field i, so
	// EffectiveRouting inherits exactly the fields the file left out.
	routingSet uint64
}

// Provider is one upstream node endpoint of a chain.
type Provider struct {
	Name           string  `yaml:"name"` // required, unique within chain
	HTTP           string  `yaml:"http"` // required, http/https URL
	WS             string  `yaml:"ws"`   // optional ws/wss URL
	Labels         Labels  `yaml:"labels"`
	Weight         float64 `yaml:"weight"`          // default 1, > 0
	MaxConcurrency int     `yaml:"max_concurrency"` // default 64
	MaxRPS         float64 `yaml:"max_rps"`         // 0 = unlimited
	ArchiveDepth   uint64  `yaml:"archive_depth"`   // 0 = full archive; else how many blocks back it serves state
	Debug          bool    `yaml:"debug"`           // serves debug_*
	Trace          bool    `yaml:"trace"`           // serves trace_*
	// CallTransport carries the provider's calls: "http" (default) or "ws",
	// multiplexed over WSConns WebSocket connections to the ws URL.
	CallTransport string `yaml:"call_transport"`
	WSConns       int    `yaml:"ws_conns"` // default 2, 1..MaxWSConns; used with call_transport ws
	// CoalesceAbove, when over 0, merges calls into batch requests once
	// that many requests are in flight to the provider over HTTP: the
	// cheap point reads waiting then go together, at most CoalesceMax in
	// one request. 0: off (default). Not used with call_transport ws.
	CoalesceAbove int `yaml:"coalesce_above"`
	CoalesceMax   int `yaml:"coalesce_max"` // default 32, 2..MaxCoalesce
	// Stage is the provider's admission stage: candidate, probation or
	// admitted (default; docs/admission.md).
	Stage string `yaml:"stage"`
}

// Call transports (Provider.CallTransport).
const (
	CallTransportHTTP = "http"
	CallTransportWS   = "ws"
)

// MaxCoalesce bounds Provider.CoalesceMax and CoalesceAbove: go-ethereum
// answers a batch's calls one after another, so a longer batch only makes
// its last call wait.
const MaxCoalesce = 256

// MaxWSConns bounds Provider.WSConns: a few connections carry thousands of
// calls a second; more only cost the provider sockets.
const MaxWSConns = 64

// Labels describe who runs a provider and where, for tiering and diversity.
// Complete trims operator, cloud and tier and makes them lower-case, so that
// "AWS" and "aws" are one cloud to the diversity caps.
type Labels struct {
	Operator string `yaml:"operator"` // defaults to the provider name
	Cloud    string `yaml:"cloud"`
	Region   string `yaml:"region"`
	Tier     string `yaml:"tier"` // own|partner|community|public (default public)
}

// Provider tiers, best first.
const (
	TierOwn       = "own"
	TierPartner   = "partner"
	TierCommunity = "community"
	TierPublic    = "public"
)

// TierRank orders tiers: own=0 < partner=1 < community=2 < public=3.
// An unknown tier ranks after public.
func TierRank(tier string) int {
	switch tier {
	case TierOwn:
		return 0
	case TierPartner:
		return 1
	case TierCommunity:
		return 2
	case TierPublic:
		return 3
	}
	return 4
}

// LagLimit returns how many blocks a provider of the chain may trail its head:
// the chain's max_lag_blocks, or h.MaxLagBlocks when the chain sets none.
// Chains with fast blocks (Arbitrum: 4 a second) need a larger number than
// Ethereum (one per 12 s) for the same lag in time.
func (c *Chain) LagLimit(h Health) uint64 {
	if c.MaxLagBlocks > 0 {
		return c.MaxLagBlocks
	}
	return h.MaxLagBlocks
}

// ChainByName finds a chain by its name or its decimal chain ID ("ethereum" or "1").
func (c *Config) ChainByName(nameOrID string) (*Chain, bool) {
	for i := range c.Chains {
		if c.Chains[i].Name == nameOrID {
			return &c.Chains[i], true
		}
	}
	id, err := strconv.ParseUint(nameOrID, 10, 64)
	if err != nil || strconv.FormatUint(id, 10) != nameOrID { // one spelling per chain: "1", not "01" or "+1"
		return nil, false
	}
	for i := range c.Chains {
		if c.Chains[i].ChainID == id {
			return &c.Chains[i], true
		}
	}
	return nil, false
}

// ProviderCount is the number of providers over all chains.
func (c *Config) ProviderCount() int {
	n := 0
	for _, ch := range c.Chains {
		n += len(ch.Providers)
	}
	return n
}
