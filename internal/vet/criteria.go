package vet

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/config"
)

// RequiredMethods are what a candidate must serve unless the vetting
// section says otherwise: what wallets, indexers and the gateway itself
// ask (docs/vetting.md).
var RequiredMethods = []string{
	"eth_chainId", "net_version", "eth_blockNumber", "eth_syncing", "eth_gasPrice",
	"eth_maxPriorityFeePerGas", "eth_feeHistory", "eth_getBlockByNumber", "eth_getBlockByHash",
	"eth_getBlockTransactionCountByNumber", "eth_getBlockReceipts", "eth_getTransactionByHash",
	"eth_getTransactionReceipt", "eth_getBalance", "eth_getTransactionCount", "eth_getCode",
	"eth_getStorageAt", "eth_getProof", "eth_call", "eth_estimateGas", "eth_getLogs",
	"eth_sendRawTransaction", "web3_clientVersion",
}

// OptionalMethods are probed and reported but not required by default.
var OptionalMethods = []string{
	"eth_createAccessList", "debug_traceTransaction", "debug_traceBlockByNumber", "debug_traceCall",
	"trace_block", "trace_transaction",
}

// Criteria are the admission criteria a candidate is judged by: the
// vetting section with defaults filled in (CriteriaFrom).
type Criteria config.Vetting

// Bounds of the criteria, so a typo cannot start an endless or huge run.
const (
	maxSteps       = 20
	maxStep        = 5 * time.Minute
	maxSamples     = 256
	maxCallTimeout = 5 * time.Minute
)

// CriteriaFrom fills the vetting section's defaults and checks its values;
// the error names each key that is wrong.
func CriteriaFrom(v config.Vetting) (Criteria, error) {
	c := Criteria(v)
	c.RequiredMethods, c.OptionalMethods = slices.Clone(v.RequiredMethods), slices.Clone(v.OptionalMethods)
	def := func(p *float64, d float64) {
		if *p == 0 {
			*p = d
		}
	}
	if c.MaxLagBlocks == 0 {
		c.MaxLagBlocks = 3
	}
	if c.MinArchiveBlocks == 0 {
		c.MinArchiveBlocks = 128
	}
	if len(c.RequiredMethods) == 0 {
		c.RequiredMethods = slices.Clone(RequiredMethods)
	}
	if len(c.OptionalMethods) == 0 {
		c.OptionalMethods = slices.Clone(OptionalMethods)
	}
	def(&c.TargetRate, 50)
	def(&c.MaxErrorRate, 0.01)
	if c.RampSteps == 0 {
		c.RampSteps = 4
	}
	if c.StepDuration == 0 {
		c.StepDuration = config.Duration(2 * time.Second)
	}
	if c.MaxP99 == 0 {
		c.MaxP99 = config.Duration(500 * time.Millisecond)
	}
	if c.NewHeadsTimeout == 0 {
		c.NewHeadsTimeout = config.Duration(30 * time.Second)
	}
	if c.SampleBlocks == 0 {
		c.SampleBlocks = 8
	}
	if c.SampleAccounts == 0 {
		c.SampleAccounts = 4
	}
	if c.CallTimeout == 0 {
		c.CallTimeout = config.Duration(10 * time.Second)
	}
	return c, c.check()
}

// check names every value out of its bounds.
func (c Criteria) check() error {
	var errs []error
	bad := func(ok bool, format string, args ...any) {
		if !ok {
			errs = append(errs, fmt.Errorf("vetting."+format, args...))
		}
	}
	bad(c.TargetRate > 0 && c.TargetRate <= 1e6, "target_rate: %g, want more than 0 and at most 1000000", c.TargetRate)
	bad(c.RampSteps >= 1 && c.RampSteps <= maxSteps, "ramp_steps: %d, want 1 to %d", c.RampSteps, maxSteps)
	bad(c.StepDuration.D() >= 100*time.Millisecond && c.StepDuration.D() <= maxStep, "step_duration: %s, want 100ms to %s", c.StepDuration.D(), maxStep)
	bad(c.MaxP99 > 0, "max_p99: %s, want more than 0", c.MaxP99.D())
	bad(c.MaxErrorRate >= 0 && c.MaxErrorRate <= 1, "max_error_rate: %g, want 0 to 1", c.MaxErrorRate)
	bad(c.MaxThrottleRate >= 0 && c.MaxThrottleRate <= 1, "max_throttle_rate: %g, want 0 to 1", c.MaxThrottleRate)
	bad(c.NewHeadsTimeout > 0 && c.NewHeadsTimeout.D() <= maxStep, "newheads_timeout: %s, want more than 0 and at most %s", c.NewHeadsTimeout.D(), maxStep)
	bad(c.SampleBlocks >= 1 && c.SampleBlocks <= maxSamples, "sample_blocks: %d, want 1 to %d", c.SampleBlocks, maxSamples)
	bad(c.SampleAccounts >= 1 && c.SampleAccounts <= maxSamples, "sample_accounts: %d, want 1 to %d", c.SampleAccounts, maxSamples)
	bad(c.CallTimeout > 0 && c.CallTimeout.D() <= maxCallTimeout, "call_timeout: %s, want more than 0 and at most %s", c.CallTimeout.D(), maxCallTimeout)
	bad(len(c.RequiredMethods) <= 1000 && len(c.OptionalMethods) <= 1000, "required_methods, optional_methods: at most 1000 each")
	return errors.Join(errs...)
}
