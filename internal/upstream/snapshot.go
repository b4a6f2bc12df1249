package upstream

import (
	"errors"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/config"
)

// State summarises whether a provider may take traffic.
type State string

// Provider states, for routing, /status and metrics.
const (
	StateOK         State = "ok"
	StateWrongChain State = "wrong_chain" // eth_chainId mismatch: excluded until it matches
	StateBreaker    State = "breaker_open"
	StateThrottled  State = "throttled" // honouring a 429 Retry-After
	StateStalled    State = "stalled"   // a call in flight for too long
	StateUnchecked  State = "unchecked" // chain ID not yet confirmed
)

// Snapshot is a consistent copy of a provider's health, for routing and status.
type Snapshot struct {
	Name          string
	Labels        config.Labels
	Tier          int
	Weight        float64
	State         State
	Breaker       BreakerState
	LatencyEWMA   time.Duration
	P50, P90, P99 time.Duration
	Recent        time.Duration // median of the last 5 latencies
	Degraded      bool          // failing or throttled often, with hysteresis
	Warmup        float64       // 0..1 through the warm-up after a readmission (1: none)
	ErrorRate     float64
	ThrottleRate  float64
	HeadNumber    uint64
	HeadAge       time.Duration // since the head was last confirmed; 0 when never
	Inflight      int
	Requests      uint64
	Failures      uint64
	WrongChain    string
	// Penalty is the decayed count of integrity failures (see Penalise):
	// 0 for a provider never caught out.
	Penalty float64
}

// Usable reports whether the state allows traffic at all.
func (s *Snapshot) Usable() bool { return s.State == StateOK || s.State == StateStalled }

// LastResort reports whether the provider may serve when no provider is
// usable: its breaker is open or it is honouring a Retry-After, but it is
// on the right chain.
func (s *Snapshot) LastResort() bool { return s.State == StateBreaker || s.State == StateThrottled }

// Snapshot returns the provider's current health.
func (p *Provider) Snapshot(now time.Time) Snapshot { return p.snapshot(now, true) }

// RouteSnapshot is Snapshot without the latency quantiles (P50, P90, P99),
// which routing does not need on every call.
func (p *Provider) RouteSnapshot(now time.Time) Snapshot { return p.snapshot(now, false) }

func (p *Provider) snapshot(now time.Time, quantiles bool) Snapshot {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := Snapshot{
		Name:         p.name,
		Labels:       p.labels,
		Tier:         p.tier,
		Weight:       p.cfg.Weight,
		Breaker:      p.br.state(),
		LatencyEWMA:  time.Duration(p.st.latency * float64(time.Second)),
		Recent:       p.st.recent(5),
		Degraded:     p.degraded,
		Warmup:       p.warmupLocked(now),
		ErrorRate:    p.st.errors,
		ThrottleRate: p.st.throttle,
		HeadNumber:   p.head.Number,
		Inflight:     len(p.inflight),
		Requests:     p.requests,
		Failures:     p.failures,
		WrongChain:   p.wrongChain,
		Penalty:      p.integ.decayed(now, p.health.PenaltyHalfLife.D()),
	}
	if quantiles {
		s.P50, s.P90, s.P99 = p.st.quantile(0.5), p.st.quantile(0.9), p.st.quantile(0.99)
	}
	if !p.headAt.IsZero() {
		s.HeadAge = now.Sub(p.headAt)
	}
	stalled := p.stalledLocked(now)
	switch {
	case p.wrongChain != "":
		s.State = StateWrongChain
	case !p.chainChecked:
		s.State = StateUnchecked
	case p.br.open:
		s.State = StateBreaker
	case now.Before(p.throttledUntil):
		s.State = StateThrottled
	case stalled:
		s.State = StateStalled
	default:
		s.State = StateOK
	}
	return s
}

// errorOf returns the *Error in err's chain, or nil. Its target variable
// is allocated only for a non-nil err: record runs on every call.
func errorOf(err error) *Error {
	if err == nil {
		return nil
	}
	var ue *Error
	if errors.As(err, &ue) {
		return ue
	}
	return nil
}
