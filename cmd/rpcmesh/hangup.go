package main

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

// hangups catches SIGHUP for a long-running command. A service manager (or a
// closed terminal) sends SIGHUP, and by default it ends a Go program at
// once, with no drain and no cleanup. Until config reload exists the
// signal is logged and ignored.
type hangups struct {
	ch chan os.Signal
}

// catchHangups starts catching SIGHUP. Call it first thing, so that none
// arrives unhandled while the command starts; stop it with stop.
func catchHangups() *hangups {
	h := &hangups{ch: make(chan os.Signal, 1)}
	signal.Notify(h.ch, syscall.SIGHUP)
	return h
}

// ignore logs every SIGHUP, saying why it is ignored, until ctx ends. It
// returns at once; the logging goes on on a goroutine of its own.
func (h *hangups) ignore(ctx context.Context, logger *slog.Logger, why string) {
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-h.ch:
				logger.Warn("SIGHUP received and ignored: " + why)
			}
		}
	}()
}

// stop stops catching SIGHUP.
func (h *hangups) stop() { signal.Stop(h.ch) }
