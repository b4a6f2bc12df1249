package bench

import (
	"errors"
	"fmt"
	"io"
	"time"
)

// Bounds of a run's options, so a typo cannot start an endless or huge run.
const (
	MaxDuration    = time.Hour
	MaxConcurrency = 4096
	MaxBatch       = 1000
	MaxRate        = 1e6
	MaxTargets     = 16
	MaxRounds      = 100
	maxWarmup      = 5 * time.Minute
	maxTimeout     = 5 * time.Minute
	minPhase       = 50 * time.Millisecond
	minInterval    = 100 * time.Millisecond
)

// Defaults of a run's options.
const (
	DefaultDuration    = 10 * time.Second
	DefaultConcurrency = 32
	DefaultTimeout     = 10 * time.Second
)

// Target is one endpoint a run drives.
type Target struct {
	// Name labels the target in reports; ratios compare against the first target.
	Name string `json:"name"`
	// URL is http(s):// for JSON-RPC over HTTP POST, ws(s):// for WebSocket.
	URL string `json:"url"`
	// PID, when set, is the process serving the target (say the gateway):
	// its CPU time during measured phases and its peak RSS are reported
	// (Linux only, from /proc).
	PID int `json:"pid,omitempty"`
}

// Options describe a run. Every target gets the same load: the same mix,
// rate or concurrency, duration and request bound.
type Options struct {
	// Targets are run one after another (see Rounds); at least one.
	Targets []Target
	// Mix is what each call draws; required.
	Mix *Mix
	// Rate is requests per second per target in open loop; 0 runs closed loop.
	Rate float64
	// Concurrency is the number of workers and connections per target: in
	// closed loop each has one request in flight; at a fixed rate it is the
	// most requests in flight. 0 means DefaultConcurrency.
	Concurrency int
	// Duration bounds each target's measured time (over all rounds); 0 means
	// DefaultDuration, at most MaxDuration.
	Duration time.Duration
	// Requests, when positive, also bounds each target's measured requests.
	Requests int64
	// Batch, when positive, sends every request as a batch of that many calls;
	// 0 sends single calls.
	Batch int
	// Timeout bounds one request; 0 means DefaultTimeout.
	Timeout time.Duration
	// Warmup runs each target this long before measuring, not recorded.
	Warmup time.Duration
	// Rounds splits the duration and request bound into this many slices and
	// alternates targets slice by slice, so a drift of the machine (other
	// load, frequency scaling) spreads over all targets alike. 0 means 1.
	Rounds int
	// Interval, when positive, keeps a timeline: throughput, errors and
	// latency per interval of each target (TargetReport.Timeline), also
	// written to Progress as it happens. At least 100 ms.
	Interval time.Duration
	// Progress, when set, gets a line as each phase starts (and each
	// timeline point).
	Progress io.Writer
}

func (o Options) withDefaults() Options {
	if o.Concurrency == 0 {
		o.Concurrency = DefaultConcurrency
	}
	if o.Duration == 0 {
		o.Duration = DefaultDuration
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Rounds == 0 {
		o.Rounds = 1
	}
	return o
}

func (o Options) validate() error {
	var errs []error
	check := func(ok bool, format string, args ...any) {
		if !ok {
			errs = append(errs, fmt.Errorf(format, args...))
		}
	}
	check(len(o.Targets) > 0, "targets: none given")
	check(len(o.Targets) <= MaxTargets, "targets: %d given, at most %d", len(o.Targets), MaxTargets)
	names := map[string]bool{}
	for i, t := range o.Targets {
		check(t.Name != "" && !names[t.Name], "targets[%d]: name %q is empty or repeated", i, t.Name)
		names[t.Name] = true
		if t.PID != 0 {
			_, err := procCPU(t.PID)
			check(t.PID > 0 && err == nil, "targets[%d] (%s): pid %d: cannot read its CPU time: %v", i, t.Name, t.PID, err)
		}
	}
	check(o.Mix != nil, "mix: none given")
	check(o.Rate >= 0 && o.Rate <= MaxRate, "rate: %g/s, want 0..%g", o.Rate, float64(MaxRate))
	check(o.Concurrency > 0 && o.Concurrency <= MaxConcurrency, "concurrency: %d, want 1..%d", o.Concurrency, MaxConcurrency)
	check(o.Duration > 0 && o.Duration <= MaxDuration, "duration: %s, want up to %s", o.Duration, MaxDuration)
	check(o.Requests >= 0, "requests: %d is negative", o.Requests)
	check(o.Batch >= 0 && o.Batch <= MaxBatch, "batch: %d, want 0..%d", o.Batch, MaxBatch)
	check(o.Timeout > 0 && o.Timeout <= maxTimeout, "timeout: %s, want up to %s", o.Timeout, maxTimeout)
	check(o.Warmup >= 0 && o.Warmup <= maxWarmup, "warmup: %s, want up to %s", o.Warmup, maxWarmup)
	check(o.Interval == 0 || o.Interval >= minInterval, "interval: %s, want 0 (none) or at least %s", o.Interval, minInterval)
	check(o.Rounds > 0 && o.Rounds <= MaxRounds, "rounds: %d, want 1..%d", o.Rounds, MaxRounds)
	if o.Rounds > 0 {
		check(o.Duration/time.Duration(o.Rounds) >= minPhase, "rounds: %d rounds of %s leave under %s each", o.Rounds, o.Duration, minPhase)
	}
	return errors.Join(errs...)
}
