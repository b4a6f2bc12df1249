package vet

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/config"
	"github.com/rpcmesh/rpcmesh/internal/verify"
)

// TestCriteriaFrom: keys left out take their documented defaults, set
// keys are kept, and each value out of bounds is named by its key.
func TestCriteriaFrom(t *testing.T) {
	c, err := CriteriaFrom(config.Vetting{})
	if err != nil {
		t.Fatal(err)
	}
	if c.MaxLagBlocks != 3 || c.MinArchiveBlocks != 128 || c.TargetRate != 50 || c.RampSteps != 4 ||
		c.StepDuration.D() != 2*time.Second || c.MaxP99.D() != 500*time.Millisecond || c.MaxErrorRate != 0.01 ||
		c.MaxThrottleRate != 0 || c.NewHeadsTimeout.D() != 30*time.Second || c.SampleBlocks != 8 || c.SampleAccounts != 4 ||
		c.CallTimeout.D() != 10*time.Second || !slices.Equal(c.RequiredMethods, RequiredMethods) || !slices.Equal(c.OptionalMethods, OptionalMethods) {
		t.Errorf("defaults %+v differ from docs/vetting.md", c)
	}
	c, err = CriteriaFrom(config.Vetting{MaxLagBlocks: 9, RequiredMethods: []string{"eth_chainId"}, TargetRate: 7})
	if err != nil || c.MaxLagBlocks != 9 || !slices.Equal(c.RequiredMethods, []string{"eth_chainId"}) || c.TargetRate != 7 {
		t.Errorf("set keys not kept: %+v, %v", c, err)
	}
	bad := []struct {
		v    config.Vetting
		want string
	}{
		{config.Vetting{TargetRate: -1}, "vetting.target_rate: -1"},
		{config.Vetting{RampSteps: 21}, "vetting.ramp_steps: 21, want 1 to 20"},
		{config.Vetting{StepDuration: config.Duration(time.Millisecond)}, "vetting.step_duration: 1ms"},
		{config.Vetting{MaxErrorRate: 1.5}, "vetting.max_error_rate: 1.5, want 0 to 1"},
		{config.Vetting{MaxThrottleRate: -0.1}, "vetting.max_throttle_rate: -0.1"},
		{config.Vetting{SampleBlocks: 1000}, "vetting.sample_blocks: 1000, want 1 to 256"},
		{config.Vetting{CallTimeout: config.Duration(time.Hour)}, "vetting.call_timeout: 1h0m0s"},
	}
	for _, tc := range bad {
		if _, err := CriteriaFrom(tc.v); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: error %v, want %q", tc.v, err, tc.want)
		}
	}
}

// TestSpreadAndRamp: the sample and the ramp stay in their ranges.
func TestSpreadAndRamp(t *testing.T) {
	cases := []struct {
		lo, hi uint64
		n      int
		want   []uint64
	}{
		{0, 10, 3, []uint64{10, 5, 0}},
		{5, 5, 4, []uint64{5}},
		{0, 2, 8, []uint64{2, 1, 0}},
		{7, 3, 2, nil},
		{100, 1123, 1, []uint64{1123}},
	}
	for _, tc := range cases {
		if got := spread(tc.lo, tc.hi, tc.n); !slices.Equal(got, tc.want) {
			t.Errorf("spread(%d, %d, %d) = %v, want %v", tc.lo, tc.hi, tc.n, got, tc.want)
		}
	}
	if got := rampRates(50, 4); !slices.Equal(got, []float64{12.5, 25, 37.5, 50}) {
		t.Errorf("rampRates(50, 4) = %v", got)
	}
	if got := rampRates(7, 1); !slices.Equal(got, []float64{7}) {
		t.Errorf("rampRates(7, 1) = %v", got)
	}
}

// TestNotServed: "method not found" in its usual forms means not served;
// a refusal of the arguments, or a throttle, does not.
func TestNotServed(t *testing.T) {
	cases := []struct {
		err    error
		served bool
	}{
		{nil, true},
		{&RPCError{Code: -32601, Message: "the method trace_block does not exist/is not available"}, false},
		{&RPCError{Code: -32000, Message: "Method not found"}, false},
		{&RPCError{Code: -32603, Message: "method eth_getProof is not supported"}, false},
		{&RPCError{Code: -32000, Message: "typed transaction too short"}, true},
		{&RPCError{Code: -32602, Message: "invalid argument 0: hex string has length 2"}, true},
		{&RPCError{Code: -32000, Message: "historical state 0xab is not available"}, true},
		{&HTTPError{Status: 429}, true},
		{&HTTPError{Status: 404}, false},
		{errors.New("cannot reach it: connection refused"), false},
	}
	for _, tc := range cases {
		if _, not := notServed(tc.err); not == tc.served {
			t.Errorf("%v: served %v, want %v", tc.err, !not, tc.served)
		}
	}
}

