package vet

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common/hexutil"

	"github.com/rpcmesh/rpcmesh/internal/config"
	"github.com/rpcmesh/rpcmesh/internal/devnet"
	"github.com/rpcmesh/rpcmesh/internal/testwait"
)

// TestVetAdmitsHealthyNode: `rpcmesh vet --json` against a healthy devnet
// node exits 0 with verdict admit, and its JSON report carries every
// check's result: a head within the lag, every required method, state back
// to genesis, answers proven right, every ramp step, newHeads, no failure.
func TestVetAdmitsHealthyNode(t *testing.T) {
	needDevnet(t)
	cfg := writeConfig(t, dn.Info().ChainID, testVetting)
	var stdout, stderr bytes.Buffer
	code := Main(testwait.Context(t, 90*time.Second), []string{dn.MustNode(t, "node4").HTTP, "--chain", "devnet", "--against", cfg, "--json"}, &stdout, &stderr)
	if code != ExitAdmit {
		t.Fatalf("exit %d, want %d (admit)\nstdout:\n%s\nstderr:\n%s", code, ExitAdmit, stdout.String(), stderr.String())
	}
	t.Logf("progress:\n%s", stderr.String())
	// The shape docs/vetting.md describes: these keys, each decoding into
	// its documented type.
	var top map[string]json.RawMessage
	if err := json.Unmarshal(stdout.Bytes(), &top); err != nil {
		t.Fatalf("--json output is not a JSON object: %v\n%s", err, stdout.String())
	}
	keys := make([]string, 0, len(top))
	for k := range top {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	want := []string{"admitted", "archive", "candidate", "chain", "chainId", "correctness", "criteria", "errors", "failed",
		"load", "methods", "seconds", "started", "sync", "verdict", "websocket", "websocketUrl"}
	if !slices.Equal(keys, want) {
		t.Errorf("--json keys %v, want %v", keys, want)
	}
	var rep Report
	dec := json.NewDecoder(bytes.NewReader(stdout.Bytes()))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rep); err != nil {
		t.Fatalf("--json output does not decode into vet.Report: %v", err)
	}
	if string(top["failed"]) != "[]" {
		t.Errorf("failed is %s, want []", top["failed"])
	}
	switch {
	case rep.Verdict != Admit || rep.Failed == nil || len(rep.Failed) != 0:
		t.Errorf("verdict %q, failed %v: want admit and an empty list", rep.Verdict, rep.Failed)
	case rep.ChainID != dn.Info().ChainID || !slices.Equal(rep.Admitted, []string{"node1", "node2", "node3"}):
		t.Errorf("chain ID %d, admitted %v", rep.ChainID, rep.Admitted)
	case rep.Sync.CandidateHead == 0 || !rep.Sync.OnAgreedChain:
		t.Errorf("sync %+v", rep.Sync)
	case len(rep.Methods.Missing) != 0 || len(rep.Methods.Served) < len(RequiredMethods):
		t.Errorf("methods: missing %v, served %d", rep.Methods.Missing, len(rep.Methods.Served))
	case !rep.Methods.Optional["debug_traceTransaction"] || rep.Methods.Optional["trace_block"]:
		t.Errorf("optional methods %v: the devnet serves debug_, not trace_", rep.Methods.Optional)
	case !rep.Archive.Genesis || rep.Archive.Depth != rep.Archive.Head:
		t.Errorf("archive %+v: a devnet node is an archive node", rep.Archive)
	case rep.Correctness.Checked["eth_getProof"] == 0 || rep.Correctness.Checked["eth_getBalance"] == 0 || rep.Correctness.Checked["eth_getBlockByNumber"] == 0 || len(rep.Correctness.Failed) != 0:
		t.Errorf("correctness: checked %v, failed %v", rep.Correctness.Checked, rep.Correctness.Failed)
	case len(rep.Load.Steps) != 2 || rep.Load.Steps[1].Rate != 20 || rep.Load.Steps[1].Calls == 0:
		t.Errorf("load steps %+v: want 10 and 20 req/s", rep.Load.Steps)
	case len(rep.Errors.Probes) != len(errorProbes):
		t.Errorf("error probes %+v", rep.Errors.Probes)
	case rep.WS.NewHeads == 0:
		t.Errorf("websocket %+v", rep.WS)
	}
	for _, p := range rep.Errors.Probes {
		if !p.OK {
			t.Errorf("a bad request (%s) got no JSON-RPC error from geth: %+v", p.What, p)
		}
	}
	if !strings.Contains(stderr.String(), "vet: archive depth") {
		t.Errorf("no progress on stderr:\n%s", stderr.String())
	}
}

