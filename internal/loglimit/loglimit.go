// Package loglimit is a slog.Handler that rate-limits repeated log lines:
// a chain without an agreed head fails every request the same way, and one
// WARN line per failed request filled hundreds of megabytes in minutes
// under load. Each message (with its level) may log Burst lines per
// Window; the rest are counted, and when the message's window ends the
// next line of any kind reports how many were dropped. Memory is bounded:
// at most MaxKeys messages are tracked; beyond that, untracked messages
// share one budget.
package loglimit

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Defaults used by New when an option is zero.
const (
	DefaultBurst   = 10
	DefaultWindow  = 10 * time.Second
	DefaultMaxKeys = 1024
)

// Options bound the repeats.
type Options struct {
	Burst   int           // lines of one message let through per window
	Window  time.Duration // the window
	MaxKeys int           // messages tracked at once (with the shared budget of the rest)
	// Now is the clock (time.Now when nil); tests move it.
	Now func() time.Time
}

// Handler passes records to the wrapped handler, at most Burst of one
// message per Window.
type Handler struct {
	next slog.Handler
	s    *state // shared with the handlers WithAttrs and WithGroup derive
}

// state is the count of every tracked message.
type state struct {
	opts      Options
	mu        sync.Mutex
	counts    map[key]*count
	lastSweep time.Time
}

type key struct {
	level slog.Level
	msg   string
}

type count struct {
	start      time.Time // of the window
	passed     int
	suppressed int
	// next is the handler to report suppressed lines through (the one of
	// the first suppressed line, so they keep its attributes' context).
	next slog.Handler
}

// overflow is the key of messages beyond MaxKeys.
var overflow = key{msg: "\x00other messages"}

// New wraps next.
func New(next slog.Handler, opts Options) *Handler {
	if opts.Burst <= 0 {
		opts.Burst = DefaultBurst
	}
	if opts.Window <= 0 {
		opts.Window = DefaultWindow
	}
	if opts.MaxKeys < 2 {
		opts.MaxKeys = DefaultMaxKeys
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Handler{next: next, s: &state{opts: opts, counts: make(map[key]*count)}}
}

// Enabled reports whether the wrapped handler takes records of level.
func (h *Handler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.next.Enabled(ctx, level)
}

// WithAttrs derives a handler sharing the same counts.
func (h *Handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &Handler{next: h.next.WithAttrs(attrs), s: h.s}
}

// WithGroup derives a handler sharing the same counts.
func (h *Handler) WithGroup(name string) slog.Handler {
	return &Handler{next: h.next.WithGroup(name), s: h.s}
}

// Handle passes r on unless its message is over its budget.
func (h *Handler) Handle(ctx context.Context, r slog.Record) error {
	now := h.s.opts.Now()
	pass, reports := h.s.admit(key{r.Level, r.Message}, now, h.next)
	for _, rep := range reports {
		_ = rep.next.Handle(ctx, rep.record)
	}
	if !pass {
		return nil
	}
	return h.next.Handle(ctx, r)
}

// report is a summary line to write, and where.
type report struct {
	next   slog.Handler
	record slog.Record
}

// admit counts one line of k and reports whether it passes, with the
// summaries of windows that ended (written by the caller, outside the lock).
func (s *state) admit(k key, now time.Time, next slog.Handler) (bool, []report) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var reports []report
	if now.Sub(s.lastSweep) >= s.opts.Window {
		reports = s.sweep(now, reports)
		s.lastSweep = now
	}
	c, ok := s.counts[k]
	if !ok {
		if len(s.counts) >= s.opts.MaxKeys-1 { // one place kept for overflow
			k = overflow
			c, ok = s.counts[k]
		}
		if !ok {
			c = &count{start: now}
			s.counts[k] = c
		}
	}
	if now.Sub(c.start) >= s.opts.Window {
		reports = c.close(k, now, reports)
		c.start, c.passed = now, 0
	}
	if c.passed < s.opts.Burst {
		c.passed++
		return true, reports
	}
	if c.suppressed == 0 {
		c.next = next
	}
	c.suppressed++
	return false, reports
}

// sweep closes every ended window and forgets its message, so the table
// holds only messages seen in the last window.
func (s *state) sweep(now time.Time, reports []report) []report {
	for k, c := range s.counts {
		if now.Sub(c.start) >= s.opts.Window {
			reports = c.close(k, now, reports)
			delete(s.counts, k)
		}
	}
	return reports
}

// close appends the summary of c's window if it dropped lines.
func (c *count) close(k key, now time.Time, reports []report) []report {
	if c.suppressed == 0 {
		return reports
	}
	msg := k.msg
	if k == overflow {
		msg = "(messages beyond the tracked ones)"
	}
	r := slog.NewRecord(now, k.level, "repeated log lines suppressed", 0)
	r.AddAttrs(slog.String("message", msg), slog.Int("suppressed", c.suppressed),
		slog.Duration("window", now.Sub(c.start).Round(time.Millisecond)))
	reports = append(reports, report{next: c.next, record: r})
	c.suppressed, c.next = 0, nil
	return reports
}

// Flush writes the summaries of every message that dropped lines, whether
// or not its window has ended (at shutdown, so no count is lost).
func (h *Handler) Flush(ctx context.Context) {
	s := h.s
	now := s.opts.Now()
	s.mu.Lock()
	var reports []report
	for k, c := range s.counts {
		reports = c.close(k, now, reports)
	}
	s.mu.Unlock()
	for _, rep := range reports {
		_ = rep.next.Handle(ctx, rep.record)
	}
}
