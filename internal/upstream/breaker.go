package upstream

import "time"

// BreakerState is the circuit breaker's state.
type BreakerState string

// Breaker states. There is no half-open state for traffic: an open breaker
// is closed only by a successful background probe.
const (
	BreakerClosed BreakerState = "closed"
	BreakerOpen   BreakerState = "open"
)

// maxCooldownDoublings bounds the cooldown of a flapping provider at
// 2^maxCooldownDoublings times the configured cooldown.
const maxCooldownDoublings = 5

// breaker opens after a number of consecutive failures. A provider that
// fails again soon after it was readmitted (a flapping one) waits twice as
// long each time. Not safe for concurrent use: the provider's mutex guards it.
type breaker struct {
	threshold int
	cooldown  time.Duration

	failures  int
	open      bool
	openedAt  time.Time
	closedAt  time.Time
	doublings int // current cooldown is cooldown << doublings
}

// failure records a failed call and reports whether it opened the breaker.
func (b *breaker) failure(now time.Time) bool {
	b.failures++
	if !b.open && b.failures >= b.threshold {
		b.open = true
		b.openedAt = now
		// Reopened within ten cooldowns of closing: flapping.
		if !b.closedAt.IsZero() && now.Sub(b.closedAt) < 10*b.currentCooldown() {
			b.doublings = min(b.doublings+1, maxCooldownDoublings)
		} else {
			b.doublings = 0
		}
		return true
	}
	return false
}

func (b *breaker) currentCooldown() time.Duration { return b.cooldown << b.doublings }

// success records a successful call from traffic (it does not close an
// open breaker: only a probe does, see reset).
func (b *breaker) success() {
	if !b.open {
		b.failures = 0
	}
}

// reset closes the breaker and reports whether it was open.
func (b *breaker) reset(now time.Time) bool {
	was := b.open
	b.open, b.failures = false, 0
	if was {
		b.closedAt = now
	}
	return was
}

// probeDue reports whether an open breaker has cooled down enough to probe.
func (b *breaker) probeDue(now time.Time) bool {
	return b.open && now.Sub(b.openedAt) >= b.currentCooldown()
}

func (b *breaker) state() BreakerState {
	if b.open {
		return BreakerOpen
	}
	return BreakerClosed
}
