package audit

import (
	"testing"
	"time"
)

// Outcomes count in every window that spans their minute, and only there.
func TestResultsWindows(t *testing.T) {
	now := time.Date(2026, 12, 6, 12, 0, 30, 0, time.UTC)
	r := NewResults()
	for _, tc := range []struct {
		ago time.Duration
		o   Outcome
	}{
		{0, Passed}, {2 * time.Minute, Failed}, {10 * time.Minute, Unavailable}, {59 * time.Minute, Absent},
		{2 * time.Hour, Passed}, {23 * time.Hour, Failed}, {25 * time.Hour, Passed},
	} {
		r.Add("p", tc.o, now.Add(-tc.ago), 0)
	}
	r.Add("p", Failed, now.Add(-time.Minute), 7)
	s := r.Summary("p", now)
	for _, tc := range []struct {
		window string
		want   Counts
	}{
		{"5m", Counts{Passed: 1, Failed: 2}},
		{"1h", Counts{Passed: 1, Failed: 2, Unavailable: 1, Absent: 1}},
		{"24h", Counts{Passed: 2, Failed: 3, Unavailable: 1, Absent: 1}},
	} {
		if got := s.Windows[tc.window]; got != tc.want {
			t.Errorf("%s: %+v, want %+v", tc.window, got, tc.want)
		}
	}
	if s.LastFailure != 7 {
		t.Errorf("last failure evidence %d, want 7", s.LastFailure)
	}
	if empty := r.Summary("other", now); len(empty.Windows) != len(Windows) || empty.Windows["24h"] != (Counts{}) {
		t.Errorf("a provider never audited: %+v", empty)
	}

	// What the store keeps comes back the same.
	back := NewResults()
	for name, st := range r.save(now) {
		back.restore(name, st)
	}
	if got := back.Summary("p", now); got.Windows["24h"] != s.Windows["24h"] || got.LastFailure != 7 {
		t.Errorf("restored %+v, want %+v", got, s)
	}
}
