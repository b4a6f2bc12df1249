// Package incident detects incidents from what the gateway measures: every
// evaluation tick each chain hands the Detector a plain Observation (its
// providers' states, agreed head, traffic shares and answer counters); the
// Detector turns the conditions it finds into incidents (internal/status)
// with hysteresis, keeps them in the embedded store across restarts and
// fans their events out to subscribers.
package incident

import (
	"time"

	"github.com/rpcmesh/rpcmesh/internal/status"
)

// Observation is one chain at one evaluation tick, as plain data.
type Observation struct {
	Chain string
	// Head is the agreed head (0 without one); HeadAge how long it has
	// stood; BlockTime the measured block time (0 until measured).
	Head      uint64
	HeadAge   time.Duration
	BlockTime time.Duration
	// Agreed is the last block head_agreement operators agreed on (below
	// Head while the head follows fewer operators, degraded), AgreedAge
	// how long it has stood.
	Agreed    uint64
	AgreedAge time.Duration
	Providers []Provider
	// OperatorShare and CloudShare are the shares of the chain's attempts
	// in the routing window (WindowAttempts of them), and MaxOperatorShare,
	// MaxCloudShare the routing caps.
	OperatorShare, CloudShare       map[string]float64
	WindowAttempts                  int
	MaxOperatorShare, MaxCloudShare float64
	// Answers counts what the gateway answered clients on the chain.
	Answers status.Answers
}

// Provider is one provider in an Observation.
type Provider struct {
	Name, Operator, Cloud, Region, Tier string
	// TierRank orders tiers, 0 (own) best: routing prefers the best tier
	// with usable providers, and applies the share caps within it.
	TierRank int
	// State is the provider's state as measured (not held by incidents).
	State status.ProviderState
	Head  uint64
	// VerifyFailures and Censored count answers that failed verification
	// and transactions it acknowledged and dropped.
	VerifyFailures, Censored uint64
}

// failing reports whether a provider in state s cannot serve: down, hung or
// on another chain.
func failing(s status.ProviderState) bool {
	return s == status.StateDown || s == status.StateStalled || s == status.StateWrongChain
}
