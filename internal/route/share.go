package route

import (
	"sync"
	"time"
)

// shareWindow counts a chain's attempts per operator and per cloud over a
// sliding window of one-second buckets, for the diversity caps.
type shareWindow struct {
	mu      sync.Mutex
	buckets []shareBucket
	swept   int64 // the second of the last sweep of stale buckets
	// running totals over all buckets
	total    int
	operator map[string]int
	cloud    map[string]int
}

type shareBucket struct {
	second   int64
	total    int
	operator map[string]int
	cloud    map[string]int
}

func newShareWindow(window time.Duration) *shareWindow {
	n := max(int(window/time.Second), 1)
	return &shareWindow{
		buckets:  make([]shareBucket, n),
		operator: make(map[string]int),
		cloud:    make(map[string]int),
	}
}

// expire drops buckets older than the window. Called with mu held.
func (w *shareWindow) expire(now time.Time) *shareBucket {
	sec := now.Unix()
	b := &w.buckets[int(sec%int64(len(w.buckets)))]
	if b.second != sec {
		w.drop(b)
		*b = shareBucket{second: sec, operator: make(map[string]int), cloud: make(map[string]int)}
	}
	return b
}

// add counts one attempt for operator and cloud.
func (w *shareWindow) add(now time.Time, operator, cloud string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	// Expire every stale bucket, not only the current one, so totals stay
	// true; once per second is enough, as buckets are whole seconds.
	if sec := now.Unix(); sec != w.swept {
		w.swept = sec
		w.sweep(sec)
	}
	b := w.expire(now)
	b.total++
	b.operator[operator]++
	w.total++
	w.operator[operator]++
	if cloud != "" {
		b.cloud[cloud]++
		w.cloud[cloud]++
	}
}

// sweep drops every bucket older than the window. Called with mu held.
func (w *shareWindow) sweep(sec int64) {
	for i := range w.buckets {
		if b := &w.buckets[i]; b.second != 0 && sec-b.second >= int64(len(w.buckets)) {
			w.drop(b)
			*b = shareBucket{}
		}
	}
}

// drop takes bucket b's counts out of the window's totals. Called with mu
// held.
func (w *shareWindow) drop(b *shareBucket) {
	w.total -= b.total
	for k, v := range b.operator {
		if w.operator[k] -= v; w.operator[k] <= 0 {
			delete(w.operator, k)
		}
	}
	for k, v := range b.cloud {
		if w.cloud[k] -= v; w.cloud[k] <= 0 {
			delete(w.cloud, k)
		}
	}
}

// overCap reports whether operator or cloud already carries more than its
// cap of the window's attempts (a cap <= 0 or >= 1 is no cap).
func (w *shareWindow) overCap(operator, cloud string, opCap, cloudCap float64) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.total == 0 {
		return false
	}
	total := float64(w.total)
	if opCap > 0 && opCap < 1 && float64(w.operator[operator])/total > opCap {
		return true
	}
	if cloud != "" && cloudCap > 0 && cloudCap < 1 && float64(w.cloud[cloud])/total > cloudCap {
		return true
	}
	return false
}

// shares returns the current share of each operator and cloud.
func (w *shareWindow) shares() (total int, operator, cloud map[string]float64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	operator = make(map[string]float64, len(w.operator))
	cloud = make(map[string]float64, len(w.cloud))
	for k, v := range w.operator {
		operator[k] = float64(v) / float64(max(w.total, 1))
	}
	for k, v := range w.cloud {
		cloud[k] = float64(v) / float64(max(w.total, 1))
	}
	return w.total, operator, cloud
}
