package config

// Vetting is the admission criteria `rpcmesh vet` judges a candidate
// provider by (docs/vetting.md). A key left out (zero) takes the default
// internal/vet gives it; flags of `rpcmesh vet` override each one. With
// the defaults filled in it is vet.Criteria, which a vet report carries
// under the JSON keys.
type Vetting struct {
	// MaxLagBlocks is how far the candidate's head may trail (or lead) the
	// head the admitted operators agree on. Default 3.
	MaxLagBlocks uint64 `yaml:"max_lag_blocks" json:"maxLagBlocks"`
	// MinArchiveBlocks is how many blocks below its head the candidate
	// must serve state for (eth_getProof); serving state back to genesis
	// always passes. Default 128.
	MinArchiveBlocks uint64 `yaml:"min_archive_blocks" json:"minArchiveBlocks"`
	// RequiredMethods must all be served; default the list in docs/vetting.md.
	RequiredMethods []string `yaml:"required_methods,omitempty" json:"requiredMethods"`
	// OptionalMethods are probed and reported, never required; default the
	// debug_ and trace_ methods in docs/vetting.md.
	OptionalMethods []string `yaml:"optional_methods,omitempty" json:"optionalMethods"`
	// TargetRate is the request rate (per second) the load ramps up to.
	// Default 50.
	TargetRate float64 `yaml:"target_rate" json:"targetRate"`
	// RampSteps is how many steps the load takes to reach TargetRate.
	// Default 4.
	RampSteps int `yaml:"ramp_steps" json:"rampSteps"`
	// StepDuration is how long each step lasts. Default 2s.
	StepDuration Duration `yaml:"step_duration" json:"stepDuration"`
	// MaxP99 bounds the 99th percentile latency at TargetRate. Default 500ms.
	MaxP99 Duration `yaml:"max_p99" json:"maxP99"`
	// MaxErrorRate bounds the share of failed calls (429s aside) at
	// TargetRate. Default 0.01.
	MaxErrorRate float64 `yaml:"max_error_rate" json:"maxErrorRate"`
	// MaxThrottleRate bounds the share of throttled calls (HTTP 429 or
	// JSON-RPC -32005) at or below TargetRate. Default 0: none.
	MaxThrottleRate float64 `yaml:"max_throttle_rate" json:"maxThrottleRate"`
	// WebSocketOptional admits a candidate without WebSocket support.
	WebSocketOptional bool `yaml:"websocket_optional" json:"websocketOptional"`
	// NewHeadsTimeout bounds the wait for the first newHeads notification.
	// Default 30s.
	NewHeadsTimeout Duration `yaml:"newheads_timeout" json:"newHeadsTimeout"`
	// SampleBlocks and SampleAccounts size the correctness sample.
	// Defaults 8 and 4.
	SampleBlocks   int `yaml:"sample_blocks" json:"sampleBlocks"`
	SampleAccounts int `yaml:"sample_accounts" json:"sampleAccounts"`
	// CallTimeout bounds one call to the candidate. Default 10s.
	CallTimeout Duration `yaml:"call_timeout" json:"callTimeout"`
}
