package route

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/config"
	"github.com/rpcmesh/rpcmesh/internal/ethmethod"
	"github.com/rpcmesh/rpcmesh/internal/fakenode"
	"github.com/rpcmesh/rpcmesh/internal/jsonrpc"
	"github.com/rpcmesh/rpcmesh/internal/upstream"
)

// TestRetryGoesToAnotherOperator: a read that failed at one operator is
// retried at another, not at the same operator's other provider.
func TestRetryGoesToAnotherOperator(t *testing.T) {
	routing := testRouting()
	routing.Hedge = false
	routing.ExplorationShare = 0
	n := startNet(t, routing,
		nodeSpec{name: "a1", operator: "alice", cloud: "aws", tier: "own", weight: 1000},
		nodeSpec{name: "a2", operator: "alice", cloud: "aws", tier: "own", weight: 1000},
		nodeSpec{name: "b", operator: "bob", cloud: "gcp", tier: "own", weight: 0.001},
	)
	n.nodes["a1"].SetFault(fakenode.Fault{Status: 502, OnlyMethod: "eth_gasPrice"})
	n.nodes["a2"].SetFault(fakenode.Fault{Status: 502, OnlyMethod: "eth_gasPrice"})
	retried := 0
	for i := 0; i < 20; i++ {
		res, err := n.router.Do(context.Background(), read("eth_gasPrice"))
		if err != nil {
			t.Fatal(err)
		}
		if res.Provider != "b" || res.Attempts > 2 {
			t.Fatalf("answered by %s after %d attempts, want b after at most 2 (retry to another operator)", res.Provider, res.Attempts)
		}
		if res.Attempts == 2 {
			retried++
		}
	}
	if retried == 0 {
		t.Fatal("no call was retried")
	}
}

// TestWritesNotRetriedOrHedged: a write that reached a provider is never
// sent to another, neither after a failure nor when it is slow.
func TestWritesNotRetriedOrHedged(t *testing.T) {
	n := startNet(t, testRouting(), threeOperators()...)
	for _, node := range n.nodes {
		node.SetFault(fakenode.Fault{Status: 500, OnlyMethod: "eth_sendRawTransaction"})
	}
	req := &Request{Method: "eth_sendRawTransaction", Params: []byte(`["0x00"]`), Info: ethmethod.Lookup("eth_sendRawTransaction")}
	_, err := n.router.Do(context.Background(), req)
	var ue *upstream.Error
	if !errors.As(err, &ue) {
		t.Fatalf("want the upstream error, got %v", err)
	}
	total := 0
	for _, node := range n.nodes {
		total += node.Calls("eth_sendRawTransaction")
	}
	if total != 1 {
		t.Fatalf("a write reached %d providers, want 1", total)
	}
	// Slow providers: a write is never hedged.
	for _, node := range n.nodes {
		node.SetFault(fakenode.Fault{Delay: 200 * time.Millisecond})
		node.ResetCalls()
	}
	if _, err := n.router.Do(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	total = 0
	for _, node := range n.nodes {
		total += node.Calls("eth_sendRawTransaction")
	}
	if total != 1 {
		t.Fatalf("a slow write reached %d providers, want 1", total)
	}
}

// TestHedgeWinsOverSlowProvider: a read stuck at a slow provider is hedged
// at another operator, whose answer wins.
func TestHedgeWinsOverSlowProvider(t *testing.T) {
	routing := testRouting()
	routing.ExplorationShare = 0
	n := startNet(t, routing,
		nodeSpec{name: "slow", operator: "alice", cloud: "aws", tier: "own", weight: 1e6},
		nodeSpec{name: "fast", operator: "bob", cloud: "gcp", tier: "own", weight: 1e-6},
	)
	// Prime latencies.
	n.run(t, 20, "eth_gasPrice")
	n.nodes["slow"].SetFault(fakenode.Fault{Delay: time.Second, OnlyMethod: "eth_gasPrice"})
	res, err := n.router.Do(context.Background(), read("eth_gasPrice"))
	if err != nil {
		t.Fatal(err)
	}
	// The slow provider answers after a second: the fast one's answer
	// came first only if the hedge went out before that.
	if res.Provider != "fast" || !res.Hedged || res.Attempts != 2 {
		t.Fatalf("answer from %s (hedged %v, %d attempts); want the hedge's answer from fast", res.Provider, res.Hedged, res.Attempts)
	}
}

// TestLosersReportAsThemselves: attempts that lose to a hedge and come back
// after their Do returned are reported once each, with their own provider;
// every call a provider answered is reported as its success.
func TestLosersReportAsThemselves(t *testing.T) {
	routing := testRouting()
	routing.ExplorationShare = 0.5 // first attempts on either provider
	routing.HedgeMinDelay = config.Duration(5 * time.Millisecond)
	routing.HedgeMaxDelay = config.Duration(10 * time.Millisecond)
	n := startNet(t, routing,
		nodeSpec{name: "slow", operator: "alice", tier: "own", weight: 1e6},
		nodeSpec{name: "fast", operator: "bob", tier: "own", weight: 1e-6},
	)
	obs := newRecorder()
	n.router.obs = obs
	n.nodes["slow"].SetFault(fakenode.Fault{Delay: 30 * time.Millisecond, OnlyMethod: "eth_gasPrice"})
	n.resetCalls()
	hedged, launched := 0, 0
	for range 40 {
		res, err := n.router.Do(context.Background(), read("eth_gasPrice"))
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Value) == 0 || res.Provider == "" {
			t.Fatalf("an answer without a value: %+v", res)
		}
		if res.Hedged {
			hedged++
		}
		launched += res.Attempts
	}
	if hedged == 0 {
		t.Fatal("no Do was hedged: the test proves nothing")
	}
	obs.await(t, "", "", launched) // the losers come back
	if got := obs.count("", ""); got != launched {
		t.Errorf("%d attempts reported, %d launched", got, launched)
	}
	for name, node := range n.nodes {
		if got, want := obs.count(name, "ok"), node.Calls("eth_gasPrice"); got != want {
			t.Errorf("%s: %d successful attempts reported, %d served", name, got, want)
		}
	}
}

