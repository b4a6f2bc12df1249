package chaos

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/devnet"
)

// maxFailureShare bounds the share of failed requests in a scenario with a
// faulty minority (docs/reliability.md): the healthy majority answers,
// but a call already sent to a provider as it fails may still fail (an
// answer that cannot yet be verified, a receipt asked of a hung node).
const maxFailureShare = 0.05

// TestShortMatrix runs the short fault matrix (single faults, two faults on
// two nodes, a cloud outage, a reorg) under steady checked traffic through
// the gateway: no scenario with a faulty minority may give a wrong answer,
// failures stay within maxFailureShare, and the traffic really sent,
// mined and subscribed.
func TestShortMatrix(t *testing.T) {
	needEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	start := time.Now()
	results := Run(ctx, env, Matrix(true), Options{}, func(r Result) { t.Logf("%s: done", r.Name) })
	rep := &Report{Scenarios: results}
	var b strings.Builder
	_ = rep.WriteText(&b)
	t.Logf("short matrix in %s:\n%s", time.Since(start).Round(time.Second), b.String())
	if len(results) != len(Matrix(true)) {
		t.Fatalf("%d of %d scenarios ran: %v", len(results), len(Matrix(true)), ctx.Err())
	}
	var mined, heads uint64
	for _, r := range results {
		mined += r.TxMined
		heads += r.Heads
		if r.Error != "" {
			t.Errorf("%s: %s", r.Name, r.Error)
		}
		if r.Requests == 0 {
			t.Errorf("%s: no requests", r.Name)
		}
		if !r.Minority {
			continue
		}
		if r.Wrong != 0 {
			t.Errorf("%s: %d wrong answers with a faulty minority, e.g. %v", r.Name, r.Wrong, r.WrongSamples)
		}
		if limit := max(3, uint64(maxFailureShare*float64(r.Requests))); r.Failures > limit {
			t.Errorf("%s: %d of %d requests failed (limit %d), e.g. %v", r.Name, r.Failures, r.Requests, limit, r.FailureSamples)
		}
	}
	if mined == 0 || heads == 0 {
		t.Errorf("the traffic mined %d transactions and received %d heads over the matrix; want both", mined, heads)
	}
}

// TestChecksCatchALiar points the checked traffic straight at a lying node
// (no gateway in between): its lies about balances, nonces, block numbers,
// heads and receipts must be counted as wrong answers, so that a 0 in the matrix
// means something.
func TestChecksCatchALiar(t *testing.T) {
	needEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// Pinned reads start pinDepth blocks into the chain.
	if !waitUntil(ctx, 50*time.Millisecond, func() bool { n, _ := env.Devnet.Head(); return n > 2*pinDepth }) {
		t.Fatal("the chain did not reach 8 blocks")
	}
	liar, _ := env.Devnet.Node("node3")
	f, err := env.Devnet.SetFault(ctx, devnet.FaultSpec{Target: "node3", Kind: devnet.FaultLie})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = env.Devnet.ClearFault(f.ID) }()
	opts := DefaultTraffic()
	opts.HTTP, opts.WS = liar.HTTP, liar.WS
	tr, err := StartTraffic(ctx, env, opts, []string{"node3"})
	if err != nil {
		t.Fatal(err)
	}
	if !tr.WaitCalls(ctx, 40) || !waitUntil(ctx, 50*time.Millisecond, func() bool { return tr.Snapshot().TxMined > 0 }) {
		t.Fatalf("40 calls and a mined transaction did not complete: %v", ctx.Err())
	}
	got := tr.Stop()
	all := strings.Join(got.WrongSamples, "\n")
	for _, call := range []string{"eth_getBalance", "eth_blockNumber", "eth_getTransactionCount", "newHeads", "receipt"} {
		if got.WrongBy[call] == 0 {
			t.Errorf("the liar's answers to %s were not caught: wrong by call %v, samples:\n%s", call, got.WrongBy, all)
		}
	}
	t.Logf("%d wrong answers among %d calls to the liar (%v), e.g.\n%s", got.Wrong, got.Requests, got.WrongBy, all)
}

// TestReportFormats writes a report as a table and as JSON: cells for
// times never reached, for nothing expected, and the examples under it.
func TestReportFormats(t *testing.T) {
	rep := &Report{Scenarios: []Result{
		{Scenario: Scenario{Name: "down node2", Minority: true, Expect: expectFor[devnet.FaultDown]},
			Tally:    Tally{Requests: 200, Failures: 2, P99Ms: 12.4, TxSent: 5, TxMined: 5, Heads: 9},
			DetectMs: 700, DetectedBy: "state down", IncidentMs: -1, RecoverMs: 1500},
		{Scenario: Scenario{Name: "reorg all depth 1", Minority: true}, RecoverMs: -1, DetectMs: 0},
		{Scenario: Scenario{Name: "censor node2", Minority: true, Expect: expectFor[devnet.FaultCensor]},
			DetectMs: -1, IncidentMs: -1, RecoverMs: 100, Tally: Tally{WrongSamples: []string{"eth_getBalance: x"}}},
	}}
	var text strings.Builder
	if err := rep.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(text.String(), "\n")
	for _, want := range []struct {
		line  int
		cells []string
	}{
		{1, []string{"down node2", "200", "2 (1.0%)", "0.7s", "down", "1.5s", "5/5"}},
		{2, []string{"reorg all depth 1", "n/a", " -"}},
		{3, []string{"censor node2", " -"}},
		{4, []string{"wrong", "censor node2: eth_getBalance: x"}},
	} {
		for _, c := range want.cells {
			if !strings.Contains(lines[want.line], c) {
				t.Errorf("line %d %q lacks %q", want.line, lines[want.line], c)
			}
		}
	}
	var js strings.Builder
	if err := rep.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"name": "down node2"`, `"detectMs": 700`, `"detectedBy": "state down"`, `"incidentMs": -1`, `"recoverMs": -1`} {
		if !strings.Contains(js.String(), want) {
			t.Errorf("JSON lacks %s:\n%s", want, js.String())
		}
	}
	if os.Getenv("CHAOS_SHOW") != "" {
		t.Log("\n" + text.String())
	}
}
