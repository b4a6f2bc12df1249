package loglimit

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// clock is a test clock moved by hand.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func TestRepeatsBounded(t *testing.T) {
	var out bytes.Buffer
	clk := &clock{t: time.Unix(1_700_000_000, 0)}
	h := New(slog.NewTextHandler(&out, nil), Options{Burst: 3, Window: time.Second, MaxKeys: 4, Now: clk.now})
	log := slog.New(h).With("chain", "eth")

	for i := range 100_000 {
		log.Warn("no agreed head", "request", i)
	}
	lines := strings.Count(out.String(), "\n")
	if lines != 3 {
		t.Fatalf("%d lines for 100000 repeats in one window, want 3:\n%s", lines, out.String())
	}
	// The window ends: the next line reports what was dropped, with the
	// logger's context.
	clk.t = clk.t.Add(time.Second)
	log.Warn("no agreed head", "request", "next")
	if !strings.Contains(out.String(), `msg="repeated log lines suppressed" chain=eth message="no agreed head" suppressed=99997`) {
		t.Fatalf("no summary of the dropped lines:\n%s", out.String())
	}

	// Many distinct messages: the table stays at MaxKeys, the rest share
	// one budget.
	out.Reset()
	for i := range 10_000 {
		log.Info(fmt.Sprintf("message %d", i))
	}
	if n := len(h.s.counts); n > 4 {
		t.Fatalf("%d messages tracked, want at most 4", n)
	}
	if lines := strings.Count(out.String(), "\n"); lines > 4*3 {
		t.Fatalf("%d lines for 10000 distinct messages, want at most %d", lines, 4*3)
	}
	h.Flush(context.Background())
	if !strings.Contains(out.String(), "beyond the tracked ones") {
		t.Fatalf("Flush did not report the dropped lines:\n%s", out.String())
	}
}
