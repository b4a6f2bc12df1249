package bench

import (
	"bytes"
	"context"
	"math"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// lateAfter is how far behind its scheduled time a fixed-rate request may
// start before it counts as late (the generator could not keep the rate).
const lateAfter = time.Millisecond

// transportBackoff is how long a closed-loop worker waits after a transport
// error, so a target that refuses connections does not turn the generator
// into a busy loop.
const transportBackoff = 10 * time.Millisecond

// phase is one timed slice of load against one target.
type phase struct {
	ctx      context.Context
	o        Options
	run      *targetRun
	rec      *recorder
	start    time.Time
	end      time.Time
	limit    int64
	next     atomic.Int64 // requests claimed
	sent     atomic.Int64 // requests sent
	interval float64      // seconds between scheduled requests at a fixed rate
}

// runPhase runs Concurrency workers against r for d or limit requests
// (0: no bound) and returns how long they took.
func runPhase(ctx context.Context, o Options, r *targetRun, d time.Duration, limit int64, rec *recorder) time.Duration {
	for len(r.callers) < o.Concurrency {
		r.callers = append(r.callers, r.ep.newCaller())
	}
	p := &phase{ctx: ctx, o: o, run: r, rec: rec, limit: limit}
	if o.Rate > 0 {
		p.interval = 1 / o.Rate
	}
	p.start = time.Now()
	p.end = p.start.Add(d)
	var wg sync.WaitGroup
	for w := 0; w < o.Concurrency; w++ {
		wg.Go(func() { p.work(w) })
	}
	if rec.timeline {
		done := make(chan struct{})
		sampled := make(chan struct{})
		go func() {
			defer close(sampled)
			p.sample(done)
		}()
		wg.Wait()
		close(done)
		<-sampled
	} else {
		wg.Wait()
	}
	if p.interval > 0 && ctx.Err() == nil {
		// Requests scheduled before the end that no worker was free to send.
		scheduled := p.scheduled(d)
		if limit > 0 {
			scheduled = min(scheduled, limit)
		}
		rec.unsent(scheduled - min(p.sent.Load(), scheduled))
	}
	return time.Since(p.start)
}

// sample adds a timeline point to the target every Interval, and a last
// one for the rest of the phase when done closes.
func (p *phase) sample(done <-chan struct{}) {
	ticker := time.NewTicker(p.o.Interval)
	defer ticker.Stop()
	base := p.run.elapsed // measured time of the target's earlier phases
	last := p.start
	acc := intervalTally{hist: newHistogram()}
	for {
		var now time.Time
		stop := false
		select {
		case now = <-ticker.C:
		case <-done:
			now, stop = time.Now(), true
		}
		p.rec.takeInterval(&acc)
		if acc.requests > 0 || !stop {
			pt := newTimelinePoint(base+now.Sub(p.start), now.Sub(last), &acc)
			p.run.timeline = append(p.run.timeline, pt)
			progress(p.o.Progress, "bench: %s: %s", p.run.target.Name, pt)
		}
		if stop {
			return
		}
		last = now
		acc = intervalTally{hist: acc.hist}
		acc.hist.Reset()
	}
}

// offset is when request k is due at a fixed rate, from the phase's start.
func (p *phase) offset(k int64) time.Duration {
	return time.Duration(float64(k) * p.interval * float64(time.Second))
}

// scheduled is how many requests are due within d at a fixed rate: the k
// with offset(k) < d, counted with the same rounding as claim.
func (p *phase) scheduled(d time.Duration) int64 {
	k := int64(math.Ceil(d.Seconds() / p.interval))
	for k > 0 && p.offset(k-1) >= d {
		k--
	}
	for p.offset(k) < d {
		k++
	}
	return k
}

// claim returns when worker's next request is due, or false when the phase
// is over. At a fixed rate request k is due at start + k/rate whether or not
// a worker is free then, and latency is measured from that time, so a slow
// target cannot hide its delay by slowing the load (coordinated omission).
func (p *phase) claim(timer *time.Timer) (due time.Time, late, ok bool) {
	if p.ctx.Err() != nil {
		return time.Time{}, false, false
	}
	if p.interval == 0 {
		now := time.Now()
		if !now.Before(p.end) || (p.limit > 0 && p.next.Add(1) > p.limit) {
			return time.Time{}, false, false
		}
		return now, false, true
	}
	k := p.next.Add(1) - 1
	if p.limit > 0 && k >= p.limit {
		return time.Time{}, false, false
	}
	due = p.start.Add(p.offset(k))
	if !due.Before(p.end) || !time.Now().Before(p.end) {
		// Past the end of the phase nothing more is sent, even requests that
		// were due earlier: runPhase counts those as unsent.
		return time.Time{}, false, false
	}
	if wait := time.Until(due); wait > 0 {
		timer.Reset(wait)
		select {
		case <-timer.C:
		case <-p.ctx.Done():
			timer.Stop()
			return time.Time{}, false, false
		}
	}
	return due, time.Since(due) > lateAfter, true
}

// work is one worker's loop: claim, send, check, record, until the phase ends.
func (p *phase) work(w int) {
	c := p.run.callers[w]
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	var (
		body  []byte
		resp  bytes.Buffer
		o     outcome
		calls = max(p.o.Batch, 1)
	)
	for {
		due, late, ok := p.claim(timer)
		if !ok {
			return
		}
		var first uint64
		body, first = p.run.src.appendRequest(body[:0], p.o.Batch)
		p.sent.Add(1)
		ctx, cancel := context.WithTimeout(p.ctx, p.o.Timeout)
		status, err := c.call(ctx, body, &resp)
		cancel()
		done := time.Now()
		if p.ctx.Err() != nil {
			return // interrupted: this request says nothing about the target
		}
		o.reset()
		switch {
		case err != nil:
			o.fail(transportKind(err), calls, err.Error())
		case status != http.StatusOK:
			o.fail(httpKind(status), calls, snippet(resp.Bytes()))
		default:
			checkResponse(resp.Bytes(), first, p.o.Batch, &o)
		}
		p.rec.record(w, done.Sub(due), calls, &o, late)
		if err != nil && p.interval == 0 && !sleepCtx(p.ctx, transportBackoff) {
			return
		}
	}
}
