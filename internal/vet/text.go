package vet

import (
	"fmt"
	"io"
	"slices"
	"strings"
)

// WriteText writes the report for a person: the verdict, one line per
// criterion, then each failure with its evidence.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "rpcmesh vet %s (chain %s, chain ID %d) against %s\n", r.Candidate, r.Chain, r.ChainID, strings.Join(r.Admitted, ", "))
	if r.Verdict == Admit {
		fmt.Fprintf(&b, "verdict: ADMIT (every criterion met, %.1f s)\n\n", r.Seconds)
	} else {
		fmt.Fprintf(&b, "verdict: REJECT (%d of 8 criteria failed: %s; %.1f s)\n\n", len(r.FailedCriteria()), strings.Join(r.FailedCriteria(), ", "), r.Seconds)
	}
	failed := r.FailedCriteria()
	line := func(crit, summary string) {
		state := "ok"
		if slices.Contains(failed, crit) {
			state = "FAIL"
		}
		fmt.Fprintf(&b, "  %-12s %-5s %s\n", crit, state, summary)
	}
	c := r.Criteria
	line(CritSync, fmt.Sprintf("head %d, agreed head %d, lag %d (at most %d), syncing %v", r.Sync.CandidateHead, r.Sync.AgreedHead, r.Sync.Lag, c.MaxLagBlocks, r.Sync.Syncing))
	var opt []string
	for _, m := range c.OptionalMethods {
		if served, ok := r.Methods.Optional[m]; ok {
			opt = append(opt, fmt.Sprintf("%s %s", m, map[bool]string{true: "yes", false: "no"}[served]))
		}
	}
	line(CritMethods, fmt.Sprintf("%d of %d required served; optional: %s", len(c.RequiredMethods)-len(r.Methods.Missing), len(c.RequiredMethods), strings.Join(opt, ", ")))
	arch := fmt.Sprintf("state from block %d, %d blocks deep (at least %d, or genesis)", r.Archive.OldestState, r.Archive.Depth, c.MinArchiveBlocks)
	if r.Archive.Genesis {
		arch = "state back to genesis"
	}
	line(CritArchive, arch)
	line(CritCorrectness, fmt.Sprintf("%d answers proven right, %d wrong, %d not checked (%d blocks, %d accounts)",
		sum(r.Correctness.Checked), len(r.Correctness.Failed), len(r.Correctness.Skipped), len(r.Correctness.Blocks), len(r.Correctness.Accounts)))
	if n := len(r.Load.Steps); n > 0 {
		top := r.Load.Steps[n-1]
		line(CritLatency, fmt.Sprintf("p50 %.1f ms, p99 %.1f ms at %g req/s (p99 at most %s)", top.P50, top.P99, top.Rate, c.MaxP99.D()))
		line(CritErrors, fmt.Sprintf("%.2f%% of calls failed at %g req/s (at most %.2f%%); bad requests: %s", 100*share(top.Failed, top.Calls), top.Rate, 100*c.MaxErrorRate, probesSummary(r.Errors)))
		var throttled int64
		for _, st := range r.Load.Steps {
			throttled += st.Throttled
		}
		line(CritThrottling, fmt.Sprintf("%d calls throttled up to %g req/s, %d of the checks' calls; Retry-After %q", throttled, top.Rate, r.Errors.Throttles, r.Errors.RetryAfter))
	}
	ws := fmt.Sprintf("newHeads after %.0f ms", r.WS.FirstAfterMs)
	if r.WS.NewHeads == 0 {
		ws = r.WS.Error
	}
	line(CritWebSocket, ws)
	if len(r.Failed) > 0 {
		b.WriteString("\nfailed:\n")
		for _, f := range r.Failed {
			fmt.Fprintf(&b, "  %s: %s\n", f.Criterion, f.Reason)
			for _, e := range f.Evidence {
				fmt.Fprintf(&b, "    - %s\n", e)
			}
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func probesSummary(r ErrorsResult) string {
	var out []string
	for _, p := range r.Probes {
		if p.OK {
			out = append(out, fmt.Sprintf("%s %d", p.What, p.Code))
		} else {
			out = append(out, p.What+" not a JSON-RPC error")
		}
	}
	return strings.Join(out, ", ")
}
