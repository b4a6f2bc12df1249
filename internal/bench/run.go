package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// targetRun is the state of one target across warmup and rounds.
type targetRun struct {
	target   Target
	ep       *endpoint
	src      *callSource
	callers  []caller // one per worker, kept across rounds
	tally    tally
	hist     *hdrhistogram.Histogram
	elapsed  time.Duration
	process  *processMeter // the target's process, when its PID is known
	self     processMeter  // the load generator's own process
	timeline []TimelinePoint
}

// Run drives every target with the same load and reports each, with ratios
// against the first. It stops early when ctx ends, and then returns the
// report of what was measured so far together with ctx's error.
func Run(ctx context.Context, o Options) (*Report, error) {
	o = o.withDefaults()
	if err := o.validate(); err != nil {
		return nil, err
	}
	runs := make([]*targetRun, len(o.Targets))
	for i, t := range o.Targets {
		ep, err := newEndpoint(t.URL, o.Timeout)
		if err != nil {
			return nil, err
		}
		runs[i] = &targetRun{target: t, ep: ep, src: newCallSource(o.Mix), tally: newTally(), hist: newHistogram(),
			self: processMeter{pid: os.Getpid()}}
		if t.PID > 0 {
			runs[i].process = &processMeter{pid: t.PID}
		}
	}
	defer func() {
		for _, r := range runs {
			for _, c := range r.callers {
				if c != nil {
					c.close()
				}
			}
		}
	}()

	started := time.Now()
	if o.Warmup > 0 {
		for _, r := range runs {
			progress(o.Progress, "bench: %s: warming up for %s", r.target.Name, o.Warmup)
			runPhase(ctx, o, r, o.Warmup, 0, newRecorder(o.Concurrency, false))
		}
	}
	slice := o.Duration / time.Duration(o.Rounds)
	for round := 0; round < o.Rounds && ctx.Err() == nil; round++ {
		for _, r := range runs {
			if ctx.Err() != nil {
				break
			}
			limit := share(o.Requests, o.Rounds, round)
			if o.Requests > 0 && limit == 0 {
				continue
			}
			progress(o.Progress, "bench: %s: round %d/%d, %s", r.target.Name, round+1, o.Rounds, slice)
			rec := newRecorder(o.Concurrency, o.Interval > 0)
			r.process.begin()
			r.self.begin()
			r.elapsed += runPhase(ctx, o, r, slice, limit, rec)
			r.self.end()
			r.process.end()
			rec.merge(&r.tally, r.hist)
		}
	}
	return newReport(o, started, runs), ctx.Err()
}

// share is round's part of total requests spread over rounds (0: no bound).
func share(total int64, rounds, round int) int64 {
	if total <= 0 {
		return 0
	}
	n := total / int64(rounds)
	if int64(round) < total%int64(rounds) {
		n++
	}
	return n
}

func progress(w io.Writer, format string, args ...any) {
	if w != nil {
		fmt.Fprintf(w, format+"\n", args...)
	}
}
