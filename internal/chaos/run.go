package chaos

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/devnet"
	"github.com/rpcmesh/rpcmesh/internal/status"
)

// Options bound each scenario's phases.
type Options struct {
	Traffic TrafficOptions
	// DetectWithin bounds the wait for detection once the fault is held
	// long enough; default 15s.
	DetectWithin time.Duration
	// RecoverWithin bounds the wait for recovery after the fault is
	// cleared (and for a healthy gateway before it is staged); default 30s.
	RecoverWithin time.Duration
	// HoldBlocks and HoldCalls are how long a fault is held at least: this
	// many blocks and this many client calls; defaults 6 and 60.
	HoldBlocks uint64
	HoldCalls  uint64
	// SameGateway keeps one gateway for every scenario; by default each
	// scenario starts with a fresh gateway in front of the same devnet,
	// so that results do not depend on the order scenarios run in (a
	// provider that failed in the scenario before would otherwise start
	// with a doubled breaker cooldown).
	SameGateway bool
}

func (o *Options) fill() {
	if o.Traffic == (TrafficOptions{}) {
		o.Traffic = DefaultTraffic()
	}
	if o.DetectWithin == 0 {
		o.DetectWithin = 15 * time.Second
	}
	if o.RecoverWithin == 0 {
		o.RecoverWithin = 30 * time.Second
	}
	if o.HoldBlocks == 0 {
		o.HoldBlocks = 6
	}
	if o.HoldCalls == 0 {
		o.HoldCalls = 60
	}
}

// Result is one scenario's outcome.
type Result struct {
	Scenario
	Tally
	// Honest is the node answers were checked against.
	Honest string `json:"honest"`
	// DetectMs is from staging the faults until the gateway reported, for
	// every fault due one, an open incident of an expected kind naming
	// one of its nodes (-1: one was missed while the faults were held; 0
	// when none was due). Detections says it fault by fault, and why a
	// fault could not be detected.
	DetectMs   int64       `json:"detectMs"`
	Detections []Detection `json:"detections"`
	// StateMs is from staging until a faulty provider was first in a
	// state other than up (-1: never), State that state: the signal the
	// incidents are derived from.
	StateMs int64                `json:"stateMs"`
	State   status.ProviderState `json:"state,omitempty"`
	// Incidents are every incident open while the faults were held,
	// "kind: message" as first reported.
	Incidents []string `json:"incidents,omitempty"`
	// RecoverMs is from clearing the faults until no incident was open
	// and every provider was up (-1: not within the bound).
	RecoverMs int64 `json:"recoverMs"`
	// Lingering is what still kept the status from healthy lingerAfter
	// after the faults were cleared ("" when it had recovered by then).
	Lingering string `json:"lingering,omitempty"`
	// PeakHeapMB and PeakRSSMB are the process's peak Go heap in use and
	// resident set while the scenario ran: gateway, devnet nodes and the
	// clients share the process.
	PeakHeapMB float64 `json:"peakHeapMB"`
	PeakRSSMB  float64 `json:"peakRSSMB"`
	Error      string  `json:"error,omitempty"`
}

// Run runs the scenarios one after another, calling progress (if not nil)
// after each; it stops early only when ctx ends.
func Run(ctx context.Context, env *Env, scenarios []Scenario, opts Options, progress func(Result)) []Result {
	out := make([]Result, 0, len(scenarios))
	for _, sc := range scenarios {
		if ctx.Err() != nil {
			break
		}
		r := RunScenario(ctx, env, sc, opts)
		out = append(out, r)
		if progress != nil {
			progress(r)
		}
	}
	return out
}