// TestHungLoserEndsAsStalled: an attempt at a provider that never answers,
// beaten by a hedge, is left to run until the provider's stall threshold
// and then cancelled as stalled, not as the caller's cancellation: it
// counts against the provider, so routing learns that it hangs.
func TestHungLoserEndsAsStalled(t *testing.T) {
	routing := testRouting()
	routing.ExplorationShare = 0
	n := startNet(t, routing,
		nodeSpec{name: "hung", operator: "alice", tier: "own", weight: 1e6},
		nodeSpec{name: "fast", operator: "bob", tier: "own", weight: 1e-6},
	)
	obs := newRecorder()
	n.router.obs = obs
	n.nodes["hung"].SetFault(fakenode.Fault{Hang: true, OnlyMethod: "eth_gasPrice"})
	ctx, cancel := context.WithCancel(context.Background())
	res, err := n.router.Do(ctx, read("eth_gasPrice"))
	cancel() // the caller is gone: the loser must not end with it
	if err != nil || res.Provider != "fast" || !res.Hedged {
		t.Fatalf("answer from %s (hedged %v): %v; want the hedge's answer from fast", res.Provider, res.Hedged, err)
	}
	obs.await(t, "hung", "", 1)
	if got := obs.count("hung", string(upstream.ClassStalled)); got != 1 {
		t.Fatalf("the hung attempt was reported as %+v, want %s", obs.attempts, upstream.ClassStalled)
	}
	// The provider recorded it before the attempt was reported.
	if s := n.provider("hung").Snapshot(time.Now()); s.Failures != 1 || s.ErrorRate <= 0 {
		t.Fatalf("the hung provider: %d failures, error rate %.2f; want the stalled attempt counted", s.Failures, s.ErrorRate)
	}
}

// TestAttemptOutlivesItsCaller: when the caller's context ends first, Do
// returns at once with the caller's error while its attempt runs on; the
// attempt ends as stalled (release), not as cancelled, so that a provider
// that hangs is held to account even when every client gives up first.
func TestAttemptOutlivesItsCaller(t *testing.T) {
	n := unhedgedNet(t)
	obs := newRecorder()
	n.router.obs = obs
	for _, node := range n.nodes {
		node.SetFault(fakenode.Fault{Hang: true, OnlyMethod: "eth_gasPrice"})
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := n.router.Do(ctx, read("eth_gasPrice"))
		done <- err
	}()
	waitFor(t, "the attempt to reach a provider", func() bool {
		calls := 0
		for _, node := range n.nodes {
			calls += node.Calls("eth_gasPrice")
		}
		return calls == 1
	})
	cancel()
	wait, stop := context.WithTimeout(context.Background(), 10*time.Second)
	defer stop()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Do after its caller left: %v, want context.Canceled", err)
		}
	case <-wait.Done():
		t.Fatal("Do did not return when its caller left")
	}
	obs.await(t, "", "", 1)
	if got := obs.count("", string(upstream.ClassStalled)); got != 1 {
		t.Fatalf("the abandoned attempt was reported as %+v, want it cancelled as stalled", obs.attempts)
	}
}

// TestOutcome: what the observer is told for each kind of attempt result.
func TestOutcome(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{nil, "ok"},
		{&jsonrpc.Error{Code: 3, Message: "execution reverted"}, "rpc_error"},
		{fmt.Errorf("wrapped: %w", &jsonrpc.Error{Code: -32000, Message: "header not found"}), "rpc_error"},
		{&upstream.Error{Class: upstream.ClassTimeout}, "timeout"},
		{fmt.Errorf("wrapped: %w", &upstream.Error{Class: upstream.ClassStalled}), "stalled"},
		{errors.New("something else"), "error"},
	}
	for _, tt := range tests {
		if got := outcome(tt.err); got != tt.want {
			t.Errorf("outcome(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
}
