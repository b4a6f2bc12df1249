package chaos

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/devnet"
	"github.com/rpcmesh/rpcmesh/internal/status"
)

// maxFailureShare bounds the share of failed requests in a scenario with a
// faulty minority (docs/reliability.md): the healthy majority answers,
// but a call already sent to a provider as it fails may still fail (an
// answer that cannot yet be verified, a receipt asked of a hung node).
const maxFailureShare = 0.05

// TestShortMatrix runs the short fault matrix (single faults, two faults on
// two nodes, a cloud outage, a reorg) under steady checked traffic through
// the gateway: no scenario with a faulty minority may give a wrong answer,
// failures stay within maxFailureShare, every fault due an incident is
// reported as an open incident of its kind naming its node (or the run
// says why it could not be), and the traffic really sent, mined and
// subscribed.
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
		for _, d := range r.Detections {
			if d.Missed() {
				t.Errorf("%s: %s: no incident of kind %v naming its nodes; incidents seen: %v", r.Name, d.Fault, d.Expect, r.Incidents)
			}
		}
		if r.RecoverMs < 0 {
			t.Errorf("%s: not recovered (an incident open or a provider not up) within the bound", r.Name)
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
	env.Devnet.Stage(t, devnet.FaultSpec{Target: "node3", Kind: devnet.FaultLie})
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
// times never reached, for nothing expected, for a fault that could not
// be detected, and the notes under it.
func TestReportFormats(t *testing.T) {
	down := Scenario{Name: "down node2", Minority: true, Faults: []Step{step(devnet.FaultDown, "node2")}}
	censor := Scenario{Name: "censor node2 + lag node4", Minority: true, Faults: []Step{step(devnet.FaultCensor, "node2"), step(devnet.FaultLag, "node4")}}
	missed := Scenario{Name: "lag node2", Minority: true, Faults: []Step{step(devnet.FaultLag, "node2")}}
	rs := []Result{
		{Scenario: down, Tally: Tally{Requests: 200, Failures: 2, P99Ms: 12.4, TxSent: 5, TxMined: 5, Heads: 9}, RecoverMs: 1500},
		{Scenario: chainReorg(1), RecoverMs: -1},
		{Scenario: censor, RecoverMs: 100, Tally: Tally{WrongSamples: []string{"eth_getBalance: x"}}},
		{Scenario: missed, RecoverMs: 100},
	}
	rs[0].summarize([]Detection{{Fault: "down node2", Expect: down.Faults[0].Expect, IncidentMs: 1800, Kind: status.KindProviderDown, StateMs: 700, State: status.StateDown}}, nil)
	rs[1].summarize([]Detection{{Fault: "reorg all", IncidentMs: -1, StateMs: -1, NotDetectable: "an event"}}, nil)
	rs[2].summarize([]Detection{
		{Fault: "censor node2", Expect: censor.Faults[0].Expect, IncidentMs: -1, StateMs: -1, NotDetectable: "no transaction was broadcast to node2 first"},
		{Fault: "lag node4", Expect: censor.Faults[1].Expect, IncidentMs: 2500, Kind: status.KindProviderLagging, StateMs: 1500, State: status.StateLagging},
	}, nil)
	rs[3].summarize([]Detection{{Fault: "lag node2", Expect: missed.Faults[0].Expect, IncidentMs: -1, StateMs: 900, State: status.StateLagging}}, []string{"provider_degraded: x"})
	rep := &Report{Scenarios: rs}
	var text strings.Builder
	if err := rep.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(text.String(), "\n")
	for _, want := range []struct {
		line  int
		cells []string
	}{
		{1, []string{"down node2", "200", "2 (1.0%)", "1.8s", "provider_down", "0.7s", "down", "1.5s", "5/5"}},
		{2, []string{"reorg all depth 1", "n/a", " -"}},
		{3, []string{"censor node2 + lag node4", "2.5s", "no censorship+provider_lagging", "1.5s"}},
		{4, []string{"lag node2", " -", "0.9s", "lagging"}},
		{5, []string{"undetected", "censor node2 + lag node4: censor node2: no transaction was broadcast to node2 first"}},
		{6, []string{"wrong", "censor node2 + lag node4: eth_getBalance: x"}},
		{7, []string{"missed", "lag node2: lag node2: no open incident of kind provider_lagging", "seen: provider_degraded: x"}},
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
	for _, want := range []string{`"name": "down node2"`, `"detectMs": 1800`, `"stateMs": 700`, `"kind": "provider_down"`,
		`"recoverMs": -1`, `"notDetectable": "no transaction was broadcast to node2 first"`} {
		if !strings.Contains(js.String(), want) {
			t.Errorf("JSON lacks %s:\n%s", want, js.String())
		}
	}
	if os.Getenv("CHAOS_SHOW") != "" {
		t.Log("\n" + text.String())
	}
}