// RunScenario starts a fresh gateway (unless SameGateway), waits until it
// is healthy, starts the traffic, stages the
// scenario's faults, holds them until detected (bounded) and for at least
// HoldBlocks blocks and HoldCalls calls, clears them, waits for recovery
// (bounded), and returns what the traffic and the status saw.
func RunScenario(ctx context.Context, env *Env, sc Scenario, opts Options) Result {
	opts.fill()
	r := Result{Scenario: sc, DetectMs: -1, StateMs: -1, RecoverMs: -1}
	mem := &peak{}
	if !opts.SameGateway {
		gctx, cancel := context.WithTimeout(ctx, opts.RecoverWithin)
		err := env.RestartGateway(gctx)
		cancel()
		if err != nil {
			r.Error = "restart the gateway: " + err.Error()
			return r
		}
	}
	if !healthy(ctx, env, opts.RecoverWithin, mem) {
		r.Error = "the gateway was not healthy before the fault: " + notHealthy(env.Source.Snapshot())
	}
	info := env.Devnet.Info()
	faulty := faultyNodes(info, sc)
	tr, err := StartTraffic(ctx, env, opts.Traffic, faulty)
	if err != nil {
		r.Error = err.Error()
		return r
	}
	r.Honest = tr.ref.Load().name
	bctx, cancel := context.WithTimeout(ctx, opts.RecoverWithin)
	tr.WaitCalls(bctx, opts.HoldCalls/2)
	cancel()

	staged := time.Now()
	w := newWatch(info, sc.Faults, env.Source.Snapshot(), tr.Broadcasts(), staged)
	ids, err := stage(ctx, env.Devnet, sc.Faults)
	if err != nil {
		r.Error = err.Error()
	}
	hold(ctx, env, tr, w, opts, mem)
	r.summarize(w.finish(tr.Broadcasts()), w.order)

	for _, id := range ids {
		if err := env.Devnet.ClearFault(id); err != nil && !errors.Is(err, devnet.ErrNoSuchFault) {
			r.Error = err.Error()
		}
	}
	cleared := time.Now()
	rctx, cancel := context.WithTimeout(ctx, opts.RecoverWithin)
	if waitUntil(rctx, 50*time.Millisecond, func() bool {
		mem.sample()
		why := notHealthy(env.Source.Snapshot())
		if why != "" && r.Lingering == "" && time.Since(cleared) > lingerAfter {
			r.Lingering = why
		}
		return why == ""
	}) {
		r.RecoverMs = time.Since(cleared).Milliseconds()
	}
	cancel()
	actx, cancel := context.WithTimeout(ctx, opts.RecoverWithin)
	tr.WaitCalls(actx, opts.HoldCalls/2)
	cancel()
	r.Tally = tr.Stop()
	mem.sample()
	r.PeakHeapMB, r.PeakRSSMB = mem.heap, mem.rss
	return r
}

// hold keeps the faults staged for at least HoldBlocks blocks and
// HoldCalls calls, and until every fault due an incident has one (see
// watch), or DetectWithin passed.
func hold(ctx context.Context, env *Env, tr *Traffic, w *watch, opts Options, mem *peak) {
	fromBlock, _ := env.Devnet.Head()
	fromCalls := tr.Done()
	hctx, cancel := context.WithTimeout(ctx, opts.DetectWithin+time.Duration(opts.HoldBlocks+10)*env.BlockTime)
	defer cancel()
	waitUntil(hctx, 50*time.Millisecond, func() bool {
		mem.sample()
		w.observe(env.Source.Snapshot())
		head, _ := env.Devnet.Head()
		held := head >= fromBlock+opts.HoldBlocks && tr.Done() >= fromCalls+opts.HoldCalls
		return held && (w.done() || time.Since(w.staged) > opts.DetectWithin)
	})
}

// lingerAfter is when a slow recovery's cause is noted.
const lingerAfter = 2 * time.Second

// stage sets the faults in order; on an error it clears those it set.
func stage(ctx context.Context, d *devnet.Devnet, steps []Step) ([]string, error) {
	var ids []string
	for _, s := range steps {
		f, err := d.SetFault(ctx, s.Spec())
		if err != nil {
			for _, id := range ids {
				_ = d.ClearFault(id)
			}
			return nil, fmt.Errorf("stage %s: %w", s, err)
		}
		ids = append(ids, f.ID)
	}
	return ids, nil
}

// healthy waits (at most within) until no incident is open and every
// provider is up.
func healthy(ctx context.Context, env *Env, within time.Duration, mem *peak) bool {
	cctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	return waitUntil(cctx, 50*time.Millisecond, func() bool {
		mem.sample()
		return notHealthy(env.Source.Snapshot()) == ""
	})
}

// notHealthy says what keeps the status from healthy ("" when healthy).
func notHealthy(snap status.Snapshot) string {
	var why []string
	for _, inc := range snap.Incidents {
		if inc.Open() {
			why = append(why, "incident "+string(inc.Kind)+" open")
		}
	}
	for _, c := range snap.Chains {
		for _, p := range c.Providers {
			if p.State != status.StateUp {
				why = append(why, p.Name+" "+string(p.State))
			}
		}
	}
	return strings.Join(why, ", ")
}

// peak tracks the process's peak heap and resident set, sampled at most
// every half second (reading them is not free).
type peak struct {
	last      time.Time
	heap, rss float64
}

func (p *peak) sample() {
	if time.Since(p.last) < 500*time.Millisecond {
		return
	}
	p.last = time.Now()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	p.heap = max(p.heap, float64(ms.HeapInuse)/(1<<20))
	p.rss = max(p.rss, rssMB())
}

// rssMB is the process's resident set from /proc (0 where there is none).
func rssMB() float64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, _ := strconv.ParseFloat(f[1], 64)
	return pages * float64(os.Getpagesize()) / (1 << 20)
}
