package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// Report is the outcome of a run: its settings, the machine, one TargetReport
// per target and the ratios of each target to the first. It is what --json
// prints.
type Report struct {
	Started  time.Time      `json:"started"`
	Settings Settings       `json:"settings"`
	Machine  Machine        `json:"machine"`
	Targets  []TargetReport `json:"targets"`
	Ratios   []Ratio        `json:"ratios,omitempty"`
}

// Settings are the options a run used, for reproducing it.
type Settings struct {
	Mode        string     `json:"mode"` // "rate" (open loop) or "concurrency" (closed loop)
	Rate        float64    `json:"rate,omitempty"`
	Concurrency int        `json:"concurrency"`
	Duration    string     `json:"duration"`
	Requests    int64      `json:"requests,omitempty"`
	Batch       int        `json:"batch,omitempty"`
	Timeout     string     `json:"timeout"`
	Warmup      string     `json:"warmup,omitempty"`
	Rounds      int        `json:"rounds"`
	Interval    string     `json:"interval,omitempty"`
	Mix         []MixEntry `json:"mix"`
}

// Machine describes where the load generator ran.
type Machine struct {
	Host       string `json:"host"`
	OS         string `json:"os"`
	Arch       string `json:"arch"`
	CPUs       int    `json:"cpus"`
	GOMAXPROCS int    `json:"gomaxprocs"`
	Go         string `json:"go"`
}

// TargetReport is what one target did under the load. Requests are HTTP
// requests or WebSocket messages; calls are JSON-RPC calls (Batch per request).
type TargetReport struct {
	Name       string  `json:"name"`
	URL        string  `json:"url"`
	Seconds    float64 `json:"seconds"` // measured time, over all rounds
	Requests   int64   `json:"requests"`
	OKRequests int64   `json:"okRequests"` // every call of the request succeeded
	Calls      int64   `json:"calls"`
	OKCalls    int64   `json:"okCalls"`
	// Late counts fixed-rate requests that started over 1 ms after their
	// scheduled time: the generator could not keep the rate (too few workers
	// for the target's latency, or too little CPU). Their latency still counts
	// from the scheduled time.
	Late int64 `json:"late,omitempty"`
	// Unsent counts fixed-rate requests scheduled within the duration that no
	// worker was free to send before it ended; they are in no other count.
	Unsent int64 `json:"unsent,omitempty"`
	// Errors counts failed calls by kind: "transport: ...", "http 429",
	// "rpc -32601", "bad response: ...".
	Errors map[string]int64 `json:"errors,omitempty"`
	// ErrorSamples holds one message per error kind.
	ErrorSamples   map[string]string `json:"errorSamples,omitempty"`
	RequestsPerSec float64           `json:"requestsPerSec"`
	CallsPerSec    float64           `json:"callsPerSec"`
	OKCallsPerSec  float64           `json:"okCallsPerSec"`
	Latency        Latency           `json:"latency"`
	// Connections counts the connections the generator opened to the target
	// (warmup included): Concurrency when all were kept alive, more when the
	// target closed them.
	Connections int64 `json:"connections"`
	// Timeline is the run cut into intervals, when Options.Interval is set.
	Timeline []TimelinePoint `json:"timeline,omitempty"`
	// Process is what the target's own process spent, when its PID was given.
	Process *ProcessReport `json:"process,omitempty"`
	// GeneratorCPUPerCall is the load generator's own CPU time per call in
	// µs: what the load itself costs the machine the target shares.
	GeneratorCPUPerCall float64 `json:"generatorCpuPerCallMicros"`
}

// TimelinePoint is what one interval of a run saw: to watch a target through
// an event, such as a provider failing behind a gateway.
type TimelinePoint struct {
	// At is the end of the interval, in measured seconds of this target
	// (rounds laid end to end).
	At             float64 `json:"at"`
	Seconds        float64 `json:"seconds"`
	Requests       int64   `json:"requests"`
	OKCalls        int64   `json:"okCalls"`
	ErrorCalls     int64   `json:"errorCalls"`
	RequestsPerSec float64 `json:"requestsPerSec"`
	OKCallsPerSec  float64 `json:"okCallsPerSec"`
	P50            float64 `json:"p50"` // ms
	P99            float64 `json:"p99"` // ms
	Max            float64 `json:"max"` // ms
}

func newTimelinePoint(at, length time.Duration, t *intervalTally) TimelinePoint {
	lat := latencyOf(t.hist)
	pt := TimelinePoint{
		At: round3(at.Seconds()), Seconds: round3(length.Seconds()),
		Requests: t.requests, OKCalls: t.okCalls, ErrorCalls: t.calls - t.okCalls,
		P50: lat.P50, P99: lat.P99, Max: lat.Max,
	}
	if s := length.Seconds(); s > 0 {
		pt.RequestsPerSec = round3(float64(t.requests) / s)
		pt.OKCallsPerSec = round3(float64(t.okCalls) / s)
	}
	return pt
}

// String is the point as a progress line.
func (p TimelinePoint) String() string {
	return fmt.Sprintf("t=%.1fs %.0f req/s, %.0f ok calls/s, %d errors, p50 %.3f ms, p99 %.3f ms",
		p.At, p.RequestsPerSec, p.OKCallsPerSec, p.ErrorCalls, p.P50, p.P99)
}

