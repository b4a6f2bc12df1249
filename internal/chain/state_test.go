package chain

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/config"
	"github.com/rpcmesh/rpcmesh/internal/incident"
	"github.com/rpcmesh/rpcmesh/internal/jsonrpc"
	"github.com/rpcmesh/rpcmesh/internal/pipeline"
	"github.com/rpcmesh/rpcmesh/internal/status"
	"github.com/rpcmesh/rpcmesh/internal/upstream"
)

// TestProviderState: one word per provider, worst first, from what the
// review found /status got wrong (penalty 1.0, a minority fork, a hung
// node all said "ok") and the rest.
func TestProviderState(t *testing.T) {
	c := &Chain{lagLimit: 3}
	ok := upstream.Snapshot{State: upstream.StateOK, Recent: 5 * time.Millisecond}
	with := func(edit func(v *providerView)) providerView {
		v := providerView{snap: ok}
		edit(&v)
		return v
	}
	for _, tc := range []struct {
		name string
		v    providerView
		want status.ProviderState
	}{
		{"up", with(func(*providerView) {}), status.StateUp},
		{"penalty 1.0", with(func(v *providerView) { v.snap.Penalty, v.verifyFailures = 1, 1 }), status.StateSuspect},
		{"minority fork", with(func(v *providerView) { v.forked, v.lag = true, 5 }), status.StateForked},
		{"hung", with(func(v *providerView) { v.snap.State = upstream.StateStalled }), status.StateStalled},
		{"breaker", with(func(v *providerView) { v.snap.State, v.snap.Penalty = upstream.StateBreaker, 1 }), status.StateDown},
		{"unreachable from the start", with(func(v *providerView) {
			v.snap.State, v.snap.Breaker = upstream.StateUnchecked, upstream.BreakerOpen
		}), status.StateDown},
		{"checking", with(func(v *providerView) { v.snap.State = upstream.StateUnchecked }), status.StateChecking},
		{"wrong chain", with(func(v *providerView) {
			v.snap.State, v.snap.WrongChain = upstream.StateWrongChain, "chain ID 5, want 1337"
		}), status.StateWrongChain},
		{"lagging", with(func(v *providerView) { v.lag = 4 }), status.StateLagging},
		{"at the lag limit", with(func(v *providerView) { v.lag = 3 }), status.StateUp},
		{"throttled", with(func(v *providerView) { v.snap.State = upstream.StateThrottled }), status.StateDegraded},
		{"failing often", with(func(v *providerView) { v.snap.Degraded = true }), status.StateDegraded},
		{"slow", with(func(v *providerView) { v.snap.Recent = 300 * time.Millisecond }), status.StateDegraded},
		{"slowish but fast", with(func(v *providerView) { v.snap.Recent = 50 * time.Millisecond }), status.StateUp},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, why := c.derive(&tc.v, 5*time.Millisecond)
			if got != tc.want || (got == status.StateUp) != (why == "") {
				t.Errorf("got %s (%q), want %s", got, why, tc.want)
			}
		})
	}
}

// TestAnswerCounter: every answer counted once; failed only for errors
// the client did not cause; slowed past the threshold.
func TestAnswerCounter(t *testing.T) {
	answers := []error{nil, jsonrpc.Errorf(jsonrpc.CodeNoProvider, "none"), jsonrpc.Errorf(jsonrpc.CodeInvalidParams, "bad"),
		jsonrpc.Errorf(3, "execution reverted"), jsonrpc.Errorf(jsonrpc.CodeTimeout, "late"), errors.New("bare")}
	a := &answerCounter{slow: time.Second, next: pipeline.HandlerFunc(func(_ context.Context, wave []*pipeline.Call) {
		for i, c := range wave {
			c.Err = answers[i]
		}
	})}
	wave := make([]*pipeline.Call, len(answers))
	for i := range wave {
		wave[i] = pipeline.NewCall("eth_blockNumber", nil)
	}
	a.Handle(context.Background(), wave)
	if got, want := a.counts(), (status.Answers{Served: 6, Failed: 3}); got != want {
		t.Errorf("counts %+v, want %+v", got, want)
	}
	// A clock that moves 2s per reading: every wave takes 2s.
	clock := time.Unix(0, 0)
	slow := &answerCounter{slow: time.Second, next: pipeline.HandlerFunc(func(context.Context, []*pipeline.Call) {}),
		now: func() time.Time { clock = clock.Add(2 * time.Second); return clock }}
	slow.Handle(context.Background(), []*pipeline.Call{pipeline.NewCall("eth_chainId", nil), pipeline.NewCall("eth_chainId", nil)})
	if got, want := slow.counts(), (status.Answers{Served: 2, Slowed: 2}); got != want {
		t.Errorf("counts %+v, want %+v", got, want)
	}
}

// TestIncidentsKeptInStore: the set keeps incidents in store (the
// top-level key; broadcast.store is its older name, TestSetStore) and
// reads them back after a restart.
func TestIncidentsKeptInStore(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rpcmesh.db")
	edit := func(c *config.Config) {
		c.Store = path
		c.Incidents.OpenAfter = config.Duration(time.Nanosecond)
	}
	s, _, _ := testSet(t, 2, edit)
	if err := s.Open(); err != nil {
		t.Fatal(err)
	}
	o := incident.Observation{Chain: "dev", Providers: []incident.Provider{{Name: "a", Operator: "a", State: status.StateDown}}}
	for range 2 {
		s.incidents.Evaluate(o)
	}
	before := s.Snapshot().Incidents
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if len(before) != 1 || before[0].Kind != status.KindProviderDown {
		t.Fatalf("incidents %+v", before)
	}
	s, _, _ = testSet(t, 2, edit)
	if err := s.Open(); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if after := s.Snapshot().Incidents; len(after) != 1 || after[0].ID != before[0].ID || !after[0].Open() {
		t.Fatalf("after restart %+v, want %+v", after, before)
	}
}
