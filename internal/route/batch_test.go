package route

import (
	"context"
	"testing"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/fakenode"
)

// requests is the number of traffic requests (not health checks) the
// providers got.
func (n *testNet) requests() uint64 {
	var total uint64
	for _, p := range n.router.Providers() {
		total += p.Snapshot(time.Now()).Requests
	}
	return total
}

// runDoBatch routes reqs as one wave with DoBatch, as the forward stage
// does; skip is not used: calls answered before routing never reach it.
func runDoBatch(t *testing.T, r *Router, _ int, reqs ...*Request) []Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	wave := make([]Request, len(reqs))
	for i, req := range reqs {
		wave[i] = *req
	}
	results, errs := make([]Result, len(reqs)), make([]error, len(reqs))
	r.DoBatch(ctx, wave, results, errs)
	for i, err := range errs {
		if err != nil {
			t.Errorf("call %d (%s): %v", i, reqs[i].Method, err)
		}
	}
	return results
}

// waveRunners are the ways a wave reaches routing: the whole wave through
// DoBatch. tries is how many times a test may run a wave before it counts.
var waveRunners = []waveRunner{
	{"DoBatch", runDoBatch, 1},
}

// waveRunner is one way a wave reaches routing.
type waveRunner struct {
	name  string
	run   func(t *testing.T, r *Router, skip int, reqs ...*Request) []Result
	tries int
}

// counted runs the wave reqs until count grows by want over one run, at
// most wr.tries times, and returns the last run's growth and results.
func (wr waveRunner) counted(t *testing.T, r *Router, count func() uint64, want uint64, skip int, reqs ...*Request) (uint64, []Result) {
	t.Helper()
	var got uint64
	var res []Result
	for try := 0; try < wr.tries && got != want; try++ {
		before := count()
		res = wr.run(t, r, skip, reqs...)
		got = count() - before
	}
	return got, res
}

// unhedgedNet is three operators' providers with hedging off: one call,
// one attempt, so that what the providers count is what the calls sent.
func unhedgedNet(t *testing.T) *testNet {
	t.Helper()
	routing := testRouting()
	routing.Hedge = false
	return startNet(t, routing, threeOperators()...)
}

func TestBatchIsOneUpstreamRequest(t *testing.T) {
	for _, wr := range waveRunners {
		t.Run(wr.name, func(t *testing.T) {
			n := unhedgedNet(t)
			got, res := wr.counted(t, n.router, n.requests, 1, 2, read("eth_gasPrice"), read("eth_blockNumber"), read("eth_gasPrice"))
			if got != 1 {
				t.Errorf("%d upstream requests for a wave of 3 routed calls, want 1", got)
			}
			for i, r := range res {
				if len(r.Value) == 0 || r.Provider != res[0].Provider {
					t.Errorf("call %d: %+v", i, r)
				}
			}
			// Each call gets its own answer, in its place.
			for i, m := range []string{"eth_gasPrice", "eth_blockNumber"} {
				alone, err := n.router.Do(context.Background(), read(m))
				if err != nil || string(alone.Value) != string(res[i].Value) {
					t.Errorf("call %d (%s) answered %s in the wave, %s alone (%v)", i, m, res[i].Value, alone.Value, err)
				}
			}
		})
	}
}

func TestBatchWritesGoAlone(t *testing.T) {
	for _, wr := range waveRunners {
		t.Run(wr.name, func(t *testing.T) {
			n := unhedgedNet(t)
			got, _ := wr.counted(t, n.router, n.requests, 2, 0, read("eth_gasPrice"), read("eth_gasPrice"), read("eth_sendRawTransaction"))
			if got != 2 {
				t.Errorf("%d upstream requests, want 2 (one batch, one write)", got)
			}
		})
	}
}

func TestBatchRefusedFallsBack(t *testing.T) {
	for _, wr := range waveRunners {
		t.Run(wr.name, func(t *testing.T) {
			routing := testRouting()
			n := startNet(t, routing, threeOperators()...)
			for _, node := range n.nodes {
				node.SetFault(fakenode.Fault{NoBatches: true})
			}
			for range 5 {
				res := wr.run(t, n.router, 0, read("eth_gasPrice"), read("eth_gasPrice"), read("eth_gasPrice"))
				for i, r := range res {
					if len(r.Value) == 0 {
						t.Errorf("call %d not answered: %+v", i, r)
					}
				}
			}
			for _, p := range n.router.Providers() {
				if s := p.Snapshot(time.Now()); s.ErrorRate > 0 || s.Degraded {
					t.Errorf("%s: refusing batches counted as failures: %+v", p.Name(), s)
				}
			}
		})
	}
}

// TestBatchSlowerThanHedgeIsHedgedAsABatch: a wave slower than its hedge
// delay is sent again, as one batch, to another operator; the calls are not
// each sent on their own (ten requests for one, on a node that may be slow
// because it is busy).
func TestBatchSlowerThanHedgeIsHedgedAsABatch(t *testing.T) {
	for _, wr := range waveRunners {
		t.Run(wr.name, func(t *testing.T) {
			routing := testRouting()
			routing.ExplorationShare = 0
			n := startNet(t, routing,
				nodeSpec{name: "slow", operator: "alice", cloud: "aws", tier: "own", weight: 1e6},
				nodeSpec{name: "fast", operator: "bob", cloud: "gcp", tier: "own", weight: 1e-6},
			)
			n.run(t, 20, "eth_gasPrice") // prime latencies
			n.nodes["slow"].SetFault(fakenode.Fault{Delay: time.Second, OnlyMethod: "eth_gasPrice"})
			fast := n.router.Providers()[1]
			if fast.Name() != "fast" {
				t.Fatalf("provider order: %s", fast.Name())
			}
			// A wave sent in parts (see TestBatchIsOneUpstreamRequest) gets a few
			// more tries.
			// The slow provider answers after a second: answers from fast
			// (checked below) mean the hedge went out before that.
			fastRequests := func() uint64 { return fast.Snapshot(time.Now()).Requests }
			got, res := wr.counted(t, n.router, fastRequests, 1, 0, read("eth_gasPrice"), read("eth_gasPrice"), read("eth_gasPrice"))
			if got != 1 {
				t.Errorf("fast got %d requests for the wave of 3, want 1 (the hedge batch)", got)
			}
			for i, r := range res {
				if r.Provider != "fast" || !r.Hedged || r.Attempts != 2 {
					t.Errorf("call %d: %+v, want answered by the hedge at fast, 2 attempts", i, r)
				}
			}
		})
	}
}

func TestBatchNodeAnswersPerCall(t *testing.T) {
	n := unhedgedNet(t)
	// A block past every head: "header not found" is missing data, so the
	// call is retried on its own; the others are answered from the batch.
	far := read("eth_getBalance")
	far.Params = []byte(`["0x407d73d8a49eeb85d32cf465507dd71d507100c1","0xffffff"]`)
	// The wave through DoBatch.
	wave := []Request{*read("eth_gasPrice"), *far}
	results, errs := make([]Result, 2), make([]error, 2)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	n.router.DoBatch(ctx, wave, results, errs)
	if errs[0] != nil || len(results[0].Value) == 0 {
		t.Errorf("DoBatch: eth_gasPrice: %+v, %v", results[0], errs[0])
	}
	if errs[1] == nil {
		t.Errorf("DoBatch: a block past the head was answered: %s", results[1].Value)
	}
}
