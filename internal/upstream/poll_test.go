package upstream

import (
	"testing"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/config"
)

// TestNextPoll: head polls are timed to when the provider's next block is
// nearly due, then repeated every tenth of a block time, within the
// configured bounds.
func TestNextPoll(t *testing.T) {
	const maxWait = 2 * time.Second
	now := time.Unix(1_700_000_000, 0)
	cases := []struct {
		name      string
		blockTime time.Duration
		sinceRise time.Duration // since the provider's last new head
		want      time.Duration
	}{
		{"block time unknown", 0, 0, maxWait},
		{"just saw a block", 500 * time.Millisecond, 0, 375 * time.Millisecond},
		{"block nearly due", 500 * time.Millisecond, 300 * time.Millisecond, 100 * time.Millisecond},
		{"block late: a tenth of a block time, at least poll_min_interval", 500 * time.Millisecond, 600 * time.Millisecond, 100 * time.Millisecond},
		{"12s blocks, late", 12 * time.Second, 13 * time.Second, 1200 * time.Millisecond},
		{"12s blocks, just seen: at most poll_interval", 12 * time.Second, 0, maxWait},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := config.Default().Health
			p := New(Options{Chain: "c", ChainID: 1, Provider: config.Provider{Name: "a", HTTP: "http://127.0.0.1:1"}, Health: h,
				BlockTime: func() time.Duration { return tc.blockTime }})
			p.headRiseAt = now.Add(-tc.sinceRise)
			if got := p.nextPoll(now, maxWait); got != tc.want {
				t.Fatalf("nextPoll = %s, want %s", got, tc.want)
			}
		})
	}
}
