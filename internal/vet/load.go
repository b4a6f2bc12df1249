package vet

import (
	"context"
	"fmt"
	"io"
	"math"
	"strings"

	"github.com/rpcmesh/rpcmesh/internal/bench"
)

// loadMix is what the ramp sends: the reads wallets send most.
var loadMix = []bench.MixEntry{
	{Method: "eth_blockNumber", Weight: 3},
	{Method: "eth_getBalance", Weight: 3},
	{Method: "eth_getBlockByNumber", Weight: 1},
	{Method: "eth_chainId", Weight: 1},
	{Method: "eth_getTransactionCount", Weight: 1},
}

// throttledKinds are the bench error kinds that mean "too many requests".
func isThrottleKind(kind string) bool { return kind == "http 429" || kind == "rpc -32005" }

// rampRates are the rates of the ramp: steps equal steps up to target.
func rampRates(target float64, steps int) []float64 {
	out := make([]float64, steps)
	for i := range steps {
		out[i] = math.Round(target*float64(i+1)/float64(steps)*100) / 100
	}
	return out
}

// checkLoad ramps an open-loop load (the project's load tool,
// internal/bench) up to the target rate, a step at a time, and records
// each step's latency, errors and throttling.
func checkLoad(ctx context.Context, url string, crit Criteria, progress io.Writer) (LoadResult, error) {
	mix, err := bench.NewMix(loadMix, nil, true)
	if err != nil {
		return LoadResult{}, err
	}
	var r LoadResult
	for _, rate := range rampRates(crit.TargetRate, crit.RampSteps) {
		// Enough workers to keep the rate with answers up to 2 s slow.
		conc := int(min(max(math.Ceil(rate*2), 8), 256))
		rep, err := bench.Run(ctx, bench.Options{
			Targets: []bench.Target{{Name: "candidate", URL: url}}, Mix: mix, Rate: rate, Concurrency: conc,
			Duration: crit.StepDuration.D(), Timeout: crit.CallTimeout.D(),
		})
		if err != nil {
			return r, fmt.Errorf("load at %g req/s: %w", rate, err)
		}
		t := rep.Targets[0]
		step := LoadStep{Rate: rate, Seconds: t.Seconds, Calls: t.Calls, OKCalls: t.OKCalls, Unsent: t.Unsent,
			P50: t.Latency.P50, P99: t.Latency.P99, Max: t.Latency.Max, Errors: t.Errors, ErrorSamples: t.ErrorSamples}
		for kind, n := range t.Errors {
			if isThrottleKind(kind) {
				step.Throttled += n
			} else {
				step.Failed += n
			}
		}
		r.Steps = append(r.Steps, step)
		fmt.Fprintf(progress, "vet: load at %g req/s: p99 %.1f ms, %d of %d calls failed, %d throttled\n",
			rate, step.P99, step.Failed, step.Calls, step.Throttled)
	}
	return r, nil
}

// share is part of whole, 0 when whole is 0.
func share(part, whole int64) float64 {
	if whole == 0 {
		return 0
	}
	return float64(part) / float64(whole)
}

// loadFailures are the latency, errors and throttling criteria's failures.
func loadFailures(r LoadResult, crit Criteria) []Failure {
	if len(r.Steps) == 0 {
		return nil
	}
	var out []Failure
	top := r.Steps[len(r.Steps)-1]
	if maxMs := float64(crit.MaxP99.D().Microseconds()) / 1000; top.P99 > maxMs {
		out = append(out, Failure{Criterion: CritLatency,
			Reason:   fmt.Sprintf("slow: p99 %.0f ms at %g req/s (at most %.0f ms)", top.P99, top.Rate, maxMs),
			Evidence: []string{fmt.Sprintf("at %g req/s: p50 %.1f ms, p99 %.1f ms, max %.1f ms over %d calls", top.Rate, top.P50, top.P99, top.Max, top.Calls)}})
	}
	if s := share(top.Failed, top.Calls); s > crit.MaxErrorRate {
		out = append(out, Failure{Criterion: CritErrors,
			Reason:   fmt.Sprintf("%.1f%% of calls failed at %g req/s (at most %.1f%%)", 100*s, top.Rate, 100*crit.MaxErrorRate),
			Evidence: kindsEvidence(top, false)})
	}
	for _, st := range r.Steps {
		if s := share(st.Throttled, st.Calls); s > crit.MaxThrottleRate {
			out = append(out, Failure{Criterion: CritThrottling,
				Reason:   fmt.Sprintf("rate-limited: %.0f%% of calls throttled at %g req/s (target %g req/s)", 100*s, st.Rate, crit.TargetRate),
				Evidence: kindsEvidence(st, true)})
			break
		}
	}
	return out
}

// kindsEvidence lists a step's error kinds (throttling ones or the others)
// with counts and a sample message.
func kindsEvidence(st LoadStep, throttle bool) []string {
	n, what := st.Failed, "failed"
	if throttle {
		n, what = st.Throttled, "throttled"
	}
	ev := []string{fmt.Sprintf("at %g req/s: %d of %d calls %s (p99 %.1f ms)", st.Rate, n, st.Calls, what, st.P99)}
	for kind, n := range st.Errors {
		if isThrottleKind(kind) != throttle {
			continue
		}
		line := fmt.Sprintf("at %g req/s: %d calls %s", st.Rate, n, kind)
		if s := st.ErrorSamples[kind]; s != "" {
			line += ": " + strings.TrimSpace(s)
		}
		ev = append(ev, line)
	}
	return ev
}
