// Package pause is waiting in code that must stop as soon as its context
// ends: a sleep that a cancelled context cuts short, and a loop that runs
// something at a steady interval.
package pause

import (
	"context"
	"time"
)

// For waits d, or less if ctx ends first, and reports whether d passed
// (false: ctx ended). A d <= 0 does not wait and reports true.
func For(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return true // no timer: fault-free proxies call this on every request
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// Every calls f every d (the first time after d) until ctx ends. A call
// that overruns d delays the next one rather than piling calls up.
func Every(ctx context.Context, d time.Duration, f func()) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			f()
		}
	}
}