// ProcessReport is the CPU time and memory of a target's process over the
// measured phases (not warmup), from /proc with a 10 ms resolution.
type ProcessReport struct {
	PID        int     `json:"pid"`
	CPUSeconds float64 `json:"cpuSeconds"`
	// CPUPerCall is CPU time per call (ok or not) in µs.
	CPUPerCall float64 `json:"cpuPerCallMicros"`
	// PeakRSSMiB is the process's peak resident memory since it started.
	PeakRSSMiB float64 `json:"peakRssMiB"`
	// Error says why the figures are missing or partial.
	Error string `json:"error,omitempty"`
}

// Latency summarises the HDR histogram of every request's latency (errors
// included), in milliseconds. At a fixed rate it is measured from the
// request's scheduled time, not from when it was sent.
type Latency struct {
	Count int64   `json:"count"`
	Mean  float64 `json:"mean"`
	P50   float64 `json:"p50"`
	P90   float64 `json:"p90"`
	P99   float64 `json:"p99"`
	P999  float64 `json:"p99.9"`
	Max   float64 `json:"max"`
}

// Ratio compares a target with the baseline (the first target): throughput
// of successful calls, and latency percentiles. Values below 1 mean less
// throughput or lower latency than the baseline.
type Ratio struct {
	Target     string  `json:"target"`
	Baseline   string  `json:"baseline"`
	Throughput float64 `json:"throughput"`
	P50        float64 `json:"p50"`
	P99        float64 `json:"p99"`
}

func newReport(o Options, started time.Time, runs []*targetRun) *Report {
	host, _ := os.Hostname()
	rep := &Report{
		Started: started.UTC(),
		Settings: Settings{
			Mode:        "concurrency",
			Rate:        o.Rate,
			Concurrency: o.Concurrency,
			Duration:    o.Duration.String(),
			Requests:    o.Requests,
			Batch:       o.Batch,
			Timeout:     o.Timeout.String(),
			Rounds:      o.Rounds,
			Mix:         o.Mix.Entries(),
		},
		Machine: Machine{
			Host: host, OS: runtime.GOOS, Arch: runtime.GOARCH,
			CPUs: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0), Go: runtime.Version(),
		},
	}
	if o.Rate > 0 {
		rep.Settings.Mode = "rate"
	}
	if o.Warmup > 0 {
		rep.Settings.Warmup = o.Warmup.String()
	}
	if o.Interval > 0 {
		rep.Settings.Interval = o.Interval.String()
	}
	for _, r := range runs {
		rep.Targets = append(rep.Targets, targetReport(r))
	}
	base := rep.Targets[0]
	for _, t := range rep.Targets[1:] {
		rep.Ratios = append(rep.Ratios, Ratio{
			Target:     t.Name,
			Baseline:   base.Name,
			Throughput: ratio(t.OKCallsPerSec, base.OKCallsPerSec),
			P50:        ratio(t.Latency.P50, base.Latency.P50),
			P99:        ratio(t.Latency.P99, base.Latency.P99),
		})
	}
	return rep
}

func targetReport(r *targetRun) TargetReport {
	t := r.tally
	secs := r.elapsed.Seconds()
	rep := TargetReport{
		Name: r.target.Name, URL: r.target.URL, Seconds: round3(secs),
		Requests: t.requests, OKRequests: t.okRequests, Calls: t.calls, OKCalls: t.okCalls, Late: t.late, Unsent: t.unsent,
		Latency: latencyOf(r.hist), Connections: r.ep.dials.Load(), Timeline: r.timeline,
	}
	if len(t.errors) > 0 {
		rep.Errors, rep.ErrorSamples = t.errors, t.samples
	}
	if t.calls > 0 {
		rep.GeneratorCPUPerCall = round3(float64(r.self.cpu.Microseconds()) / float64(t.calls))
	}
	if p := r.process; p != nil {
		pr := &ProcessReport{PID: p.pid, CPUSeconds: round3(p.cpu.Seconds())}
		if t.calls > 0 {
			pr.CPUPerCall = round3(float64(p.cpu.Microseconds()) / float64(t.calls))
		}
		rss, err := procPeakRSS(p.pid)
		if p.err != nil {
			err = p.err
		}
		if err != nil {
			pr.Error = err.Error()
		}
		pr.PeakRSSMiB = round3(float64(rss) / (1 << 20))
		rep.Process = pr
	}
	if secs > 0 {
		rep.RequestsPerSec = round3(float64(t.requests) / secs)
		rep.CallsPerSec = round3(float64(t.calls) / secs)
		rep.OKCallsPerSec = round3(float64(t.okCalls) / secs)
	}
	return rep
}

func latencyOf(h *hdrhistogram.Histogram) Latency {
	ms := func(us int64) float64 { return round3(float64(us) / 1000) }
	if h.TotalCount() == 0 {
		return Latency{}
	}
	return Latency{
		Count: h.TotalCount(),
		Mean:  round3(h.Mean() / 1000),
		P50:   ms(h.ValueAtQuantile(50)),
		P90:   ms(h.ValueAtQuantile(90)),
		P99:   ms(h.ValueAtQuantile(99)),
		P999:  ms(h.ValueAtQuantile(99.9)),
		Max:   ms(h.Max()),
	}
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return round3(a / b)
}

func round3(x float64) float64 {
	return float64(int64(x*1000+0.5)) / 1000
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}
