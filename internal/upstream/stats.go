package upstream

import (
	"math"
	"slices"
	"time"
)

// windowSize is how many recent latencies the quantiles are computed from.
const windowSize = 128

// stats is a provider's rolling latency, error and throttle rates. Not safe
// for concurrent use: the provider's mutex guards it.
type stats struct {
	halfLife time.Duration
	last     time.Time

	latency  float64 // peak EWMA, seconds; 0 until the first sample
	errors   float64 // EWMA of 0/1 failure
	throttle float64 // EWMA of 0/1 throttled

	window  [windowSize]time.Duration
	n       int // samples written in total
	sorted  []time.Duration
	sortedN int // n when sorted was computed
}

// alpha is the weight of a new sample: time-decayed with the half-life, but
// at least 10% so that a burst of failures shows within a few calls.
func (s *stats) alpha(now time.Time) float64 {
	if s.last.IsZero() {
		s.last = now
		return 1
	}
	dt := now.Sub(s.last)
	s.last = now
	a := 1 - math.Exp(-math.Ln2*dt.Seconds()/s.halfLife.Seconds())
	return min(max(a, 0.1), 1)
}

// record adds one call outcome. latency is ignored when <= 0.
func (s *stats) record(now time.Time, latency time.Duration, failed, throttled bool) {
	a := s.alpha(now)
	if latency > 0 {
		// Peak-sensitive: a slower sample counts at once, recovery decays.
		if v := latency.Seconds(); s.latency == 0 || v > s.latency {
			s.latency = v
		} else {
			s.latency += a * (latency.Seconds() - s.latency)
		}
		s.window[s.n%windowSize] = latency
		s.n++
	}
	s.errors += a * (b2f(failed) - s.errors)
	s.throttle += a * (b2f(throttled) - s.throttle)
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// quantile returns the q-quantile (0..1) of the recent latencies, 0 without samples.
func (s *stats) quantile(q float64) time.Duration {
	count := min(s.n, windowSize)
	if count == 0 {
		return 0
	}
	// Re-sort at most every 8 samples: quantiles drift slowly.
	if s.sorted == nil || s.n-s.sortedN >= 8 || len(s.sorted) != count && s.n-s.sortedN > 0 {
		s.sorted = append(s.sorted[:0], s.window[:count]...)
		slices.Sort(s.sorted)
		s.sortedN = s.n
	}
	i := int(math.Ceil(q*float64(len(s.sorted)))) - 1
	return s.sorted[min(max(i, 0), len(s.sorted)-1)]
}

// recent returns the median of the last k (at most 8) latencies, 0 without
// samples: it follows a change within a few calls, unlike the EWMA.
func (s *stats) recent(k int) time.Duration {
	var buf [8]time.Duration
	count := min(s.n, windowSize, k, len(buf))
	if count == 0 {
		return 0
	}
	for i := range count {
		v := s.window[(s.n-1-i+windowSize)%windowSize]
		j := i
		for ; j > 0 && buf[j-1] > v; j-- { // insertion sort
			buf[j] = buf[j-1]
		}
		buf[j] = v
	}
	return buf[count/2]
}
