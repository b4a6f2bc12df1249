package notify

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestVerify(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	body := []byte(`{"version":1,"type":"opened"}`)
	good := Sign(testSecret, now, body)
	tests := []struct {
		name   string
		header string
		body   []byte
		secret string
		now    time.Time
		want   error  // errors.Is target, or nil
		msg    string // else a part of the message ("" when valid)
	}{
		{"valid", good, body, testSecret, now, nil, ""},
		{"valid within tolerance", good, body, testSecret, now.Add(4 * time.Minute), nil, ""},
		{"body changed", good, []byte(`{"version":1,"type":"closed"}`), testSecret, now, ErrBadSignature, ""},
		{"other secret", good, body, "another-secret-0123", now, ErrBadSignature, ""},
		{"replayed later", good, body, testSecret, now.Add(6 * time.Minute), ErrStale, ""},
		{"from the future", good, body, testSecret, now.Add(-6 * time.Minute), ErrStale, ""},
		{"timestamp changed", strings.Replace(good, "t=1800000000", "t=1800000300", 1), body, testSecret, now.Add(5 * time.Minute), ErrBadSignature, ""},
		{"no timestamp", good[strings.Index(good, ",")+1:], body, testSecret, now, nil, "no t="},
		{"no mac", "t=1800000000", body, testSecret, now, nil, "no v1="},
		{"short mac", "t=1800000000,v1=abcd", body, testSecret, now, nil, "no v1="},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Verify(tt.secret, tt.header, tt.body, tt.now, DefaultTolerance)
			switch {
			case tt.want != nil && !errors.Is(err, tt.want):
				t.Errorf("Verify: %v, want %v", err, tt.want)
			case tt.want == nil && tt.msg == "" && err != nil:
				t.Errorf("Verify: %v, want valid", err)
			case tt.msg != "" && (err == nil || !strings.Contains(err.Error(), tt.msg)):
				t.Errorf("Verify: %v, want an error saying %q", err, tt.msg)
			}
		})
	}
}

func TestBackoff(t *testing.T) {
	const s = time.Second
	tests := []struct {
		failures int
		jitter   float64
		want     time.Duration
	}{
		{1, 0, s},
		{2, 0, 2 * s},
		{4, 0, 8 * s},
		{9, 0, 256 * s},
		{10, 0, 300 * s}, // capped at max
		{1000, 0, 300 * s},
		{3, 0.5, 3 * s},   // 4s less a quarter
		{3, 0.999, 2 * s}, // never under half
	}
	for _, tt := range tests {
		got := backoff(s, 300*s, tt.failures, tt.jitter)
		if got.Round(10*time.Millisecond) != tt.want {
			t.Errorf("backoff after %d failures, jitter %v: %s, want %s", tt.failures, tt.jitter, got, tt.want)
		}
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 12, 6, 14, 0, 0, 0, time.UTC)
	tests := []struct {
		value string
		want  time.Duration
	}{
		{"", 0},
		{"0", 0},
		{"-5", 0},
		{"120", 2 * time.Minute},
		{"99999999999", 24 * time.Hour},
		{now.Add(30 * time.Second).Format(http.TimeFormat), 30 * time.Second},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0},
		{"tomorrow", 0},
	}
	for _, tt := range tests {
		h := http.Header{}
		if tt.value != "" {
			h.Set("Retry-After", tt.value)
		}
		if got := retryAfter(h, now); got != tt.want {
			t.Errorf("Retry-After %q: %s, want %s", tt.value, got, tt.want)
		}
	}
}

func TestRetryable(t *testing.T) {
	for code, want := range map[int]bool{200: false, 301: false, 400: false, 401: false, 404: false, 408: true, 410: false, 429: true, 500: true, 502: true, 503: true} {
		if got := retryable(code); got != want {
			t.Errorf("retryable(%d) = %v", code, got)
		}
	}
}
