package verification

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/config"
	"github.com/rpcmesh/rpcmesh/internal/devnet"
	"github.com/rpcmesh/rpcmesh/internal/head"
	"github.com/rpcmesh/rpcmesh/internal/jsonrpc"
	"github.com/rpcmesh/rpcmesh/internal/route"
	"github.com/rpcmesh/rpcmesh/internal/testwait"
	"github.com/rpcmesh/rpcmesh/internal/upstream"
	"github.com/rpcmesh/rpcmesh/internal/verify"
)

// TestStageWithGatewayParts runs the stage over the gateway's own parts:
// upstream providers with their health loops, the agreed head of distinct
// operators as the trust anchor, and the Providers asker.
func TestStageWithGatewayParts(t *testing.T) {
	d, act := sharedDevnet(t)
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	cfg := config.Default()
	cfg.Health.PollInterval = config.Duration(200 * time.Millisecond)
	tracker := head.NewTracker(2, 8, nil)
	var list []*upstream.Provider
	for _, n := range d.Info().Nodes {
		pc := config.DefaultProvider()
		pc.Name, pc.HTTP = n.Name, n.HTTP
		// One tier, and routing prefers the liar: the worst case.
		pc.Labels = config.Labels{Operator: n.Labels.Operator, Cloud: n.Labels.Cloud, Tier: config.TierOwn}
		if n.Name == "node2" {
			pc.Weight = 100
		}
		p := upstream.New(upstream.Options{Chain: "devnet", ChainID: d.Info().ChainID, Provider: pc, Health: cfg.Health,
			OnHead: func(p *upstream.Provider, b head.Block) { tracker.Observe(p.Name(), p.Labels().Operator, b) }})
		go p.Run(ctx)
		list = append(list, p)
	}
	router := route.New(route.Options{Chain: "devnet", Routing: cfg.Routing, MaxLagBlocks: 3, Providers: list, Head: tracker})
	if err := testwait.Until(ctx, "providers and an agreed head", func() bool {
		b, ok := tracker.Latest()
		return ok && b.Number > act.Blocks[len(act.Blocks)-1] && len(router.PickDistinct(&route.Request{}, len(list), nil, nil)) == len(list)
	}); err != nil {
		t.Fatal(err)
	}
	ev := verify.NewEvidenceLog(1024)
	v := FromGateway(Gateway{Chain: "devnet", ChainID: d.Info().ChainID, Config: config.DefaultVerify(), Head: tracker, Router: router, Evidence: ev})(nil)

	url, _ := d.DirectURL("node1")
	direct := dialCaller(t, url)
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
