package bench

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// WriteText writes the report as aligned tables: one row per target, its
// errors, and the ratios to the first target.
func (r *Report) WriteText(w io.Writer) error {
	s := r.Settings
	load := fmt.Sprintf("closed loop, %d workers", s.Concurrency)
	if s.Mode == "rate" {
		load = fmt.Sprintf("open loop, %g req/s, at most %d in flight", s.Rate, s.Concurrency)
	}
	shape := "single calls"
	if s.Batch > 0 {
		shape = fmt.Sprintf("batches of %d", s.Batch)
	}
	var mix []string
	for _, e := range s.Mix {
		mix = append(mix, fmt.Sprintf("%s=%d", e.Method, e.Weight))
	}
	fmt.Fprintf(w, "load: %s, %s, %s per target in %d round(s); mix %s\n", load, shape, s.Duration, s.Rounds, strings.Join(mix, ","))
	fmt.Fprintf(w, "machine: %s %s/%s, %d CPUs, %s\n\n", r.Machine.Host, r.Machine.OS, r.Machine.Arch, r.Machine.CPUs, r.Machine.Go)

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "target\treq/s\tcalls/s\tok calls\terrors\tp50 ms\tp90 ms\tp99 ms\tp99.9 ms\tmax ms\t")
	for _, t := range r.Targets {
		fmt.Fprintf(tw, "%s\t%.1f\t%.1f\t%d\t%d\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f\t\n",
			t.Name, t.RequestsPerSec, t.CallsPerSec, t.OKCalls, t.Calls-t.OKCalls,
			t.Latency.P50, t.Latency.P90, t.Latency.P99, t.Latency.P999, t.Latency.Max)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w, "\nCPU time per call, µs (from /proc, 10 ms resolution):")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "target\tload generator\ttarget pid\ttarget\tpeak RSS MiB\t")
	for _, t := range r.Targets {
		if p := t.Process; p != nil {
			fmt.Fprintf(tw, "%s\t%.1f\t%d\t%.1f\t%.0f\t\n", t.Name, t.GeneratorCPUPerCall, p.PID, p.CPUPerCall, p.PeakRSSMiB)
		} else {
			fmt.Fprintf(tw, "%s\t%.1f\t-\t-\t-\t\n", t.Name, t.GeneratorCPUPerCall)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, t := range r.Targets {
		if p := t.Process; p != nil && p.Error != "" {
			fmt.Fprintf(w, "%s: process figures incomplete: %s\n", t.Name, p.Error)
		}
	}
	for _, t := range r.Targets {
		if t.Connections > int64(r.Settings.Concurrency) {
			fmt.Fprintf(w, "\n%s: %d connections opened for %d workers: the target closed some\n", t.Name, t.Connections, r.Settings.Concurrency)
		}
		if t.Late > 0 || t.Unsent > 0 {
			fmt.Fprintf(w, "\n%s: the rate was not kept: %d of %d requests started over 1 ms late, %d more were never sent (raise --concurrency or lower --rate)\n",
				t.Name, t.Late, t.Requests, t.Unsent)
		}
		if len(t.Errors) == 0 {
			continue
		}
		fmt.Fprintf(w, "\n%s errors (%s):\n", t.Name, t.URL)
		for _, k := range sortedKeys(t.Errors) {
			fmt.Fprintf(w, "  %-34s %8d  e.g. %s\n", k, t.Errors[k], oneLine(t.ErrorSamples[k]))
		}
	}
	if len(r.Ratios) > 0 {
		fmt.Fprintf(w, "\nratios to %s (throughput of ok calls; latency, lower is better):\n", r.Ratios[0].Baseline)
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "target\tthroughput\tp50\tp99\t")
		for _, x := range r.Ratios {
			fmt.Fprintf(tw, "%s\t%.2f×\t%.2f×\t%.2f×\t\n", x.Target, x.Throughput, x.P50, x.P99)
		}
		return tw.Flush()
	}
	return nil
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 100 {
		s = s[:100] + "..."
	}
	return s
}
