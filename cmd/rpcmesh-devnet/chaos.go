package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/chaos"
)

// runChaos runs the fault matrix (or the short form, or chosen scenarios)
// against a fresh devnet and gateway, prints the table and writes the JSON.
// It fails when a scenario with a faulty minority gave a wrong answer.
func runChaos(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("rpcmesh-devnet chaos", "usage: rpcmesh-devnet chaos [flags]\n\nRuns each scenario of the fault matrix against a devnet and the gateway in\nfront of it, under steady client traffic checked against an honest node,\nand prints per scenario: requests, failures, wrong answers, p99 latency,\ntime to detect, time to recover, memory (see docs/reliability.md).\n\nflags:", stderr)
	var (
		short     = fs.Bool("short", false, "the short matrix CI runs (a few minority faults, a cloud outage, a reorg)")
		jsonOut   = fs.String("json", "", "also write the results as JSON to this file")
		which     = fs.String("scenarios", "", "comma-separated scenario names (or words in them) to run; default all")
		list      = fs.Bool("list", false, "list the scenarios and exit")
		blockTime = fs.Duration("block-time", 500*time.Millisecond, "time between blocks (100ms to 1m)")
		detect    = fs.Duration("detect-within", 15*time.Second, "how long to wait for the gateway to detect a fault")
		recoverIn = fs.Duration("recover-within", 30*time.Second, "how long to wait for the gateway to recover after a fault")
		_         = fs.String("log-level", "error", "gateway and devnet log level: debug, info, warn, error") // parseFlags reads it
	)
	log, err := parseFlags(fs, args, stderr)
	if err != nil {
		return err
	}
	scenarios, err := chaos.Select(chaos.Matrix(*short), *which)
	if err != nil {
		return err
	}
	if *list {
		for _, s := range scenarios {
			fmt.Fprintln(stdout, s.Name)
		}
		return nil
	}
	quietGeth()
	started := time.Now()
	sctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	env, err := chaos.StartEnv(sctx, chaos.EnvOptions{BlockTime: *blockTime, Logger: log})
	cancel()
	if err != nil {
		return err
	}
	defer env.Close()
	fmt.Fprintf(stderr, "rpcmesh-devnet chaos: %d scenarios, 5 nodes, %s blocks\n", len(scenarios), *blockTime)
	i := 0
	results := chaos.Run(ctx, env, scenarios, chaos.Options{DetectWithin: *detect, RecoverWithin: *recoverIn}, func(r chaos.Result) {
		i++
		fmt.Fprintf(stderr, "[%d/%d] %s: %d requests, %d failed, %d wrong, detected %s, recovered %s\n",
			i, len(scenarios), r.Name, r.Requests, r.Failures, r.Wrong, r.DetectText(), seconds(r.RecoverMs))
	})
	rep := &chaos.Report{
		Started: started.UTC(), Took: time.Since(started).Round(time.Second).String(),
		Command: strings.TrimSpace("rpcmesh-devnet chaos " + strings.Join(args, " ")), Machine: chaos.Machine(),
		BlockTime: blockTime.String(), Detection: chaos.DetectionNote, Scenarios: results,
	}
	if err := rep.WriteText(stdout); err != nil {
		return err
	}
	if *jsonOut != "" {
		f, err := os.Create(*jsonOut)
		if err != nil {
			return fmt.Errorf("--json: %w", err)
		}
		if err := rep.WriteJSON(f); err != nil {
			f.Close()
			return fmt.Errorf("--json: %w", err)
		}
		if err := f.Close(); err != nil {
			return fmt.Errorf("--json: %w", err)
		}
	}
	if ctx.Err() != nil {
		return fmt.Errorf("stopped after %d of %d scenarios", len(results), len(scenarios))
	}
	var wrong []string
	for _, r := range results {
		if r.Minority && r.Wrong > 0 {
			wrong = append(wrong, r.Name)
		}
	}
	if len(wrong) > 0 {
		return fmt.Errorf("wrong answers with a faulty minority in: %s", strings.Join(wrong, "; "))
	}
	return nil
}

func seconds(ms int64) string {
	if ms < 0 {
		return "never"
	}
	return fmt.Sprintf("in %.1fs", float64(ms)/1000)
}