// TestVetLeavesCandidateOut: vetting a provider that is already in the
// config compares it with the others only, and admits it.
func TestVetLeavesCandidateOut(t *testing.T) {
	needDevnet(t)
	cfg, err := config.Load(writeConfig(t, dn.Info().ChainID, testVetting))
	if err != nil {
		t.Fatal(err)
	}
	crit, err := CriteriaFrom(cfg.Vetting)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Run(testwait.Context(t, 90*time.Second), Options{URL: dn.MustNode(t, "node1").HTTP + "/", Config: cfg, Criteria: crit})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rep.Admitted, []string{"node2", "node3"}) || rep.Verdict != Admit {
		var text bytes.Buffer
		_ = rep.WriteText(&text)
		t.Errorf("admitted %v, verdict %s: want node2, node3 and admit\n%s", rep.Admitted, rep.Verdict, text.String())
	}
}

// TestVetRejectsFaultyNodes: against a lying, lagging, rate-limited,
// pruned and slow node (devnet faults on node5), vet rejects each for the
// right reason: the criterion the fault breaks fails, with evidence.
func TestVetRejectsFaultyNodes(t *testing.T) {
	needDevnet(t)
	path := writeConfig(t, dn.Info().ChainID, testVetting)
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	crit, err := CriteriaFrom(cfg.Vetting)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		kind   devnet.FaultKind
		params string
		want   string // the criterion that must fail
		reason string // in its reason
	}{
		{"lying", devnet.FaultLie, `{"what":["balance","nonce","storage","proof","receipt","log"]}`, CritCorrectness, "lying"},
		{"lagging", devnet.FaultLag, ``, CritSync, "lagging"},
		{"rate-limited", devnet.FaultRateLimit, `{"rps":10,"burst":10,"retryAfter":"1s"}`, CritThrottling, "rate-limited"},
		{"pruned", devnet.FaultPrune, `{"keep":4}`, CritArchive, "pruned"},
		{"slow", devnet.FaultSlow, `{"latency":"600ms","jitter":"0s"}`, CritLatency, "slow"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testwait.Context(t, 120*time.Second)
			var params json.RawMessage
			if tc.params != "" {
				params = json.RawMessage(tc.params)
			}
			dn.Stage(t, devnet.FaultSpec{Target: "node5", Kind: tc.kind, Params: params})
			if tc.kind == devnet.FaultLag {
				waitBehind(t, ctx, "node5", crit.MaxLagBlocks+2)
			}
			var progress bytes.Buffer
			rep, err := Run(ctx, Options{URL: dn.MustNode(t, "node5").HTTP, Config: cfg, Chain: "devnet", Criteria: crit, Progress: &progress})
			if err != nil {
				t.Fatalf("vet: %v\n%s", err, progress.String())
			}
			var text bytes.Buffer
			_ = rep.WriteText(&text)
			var got *Failure
			for i := range rep.Failed {
				if rep.Failed[i].Criterion == tc.want {
					got = &rep.Failed[i]
				}
			}
			switch {
			case rep.Verdict != Reject:
				t.Fatalf("verdict %s, want reject\n%s", rep.Verdict, text.String())
			case got == nil:
				t.Fatalf("criterion %s did not fail (failed: %v)\n%s", tc.want, rep.FailedCriteria(), text.String())
			case !strings.Contains(got.Reason, tc.reason) || len(got.Evidence) == 0:
				t.Fatalf("%s failed with reason %q and evidence %v: want %q and evidence\n%s", tc.want, got.Reason, got.Evidence, tc.reason, text.String())
			}
			if tc.want != CritCorrectness && slices.Contains(rep.FailedCriteria(), CritCorrectness) {
				// A node that is pruned, slow, behind or throttling is not a liar.
				t.Errorf("an honest %s node failed correctness\n%s", tc.name, text.String())
			}
			t.Logf("%s: failed %v\n%s", tc.name, rep.FailedCriteria(), text.String())
		})
	}
}

