package outagee2e

import (
	"context"
	"slices"
	"testing"
	"time"
)

// TestHeadLag measures how long after the devnet distributes a block the
// gateway's agreed head reaches it, with HTTP-only providers: p99 under
// one block time.
func TestHeadLag(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const blocks = 60
	// Polls are timed to the block time once the gateway measured it; the
	// first blocks after that settle the measure.
	settle(ctx, t)
	seen := map[uint64]time.Time{} // devnet block -> when the test saw it
	var lags []time.Duration
	last, _ := dn.Head()
	for len(lags) < blocks {
		now := time.Now()
		if n, _ := dn.Head(); n > last {
			for b := last + 1; b <= n; b++ {
				seen[b] = now
			}
			last = n
		}
		g := gatewayHead()
		for b, at := range seen {
			if b <= g {
				lags = append(lags, now.Sub(at))
				delete(seen, b)
			}
		}
		select {
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		case <-time.After(5 * time.Millisecond):
		}
	}
	slices.Sort(lags)
	p50, p99 := lags[len(lags)/2], lags[len(lags)*99/100]
	t.Logf("agreed head lag behind the devnet over %d blocks (HTTP-only, block time %s): p50 %s p99 %s max %s",
		len(lags), blockTime, p50.Round(time.Millisecond), p99.Round(time.Millisecond), lags[len(lags)-1].Round(time.Millisecond))
	if p99 >= blockTime {
		t.Errorf("p99 lag %s, want under one block time (%s)", p99, blockTime)
	}
}
