package bench

import (
	"sync"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// Latency histogram range, in microseconds: 1 µs to 5 min at 3 significant
// digits (0.1% error). Larger values are recorded as the maximum.
const (
	histMinMicros = 1
	histMaxMicros = int64(5 * time.Minute / time.Microsecond)
	histDigits    = 3
)

// maxShards bounds the histograms one target keeps (each is ~150 KB).
const maxShards = 16

// recorder collects the outcomes of one target's requests. Workers record
// into one of a few shards, each under its own lock, so they rarely contend
// and memory does not grow with concurrency.
type recorder struct {
	shards   []shard
	timeline bool // shards keep intervalTally counts
}

// shard is one slice of a recorder's counts.
type shard struct {
	mu sync.Mutex
	tally
	hist *hdrhistogram.Histogram
	now  intervalTally // since the last takeInterval, when a timeline is kept
	_    [64]byte      // keep shards' locks on separate cache lines
}

// intervalTally is what a shard saw since the timeline's last point.
type intervalTally struct {
	requests, calls, okCalls int64
	hist                     *hdrhistogram.Histogram // nil: no timeline
}

// tally is the counts of a recorder, merged into a Report.
type tally struct {
	requests   int64
	okRequests int64
	calls      int64
	okCalls    int64
	late       int64
	unsent     int64
	errors     map[string]int64
	samples    map[string]string
}

func (t *tally) add(o tally) {
	t.requests += o.requests
	t.okRequests += o.okRequests
	t.calls += o.calls
	t.okCalls += o.okCalls
	t.late += o.late
	t.unsent += o.unsent
	for k, v := range o.errors {
		t.errors[k] += v
	}
	for k, v := range o.samples {
		if _, ok := t.samples[k]; !ok {
			t.samples[k] = v
		}
	}
}

func newTally() tally {
	return tally{errors: map[string]int64{}, samples: map[string]string{}}
}

// newRecorder returns a recorder for workers workers; timeline also keeps
// the counts since the last takeInterval.
func newRecorder(workers int, timeline bool) *recorder {
	n := min(max(workers, 1), maxShards)
	r := &recorder{shards: make([]shard, n), timeline: timeline}
	for i := range r.shards {
		r.shards[i].tally = newTally()
		r.shards[i].hist = newHistogram()
		if timeline {
			r.shards[i].now.hist = newHistogram()
		}
	}
	return r
}

func newHistogram() *hdrhistogram.Histogram {
	return hdrhistogram.New(histMinMicros, histMaxMicros, histDigits)
}

// record adds one request of calls calls that took latency and came to o;
// late marks a request of a fixed-rate run that started after its time.
func (r *recorder) record(worker int, latency time.Duration, calls int, o *outcome, late bool) {
	us := min(max(latency.Microseconds(), histMinMicros), histMaxMicros)
	s := &r.shards[worker%len(r.shards)]
	s.mu.Lock()
	defer s.mu.Unlock()
	_ = s.hist.RecordValue(us) // in range by construction
	if s.now.hist != nil {
		_ = s.now.hist.RecordValue(us)
		s.now.requests++
		s.now.calls += int64(calls)
		s.now.okCalls += int64(o.ok)
	}
	s.requests++
	s.calls += int64(calls)
	s.okCalls += int64(o.ok)
	if o.ok == calls {
		s.okRequests++
	}
	if late {
		s.late++
	}
	for _, e := range o.errs {
		s.errors[e.kind] += int64(e.n)
		if _, ok := s.samples[e.kind]; !ok {
			s.samples[e.kind] = e.sample
		}
	}
}

// unsent adds fixed-rate requests that were due but never sent.
func (r *recorder) unsent(n int64) {
	s := &r.shards[0]
	s.mu.Lock()
	s.tally.unsent += n
	s.mu.Unlock()
}

// takeInterval adds the counts since the last call to t (whose hist
// collects the latencies) and starts a new interval.
func (r *recorder) takeInterval(t *intervalTally) {
	for i := range r.shards {
		s := &r.shards[i]
		s.mu.Lock()
		t.requests += s.now.requests
		t.calls += s.now.calls
		t.okCalls += s.now.okCalls
		if s.now.hist != nil {
			t.hist.Merge(s.now.hist)
			s.now.hist.Reset()
		}
		s.now.requests, s.now.calls, s.now.okCalls = 0, 0, 0
		s.mu.Unlock()
	}
}

// merge folds the shards into one tally and histogram, and adds them to
// the given ones (to accumulate rounds).
func (r *recorder) merge(t *tally, h *hdrhistogram.Histogram) {
	for i := range r.shards {
		s := &r.shards[i]
		s.mu.Lock()
		t.add(s.tally)
		h.Merge(s.hist)
		s.mu.Unlock()
	}
}