// waitBehind waits (bounded by ctx) until node is behind the devnet's head
// by at least n blocks.
func waitBehind(t *testing.T, ctx context.Context, node string, n uint64) {
	t.Helper()
	c := newClient(dn.MustNode(t, node).HTTP, 5*time.Second)
	defer c.close()
	if err := testwait.Until(ctx, fmt.Sprintf("%s %d blocks behind", node, n), func() bool {
		raw, err := c.call(ctx, "eth_blockNumber", nil)
		var got hexutil.Uint64
		head, _ := dn.Head()
		return err == nil && json.Unmarshal(raw, &got) == nil && uint64(got)+n <= head
	}); err != nil {
		t.Fatal(err)
	}
}

// TestVetBadInput: what vet cannot judge ends with exit status 2 and a
// message in plain words on stderr, before any load is sent.
func TestVetBadInput(t *testing.T) {
	needDevnet(t)
	good := writeConfig(t, dn.Info().ChainID, testVetting)
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"no URL", []string{"--against", good}, "usage: rpcmesh vet URL"},
		{"not an http URL", []string{"ftp://example.org", "--against", good}, `"ftp://example.org" is not a http:// or https:// URL`},
		{"two URLs", []string{"http://127.0.0.1:1", "http://127.0.0.1:2", "--against", good}, "one candidate URL at a time"},
		{"unknown flag", []string{"http://127.0.0.1:1", "--fast"}, "flag provided but not defined: -fast"},
		{"no config file", []string{dn.MustNode(t, "node4").HTTP, "--against", "/nonexistent/rpcmesh.yaml"}, "--against: config: open /nonexistent/rpcmesh.yaml: no such file or directory"},
		{"malformed config", []string{dn.MustNode(t, "node4").HTTP, "--against", writeRaw(t, "chains:\n  - name: devnet\n    chain_id: abc\n")}, `chain_id: "abc" is not a non-negative integer`},
		{"bad criterion", []string{dn.MustNode(t, "node4").HTTP, "--against", writeConfig(t, dn.Info().ChainID, "vetting:\n  ramp_steps: 99\n")}, "vetting.ramp_steps: 99, want 1 to 20"},
		{"bad flag value", []string{dn.MustNode(t, "node4").HTTP, "--against", good, "--max-p99", "fast"}, `"fast" is not a duration`},
		{"unknown chain", []string{dn.MustNode(t, "node4").HTTP, "--against", good, "--chain", "mainnet"}, `the config has no chain "mainnet" (it has devnet)`},
		{"unreachable URL", []string{"http://127.0.0.1:1", "--against", good}, "does not answer eth_chainId: cannot reach it"},
		{"too few admitted besides the candidate", []string{dn.MustNode(t, "node1").HTTP, "--against", writeConfigOf(t, dn.Info().ChainID, []string{"node1", "node2"}, "")},
			`chain "devnet" has 1 admitted operators besides the candidate (node2), and head_agreement needs 2`},
		{"wrong chain", []string{dn.MustNode(t, "node4").HTTP, "--against", writeConfig(t, 1, testVetting)}, "wrong chain: the candidate " + dn.MustNode(t, "node4").HTTP + " serves chain ID 1337, the chain vetted for has chain ID 1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := Main(testwait.Context(t, 30*time.Second), tc.args, &stdout, &stderr)
			if code != ExitError {
				t.Errorf("exit %d, want %d", code, ExitError)
			}
			if !strings.Contains(stderr.String(), tc.want) {
				t.Errorf("stderr does not say %q:\n%s", tc.want, stderr.String())
			}
			for _, noise := range []string{"*errors.", "%!", "panic", "goroutine "} {
				if strings.Contains(stderr.String(), noise) {
					t.Errorf("stderr has %q, not plain words:\n%s", noise, stderr.String())
				}
			}
			t.Logf("stderr: %s", stderr.String())
			if stdout.Len() != 0 {
				t.Errorf("stdout has a report without a verdict:\n%s", stdout.String())
			}
		})
	}
}

// writeRaw writes a config file with exactly text.
func writeRaw(t *testing.T, text string) string {
	t.Helper()
	path := t.TempDir() + "/bad.yaml"
	if err := writeFile(path, text); err != nil {
		t.Fatal(err)
	}
	return path
}
