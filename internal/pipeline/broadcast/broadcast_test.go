package broadcast

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/config"
	"github.com/rpcmesh/rpcmesh/internal/jsonrpc"
	"github.com/rpcmesh/rpcmesh/internal/pipeline"
	"github.com/rpcmesh/rpcmesh/internal/txbroadcast"
	"github.com/rpcmesh/rpcmesh/internal/txwatch"
)

// countingTarget counts calls and answers none.
type countingTarget struct{ calls int }

func (c *countingTarget) Name() string          { return "p" }
func (c *countingTarget) Labels() config.Labels { return config.Labels{Operator: "op"} }
func (c *countingTarget) Call(context.Context, string, json.RawMessage) (json.RawMessage, error) {
	c.calls++
	return json.RawMessage(`"0x1"`), nil
}

func newStage(target *countingTarget, next pipeline.Handler) *Broadcast {
	w := txwatch.New(txwatch.Options{
		Chain: "test", Config: config.DefaultBroadcast(),
		Head:        func() (uint64, bool) { return 1, true },
		Rank:        func(func(string) int) []txbroadcast.Target { return []txbroadcast.Target{target} },
		Broadcaster: txbroadcast.New(3, time.Second, nil),
	})
	return &Broadcast{Next: next, Watch: w, Limits: txbroadcast.Limits{ChainID: 1337, MaxTxBytes: 1024, MaxBlobTxBytes: 4096}}
}

func TestStage(t *testing.T) {
	passed := 0
	next := pipeline.HandlerFunc(func(_ context.Context, wave []*pipeline.Call) {
		for _, c := range wave {
			passed++
			c.Answer(json.RawMessage(`"next"`), nil)
		}
	})
	for _, tc := range []struct {
		method, params string
		wantCode       int    // 0: success
		wantResult     string // when successful
		wantCalls      int    // provider calls
		wantPassed     int
	}{
		{method: "eth_sendRawTransaction", params: `["0xdeadbeef"]`, wantCode: jsonrpc.CodeInvalidParams},
		{method: "eth_sendRawTransaction", params: `["0x"]`, wantCode: jsonrpc.CodeInvalidParams},
		{method: StatusMethod, params: `["0x1234"]`, wantCode: jsonrpc.CodeInvalidParams},
		{method: StatusMethod, params: `[]`, wantCode: jsonrpc.CodeInvalidParams},
		{method: StatusMethod, params: `["0x0000000000000000000000000000000000000000000000000000000000000001"]`,
			wantResult: `"unknown"`},
		// pending: the operators' count, and "latest" passed on for the floor.
		{method: "eth_getTransactionCount", params: `["0x000000000000000000000000000000000000c0de","pending"]`, wantResult: `"0x1"`, wantCalls: 1, wantPassed: 1},
		{method: "eth_getTransactionCount", params: `["0x000000000000000000000000000000000000c0de","latest"]`, wantResult: `"next"`, wantPassed: 1},
		{method: "eth_getBalance", params: `["0x000000000000000000000000000000000000c0de","latest"]`, wantResult: `"next"`, wantPassed: 1},
	} {
		target := &countingTarget{}
		passed = 0
		s := newStage(target, next)
		res, err := pipeline.Do(context.Background(), s, pipeline.NewCall(tc.method, json.RawMessage(tc.params)))
		if tc.wantCode != 0 {
			var je *jsonrpc.Error
			if !errors.As(err, &je) || je.Code != tc.wantCode {
				t.Errorf("%s %s: err %v, want code %d", tc.method, tc.params, err, tc.wantCode)
			}
		} else if err != nil {
			t.Errorf("%s %s: %v", tc.method, tc.params, err)
		} else if tc.method == StatusMethod {
			var e txwatch.Entry
			if json.Unmarshal(res, &e) != nil || `"`+string(e.State)+`"` != tc.wantResult {
				t.Errorf("%s: %s", tc.method, res)
			}
		} else if string(res) != tc.wantResult {
			t.Errorf("%s %s: %s, want %s", tc.method, tc.params, res, tc.wantResult)
		}
		if target.calls != tc.wantCalls || passed != tc.wantPassed {
			t.Errorf("%s %s: %d provider calls, %d passed on; want %d, %d", tc.method, tc.params, target.calls, passed, tc.wantCalls, tc.wantPassed)
		}
	}
}

// TestPendingNonceFloor: a "pending" count below the sender's proven
// "latest" count (a provider behind, or lying low) is raised to it.
func TestPendingNonceFloor(t *testing.T) {
	var asked string
	next := pipeline.HandlerFunc(func(_ context.Context, wave []*pipeline.Call) {
		for _, c := range wave {
			asked = c.Method + string(c.Params)
			c.Answer(json.RawMessage(`"0x5"`), nil)
		}
	})
	s := newStage(&countingTarget{}, next)
	res, err := pipeline.Do(context.Background(), s, pipeline.NewCall("eth_getTransactionCount", json.RawMessage(`["0x000000000000000000000000000000000000c0de","pending"]`)))
	if err != nil || string(res) != `"0x5"` {
		t.Fatalf("got %s %v, want the floor 0x5", res, err)
	}
	if asked != `eth_getTransactionCount["0x000000000000000000000000000000000000c0de","latest"]` {
		t.Fatalf("floor asked %s", asked)
	}
}
