// Package hangup catches SIGHUP for a long-running command (the gateway,
// the devnet). A service manager (or a closed terminal) sends SIGHUP, and
// by default it ends a Go program at once, with no drain and no cleanup.
// Until config reload exists the signal is logged and ignored.
package hangup

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

// Catcher holds the SIGHUPs a command receives until it stops catching them.
type Catcher struct {
	ch chan os.Signal
}

// Catch starts catching SIGHUP. Call it first thing, so that none arrives
// unhandled while the command starts; stop it with Stop.
func Catch() *Catcher {
	c := &Catcher{ch: make(chan os.Signal, 1)}
	signal.Notify(c.ch, syscall.SIGHUP)
	return c
}

// Ignore logs every SIGHUP, saying why it is ignored, until ctx ends. It
// returns at once; the logging goes on on a goroutine of its own.
func (c *Catcher) Ignore(ctx context.Context, logger *slog.Logger, why string) {
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-c.ch:
				logger.Warn("SIGHUP received and ignored: " + why)
			}
		}
	}()
}

// Stop stops catching SIGHUP.
func (c *Catcher) Stop() { signal.Stop(c.ch) }
