package devnet

import (
	"math/rand/v2"
	"time"

	"golang.org/x/time/rate"
)

// faultSet is what the proxy in front of one node must do right now. It is
// immutable; the devnet swaps in a new one whenever faults change, and closes
// the old one's changed channel so waiting requests re-check.
type faultSet struct {
	down      bool
	hang      bool
	slow      *SlowParams
	errs      *ErrorParams
	limiter   *rate.Limiter
	rateLimit *RateLimitParams
	liar      *liar
	censor    bool
	pruned    *pruner
	changed   chan struct{}
}

func newFaultSet() *faultSet { return &faultSet{changed: make(chan struct{})} }

// interceptsBody says whether requests or answers must be parsed at all.
func (f *faultSet) interceptsBody() bool {
	return f.liar != nil || f.censor || f.pruned != nil || (f.errs != nil && f.errs.Mode != "http")
}

// delay is the latency a slow node adds to one answer.
func (f *faultSet) delay() time.Duration {
	if f.slow == nil {
		return 0
	}
	d := time.Duration(f.slow.Latency)
	if j := time.Duration(f.slow.Jitter); j > 0 {
		d += time.Duration(rand.Int64N(int64(2*j)+1)) - j
	}
	return max(d, 0)
}

// errorPlan rolls the dice for one HTTP request: whether it fails with a
// 5xx status, whether every call in it fails with a JSON-RPC error, and
// whether each call rolls on its own (mode jsonrpc).
func (f *faultSet) errorPlan() (httpFail, allCalls, perCall bool) {
	if f.errs == nil {
		return false, false, false
	}
	switch f.errs.Mode {
	case "http":
		return rand.Float64() < f.errs.Rate, false, false
	case "jsonrpc":
		return false, false, true
	default: // mixed: fail at the rate, half as 5xx, half as error objects
		if rand.Float64() >= f.errs.Rate {
			return false, false, false
		}
		if rand.IntN(2) == 0 {
			return true, false, false
		}
		return false, true, false
	}
}

// failCall decides whether one JSON-RPC call fails on its own (mode jsonrpc,
// and every mode over WebSocket, where there is no HTTP status).
func (f *faultSet) failCall() bool {
	return f.errs != nil && rand.Float64() < f.errs.Rate
}

// throttled reports whether this request is over the node's rate.
func (f *faultSet) throttled() bool { return f.limiter != nil && !f.limiter.Allow() }
