package upstream

import (
	"testing"
	"time"
)

// TestStartRetryBounded: the start-up retry of an unreachable provider
// doubles up to the probe interval and stays there, however long the
// provider stays away.
func TestStartRetryBounded(t *testing.T) {
	for _, probe := range []time.Duration{50 * time.Millisecond, 5 * time.Second, time.Hour} {
		backoff := 250 * time.Millisecond
		var wait time.Duration
		for i := range 200 {
			prev := wait
			wait, backoff = startRetry(backoff, probe)
			if wait <= 0 || wait > probe || wait < prev {
				t.Fatalf("probe %s, try %d: wait %s after %s", probe, i, wait, prev)
			}
		}
		if wait != probe {
			t.Fatalf("probe %s: wait %s after 200 tries, want the probe interval", probe, wait)
		}
	}
}
