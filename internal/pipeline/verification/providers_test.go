package verification

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/config"
	"github.com/rpcmesh/rpcmesh/internal/devnet"
	"github.com/rpcmesh/rpcmesh/internal/head"
	"github.com/rpcmesh/rpcmesh/internal/jsonrpc"
	"github.com/rpcmesh/rpcmesh/internal/testwait"
	"github.com/rpcmesh/rpcmesh/internal/verify"
)

// TestStageWithGatewayParts runs the stage over the gateway's own parts:
// upstream providers with their health loops, the agreed head of distinct
// operators as the trust anchor, and the Providers asker.
func TestStageWithGatewayParts(t *testing.T) {
	d, act := sharedDevnet(t)
	ctx := testwait.Context(t, 6*time.Minute)
	tracker := head.NewTracker(2, 8, nil)
	router, list := gatewayProviders(t, ctx, d, tracker, act.Blocks[len(act.Blocks)-1]+1,
		func(pc *config.Provider, n devnet.NodeInfo) {
			// All in one tier, and routing prefers the liar: the worst case.
			if n.Name == "node2" {
				pc.Weight = 100
			}
		})
	ev := verify.NewEvidenceLog(1024)
	v := FromGateway(Gateway{Chain: "devnet", ChainID: d.Info().ChainID, Config: config.DefaultVerify(), Head: tracker, Router: router, Evidence: ev})(nil)

	direct := directCaller(t, d)
	// node2 lies about everything a proof covers; routing may pick it first.
	d.Stage(t, devnet.FaultSpec{Target: "node2", Kind: devnet.FaultLie, Params: json.RawMessage(`{"what":["proof","receipt","blockhash","code"]}`)})
	wrong, failed := 0, 0
	reqs := requests(act, max(1, 6/raceScale))
	for _, r := range reqs {
		got, err := handle(ctx, v, newCall(r.method, r.params))
		if err != nil {
			failed++
			var je *jsonrpc.Error
			if !errors.As(err, &je) {
				t.Errorf("%s: not a JSON-RPC error: %v", r.method, err)
			}
			continue
		}
		want, _ := direct.call(ctx, r.method, r.params)
		if !sameAnswer(got, want) {
			wrong++
			t.Errorf("wrong answer to %s: %.200s", r.method, got)
		}
	}
	if wrong != 0 || failed != 0 {
		t.Fatalf("%d wrong, %d failed of %d", wrong, failed, len(reqs))
	}
	blamed := map[string]int{}
	for _, e := range ev.Recent(0) {
		blamed[e.Provider]++
	}
	t.Logf("%d calls through upstream providers: 0 wrong, 0 failed; evidence %v", len(reqs), blamed)
	if blamed["node2"] == 0 || len(blamed) != 1 {
		t.Errorf("evidence should blame node2 only: %v", blamed)
	}
	// The liar's routing score carries the penalty; the honest ones' do not.
	for _, p := range list {
		pen := p.Snapshot(time.Now()).Penalty
		if (p.Name() == "node2") != (pen > 0) {
			t.Errorf("%s: penalty %.2f after the run", p.Name(), pen)
		}
	}
}
