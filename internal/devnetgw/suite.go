package devnetgw

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/config"
	"github.com/rpcmesh/rpcmesh/internal/devnet"
	"github.com/rpcmesh/rpcmesh/internal/server"
	"github.com/rpcmesh/rpcmesh/internal/testwait"
)

// SuiteLogger is the logger end-to-end suites give their gateways: errors
// only, everything when E2E_LOG is set.
func SuiteLogger() *slog.Logger {
	level := slog.LevelError
	if os.Getenv("E2E_LOG") != "" {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}

// RunSuite runs an end-to-end test package against one shared devnet (500 ms
// blocks) and the gateway start builds in front of it: the body of its
// TestMain. run gets both and runs the tests (m.Run); RunSuite then stops
// the gateway and the devnet and returns the exit code. With short set
// (testing.Short) nothing starts and the suite is skipped.
func RunSuite(name string, short bool, start func(ctx context.Context, d *devnet.Devnet) (*server.Gateway, error),
	run func(d *devnet.Devnet, gw *server.Gateway) int) int {
	return RunSuiteWith(name, short, devnet.Options{}, start, run)
}

// RunSuiteWith is RunSuite with a devnet started with opts (its block time
// 500 ms unless set).
func RunSuiteWith(name string, short bool, opts devnet.Options, start func(ctx context.Context, d *devnet.Devnet) (*server.Gateway, error),
	run func(d *devnet.Devnet, gw *server.Gateway) int) int {
	var gw *server.Gateway
	return devnet.RunSuite(name, short, opts,
		func(ctx context.Context, d *devnet.Devnet) error {
			g, err := start(ctx, d)
			if err != nil {
				return fmt.Errorf("start gateway: %w", err)
			}
			gw = g
			return nil
		},
		func(d *devnet.Devnet) int {
			defer Stop(gw)
			return run(d, gw)
		})
}

// Main is the TestMain of an end-to-end test package whose tests share
// one devnet (500 ms blocks) and one gateway in front of it, with the
// config configure makes for the devnet: it starts both (neither with
// -short: then no test runs), hands them to use, runs the tests, stops
// both and exits with the tests' code.
func Main(m *testing.M, name string, configure func(devnet.Info) *config.Config, use func(d *devnet.Devnet, gw *server.Gateway)) {
	flag.Parse()
	os.Exit(RunSuite(name, testing.Short(),
		func(ctx context.Context, d *devnet.Devnet) (*server.Gateway, error) {
			return Start(ctx, configure(d.Info()), SuiteLogger())
		},
		func(d *devnet.Devnet, gw *server.Gateway) int {
			use(d, gw)
			return m.Run()
		}))
}

// StartForTest is Start for one test, with the suites' logger: the
// gateway stops when the test ends, and one that does not start fails
// the test.
func StartForTest(ctx context.Context, t testing.TB, cfg *config.Config) *server.Gateway {
	t.Helper()
	gw, err := Start(ctx, cfg, SuiteLogger())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { Stop(gw) })
	return gw
}

// WaitFor is testwait.Until in a test of gw: when ctx ends before cond
// holds, the test fails with what it waited for and the gateway's status.
func WaitFor(ctx context.Context, t testing.TB, gw *server.Gateway, what string, cond func() bool) {
	t.Helper()
	if err := testwait.Until(ctx, what, cond); err != nil {
		st, _ := json.MarshalIndent(gw.Status(), "", " ")
		t.Fatalf("%v\n%s", err, st)
	}
}

// WaitHealthy polls gw until every provider of its first chain is usable
// again (state ok, not lagging, not degraded), or ctx ends; the error then
// holds the gateway's status.
func WaitHealthy(ctx context.Context, gw *server.Gateway) error {
	err := testwait.Until(ctx, "every provider usable", func() bool {
		for _, p := range gw.Status().Chains[0].Providers {
			if p.State != "ok" || p.LagBlocks > 0 || p.Degraded {
				return false
			}
		}
		return true
	})
	if err != nil {
		b, _ := json.MarshalIndent(gw.Status(), "", " ")
		return fmt.Errorf("providers did not recover: %w: %s", err, b)
	}
	return nil
}

// AwaitHealthy is WaitHealthy for a test, bounded by 30 s: the test fails
// when the providers do not recover.
func AwaitHealthy(t testing.TB, gw *server.Gateway) {
	t.Helper()
	if err := WaitHealthy(testwait.Context(t, 30*time.Second), gw); err != nil {
		t.Fatal(err)
	}
}
