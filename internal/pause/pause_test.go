package pause

import (
	"context"
	"testing"
	"time"
)

// TestFor: For reports whether the whole wait passed; a cancelled context
// ends it (a wait of an hour returns at once), a wait of zero or less
// passes at once even then.
func TestFor(t *testing.T) {
	live := context.Background()
	ended, cancel := context.WithCancel(context.Background())
	cancel()
	for _, tc := range []struct {
		name string
		ctx  context.Context
		d    time.Duration
		want bool
	}{
		{"short wait passes", live, time.Millisecond, true},
		{"zero passes", live, 0, true},
		{"negative passes", live, -time.Second, true},
		{"ended context cuts an hour short", ended, time.Hour, false},
		{"zero passes under an ended context", ended, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := For(tc.ctx, tc.d); got != tc.want {
				t.Errorf("For(%s) = %v, want %v", tc.d, got, tc.want)
			}
		})
	}
}

// TestEvery: Every calls f at each tick and returns once ctx ends.
func TestEvery(t *testing.T) {
	bound, stop := context.WithTimeout(context.Background(), 10*time.Second)
	defer stop()
	ctx, cancel := context.WithCancel(bound)
	calls := 0
	Every(ctx, time.Millisecond, func() {
		if calls++; calls == 3 {
			cancel()
		}
	})
	if calls < 3 {
		t.Errorf("f called %d times, want 3 before ctx ended", calls)
	}
	if bound.Err() != nil {
		t.Error("Every did not return when ctx ended")
	}
}
