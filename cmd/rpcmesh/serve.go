package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/config"
	"github.com/rpcmesh/rpcmesh/internal/hangup"
	"github.com/rpcmesh/rpcmesh/internal/loglimit"
	"github.com/rpcmesh/rpcmesh/internal/server"
)

// runServe runs the gateway from a YAML config until ctx ends, then drains
// in-flight requests for at most server.shutdown_timeout.
func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	// A service manager sends SIGHUP to ask for a reload (see internal/hangup).
	hup := hangup.Catch()
	defer hup.Stop()
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "rpcmesh.yaml", "config `file`")
	level := fs.String("log-level", "info", "log level: debug, info, warn, error")
	format := fs.String("log-format", "text", "log format: text or json")
	if err := fs.Parse(args); err != nil {
		return err
	}
	logger, err := serveLogger(stderr, *level, *format)
	if err != nil {
		return err
	}
	defer flushLogger(logger)
	hup.Ignore(ctx, logger, "config reload is not supported yet; restart to apply a new config")
	cfg, err := config.Load(*path)
	if err != nil {
		return err
	}
	applyRuntime(cfg.Server, os.Getenv, logger)
	gw, err := server.New(cfg, logger)
	if err != nil {
		return err
	}
	if err := gw.Start(ctx); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "rpcmesh gateway on http://%s (admin http://%s)\n", gw.HTTPAddr(), gw.AdminAddr())
	go func() {
		rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if err := gw.Ready(rctx); err != nil && ctx.Err() == nil {
			logger.Warn("gateway not ready: calls to these chains fail with -32002 until it is", "err", err)
		} else if err == nil {
			logger.Info("every chain has an agreed head and a usable provider")
		}
	}()
	var runErr error
	select {
	case <-ctx.Done():
		logger.Info("shutting down", "drain_timeout", cfg.Server.ShutdownTimeout.D())
	case runErr = <-gw.Err():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.Server.ShutdownTimeout.D())
	defer cancel()
	if err := gw.Close(sctx); err != nil && runErr == nil {
		runErr = err
	}
	return runErr
}

// serveLogger builds the slog logger the flags ask for. Repeated lines are
// rate-limited (internal/loglimit, defaults: 10 lines of one message per
// 10 s, then one line counting the rest), so that a failure repeated by
// every request cannot fill the disk.
func serveLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: %w", level, err)
	}
	opts := &slog.HandlerOptions{Level: lv}
	var h slog.Handler
	switch strings.ToLower(format) {
	case "text":
		h = slog.NewTextHandler(w, opts)
	case "json":
		h = slog.NewJSONHandler(w, opts)
	default:
		return nil, fmt.Errorf("--log-format %q: want text or json", format)
	}
	return slog.New(loglimit.New(h, loglimit.Options{})), nil
}

// flushLogger writes the counts of lines a rate-limited logger dropped.
func flushLogger(logger *slog.Logger) {
	if h, ok := logger.Handler().(*loglimit.Handler); ok {
		h.Flush(context.Background())
	}
}
