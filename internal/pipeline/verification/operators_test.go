package verification

import (
	"context"
	"encoding/json"
	"sync/atomic"
	"testing"

	"github.com/rpcmesh/rpcmesh/internal/pipeline"
	"github.com/rpcmesh/rpcmesh/internal/verify"
)

// TestQuorumFollowsTheOperatorCount: a quorum method is asked of a quorum
// while enough operators can serve it, and passed on to one provider,
// labelled trusted with how many operators serve it, while too few can.
// The count is read at each wave (the gateway's follows the providers as
// they are now: route.Router.Voters), so an operator admitted or removed
// at run time changes the next call, and no call fails for want of a vote.
func TestQuorumFollowsTheOperatorCount(t *testing.T) {
	next := perCall(func(_ context.Context, c *pipeline.Call) (json.RawMessage, error) {
		c.Provider = "p"
		return json.RawMessage(`"0x7"`), nil
	})
	var voters atomic.Int64
	v := New(next, Options{Asker: newFake(ok(`"0x1"`), ok(`"0x1"`)), Trust: verify.NewStaticTrust(),
		Operators:  func(string) int { return int(voters.Load()) },
		OperatorOf: func(name string) string { return "op-" + name }})
	for _, tt := range []struct {
		voters                 int64
		wantResult, wantHeader string
	}{
		{1, `"0x7"`, `trusted; operators=op-p; note="1 operator serves eth_call"`},
		{2, `"0x1"`, "quorum; operators=op-a,op-b"},
		{3, `"0x1"`, "quorum; operators=op-a,op-b"},
		{0, `"0x7"`, `trusted; operators=op-p; note="0 operators serve eth_call"`},
	} {
		voters.Store(tt.voters)
		// Alone and in a wave beside a trust-one method, whose report says
		// nothing of operators.
		alone := newCall("eth_call", nil)
		inWave, chainID := newCall("eth_call", nil), newCall("eth_chainId", nil)
		v.Handle(context.Background(), []*pipeline.Call{alone})
		v.Handle(context.Background(), []*pipeline.Call{inWave, chainID})
		for _, c := range []*pipeline.Call{alone, inWave} {
			r := c.Report
			if c.Err != nil || string(c.Result) != tt.wantResult || r.Header() != tt.wantHeader {
				t.Errorf("%d operators: answered %s (%v) as %q, want %s as %q",
					tt.voters, c.Result, c.Err, r.Header(), tt.wantResult, tt.wantHeader)
			}
		}
		if r := chainID.Report; chainID.Err != nil || r.Class() != pipeline.ClassTrusted || r.Note() != "" {
			t.Errorf("%d operators: eth_chainId answered (%v) as %q (%q), want trusted without a note", tt.voters, chainID.Err, r.Class(), r.Note())
		}
	}
}