// TestJudge: each result out of its criterion fails exactly that
// criterion, with a reason and evidence; a clean report admits.
func TestJudge(t *testing.T) {
	crit, _ := CriteriaFrom(config.Vetting{})
	clean := func() *Report {
		return &Report{Criteria: crit,
			Sync:    SyncResult{AgreedHead: 100, CandidateHead: 99, Lag: 1, OnAgreedChain: true},
			Archive: ArchiveResult{Head: 99, Genesis: true, Depth: 99},
			Load:    LoadResult{Steps: []LoadStep{{Rate: 50, Calls: 100, OKCalls: 100, P99: 20}}},
			Errors:  ErrorsResult{Probes: []ErrorProbe{{What: "malformed JSON", Status: 200, Code: -32700, OK: true}}},
			WS:      WSResult{Connected: true, Subscribed: true, NewHeads: 1},
		}
	}
	cases := []struct {
		name  string
		spoil func(r *Report)
		want  string
	}{
		{"clean", func(*Report) {}, ""},
		{"behind", func(r *Report) { r.Sync.CandidateHead, r.Sync.Lag = 90, 10 }, CritSync},
		{"ahead", func(r *Report) { r.Sync.Lag = -100 }, CritSync},
		{"syncing", func(r *Report) { r.Sync.Syncing = true }, CritSync},
		{"another fork", func(r *Report) { r.Sync.OnAgreedChain = false }, CritSync},
		{"no head", func(r *Report) { r.Sync = SyncResult{Error: "eth_syncing: HTTP 503"} }, CritSync},
		{"missing method", func(r *Report) { r.Methods.Missing = map[string]string{"eth_getProof": "error -32601"} }, CritMethods},
		{"pruned", func(r *Report) { r.Archive = ArchiveResult{Head: 99, OldestState: 90, Depth: 9} }, CritArchive},
		{"lie", func(r *Report) { r.Correctness.Failed = make([]verify.Evidence, 1) }, CritCorrectness},
		{"slow", func(r *Report) { r.Load.Steps[0].P99 = 900 }, CritLatency},
		{"failing", func(r *Report) { r.Load.Steps[0].Failed = 5 }, CritErrors},
		{"bad error answers", func(r *Report) { r.Errors.Probes[0].OK = false }, CritErrors},
		{"throttled", func(r *Report) { r.Load.Steps[0].Throttled = 1 }, CritThrottling},
		{"429 without Retry-After", func(r *Report) { r.Errors.Throttles = 3 }, CritThrottling},
		{"no newHeads", func(r *Report) { r.WS = WSResult{Connected: true, Subscribed: true, Error: "no newHeads"} }, CritWebSocket},
		{"no WebSocket", func(r *Report) { r.WS = WSResult{Error: "connect: refused"} }, CritWebSocket},
	}
	for _, tc := range cases {
		r := clean()
		tc.spoil(r)
		judge(r)
		got := r.FailedCriteria()
		if tc.want == "" {
			if r.Verdict != Admit || len(got) != 0 {
				t.Errorf("%s: verdict %s, failed %v", tc.name, r.Verdict, got)
			}
			continue
		}
		if r.Verdict != Reject || !slices.Equal(got, []string{tc.want}) || r.Failed[0].Reason == "" {
			t.Errorf("%s: verdict %s, failed %v, want only %s", tc.name, r.Verdict, got, tc.want)
		}
		if tc.want != CritCorrectness && len(r.Failed[0].Evidence) == 0 {
			t.Errorf("%s: no evidence", tc.name)
		}
		var text bytes.Buffer
		if err := r.WriteText(&text); err != nil || !strings.Contains(text.String(), "FAIL") || !strings.Contains(text.String(), r.Failed[0].Reason) {
			t.Errorf("%s: text report lacks the failure:\n%s", tc.name, text.String())
		}
	}
	r := clean()
	r.WS = WSResult{Error: "connect: refused"}
	r.Criteria.WebSocketOptional = true
	if judge(r); r.Verdict != Admit {
		t.Errorf("websocket_optional: a candidate without WebSocket is rejected: %v", r.FailedCriteria())
	}
}
