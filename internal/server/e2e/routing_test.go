package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/devnet"
	"github.com/rpcmesh/rpcmesh/internal/devnetgw"
	"github.com/rpcmesh/rpcmesh/internal/server"
	"github.com/rpcmesh/rpcmesh/internal/testwait"
)

// Routing seen from outside: where the gateway sends traffic when a
// provider fails, measured as shares of a fixed number of routed calls
// (Status' per-provider request counts), never as counts inside a
// wall-clock window, which a loaded machine stretches or squeezes.

// shareWindow is how many routed calls one share is measured over when
// the stream's reads are routed (quorum reads among them); proven reads
// of the same few accounts are mostly answered from the gateway's caches,
// so fewer of them reach routing.
const shareWindow = 200

// shareOver waits until routing has sent n more calls (every provider
// together) and returns the share of them that went to the providers pick
// selects, with the calls per provider.
func shareOver(ctx context.Context, n uint64, pick func(name string) bool) (float64, map[string]uint64, error) {
	before := requests()
	var got map[string]uint64
	err := testwait.Until(ctx, fmt.Sprintf("%d routed calls", n), func() bool {
		got = delta(before, requests())
		return callsIn(got) >= n
	})
	var picked uint64
	for name, c := range got {
		if pick(name) {
			picked += c
		}
	}
	return float64(picked) / float64(max(callsIn(got), 1)), got, err
}

// shareSettles waits (up to timeout) until, over some run of n routed
// calls, the providers pick selects got at most maxShare of them.
func shareSettles(t *testing.T, timeout time.Duration, n uint64, what string, maxShare float64, pick func(name string) bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	start := time.Now()
	for {
		share, got, err := shareOver(ctx, n, pick)
		if err != nil {
			t.Fatalf("%s never fell to %.3f of %d routed calls within %s: last %v (%v)", what, maxShare, n, timeout, got, err)
		}
		if share <= maxShare {
			t.Logf("%s: %.3f of %d routed calls after %s: %v", what, share, callsIn(got), time.Since(start).Round(time.Millisecond), got)
			return
		}
	}
}

func callsIn(m map[string]uint64) uint64 {
	var n uint64
	for _, v := range m {
		n += v
	}
	return n
}

// is selects the provider named name.
func is(name string) func(string) bool { return func(n string) bool { return n == name } }

// inTier selects the providers of the given tiers.
func inTier(tiers ...string) func(string) bool {
	return func(name string) bool {
		n, _ := dn.Node(name)
		for _, tier := range tiers {
			if n.Labels.Tier == tier {
				return true
			}
		}
		return false
	}
}

// unusable says whether the gateway's Status shows the provider out of
// routing's first choice: not ok, lagging or degraded.
func unusable(name string) bool {
	for _, p := range gw.Status().Chains[0].Providers {
		if p.Name == name {
			return p.State != "ok" || p.LagBlocks > 0 || p.Degraded
		}
	}
	return false
}

// waitServes waits until routing sends name a call.
func waitServes(t *testing.T, name string) {
	t.Helper()
	before := requests()[name]
	testwait.For(t, 15*time.Second, name+" taking calls", func() bool { return requests()[name] > before })
}

// TestKillTheServingProvider stages each fault on the provider that serves
// (the own-tier node) under a steady stream of reads: no read fails, the
// faulty provider's share of the routed calls falls to almost nothing, and
// once the fault clears it serves again.
func TestKillTheServingProvider(t *testing.T) {
	serving := dn.Info().Nodes[0].Name // the only "own" node: tiers send it all traffic
	faults := []struct {
		kind   devnet.FaultKind
		params string
		// maxShare bounds the faulty provider's share of shareWindow routed
		// calls once routing has reacted. A slow, erring or rate-limited
		// provider may still take a first attempt now and then; a flapping
		// one is readmitted on probation in its up phases.
		maxShare float64
	}{
		{devnet.FaultDown, "", 0.02},
		{devnet.FaultHang, "", 0.02},
		{devnet.FaultSlow, `{"latency":"1s","jitter":"0s"}`, 0.05},
		{devnet.FaultError, `{"rate":1,"mode":"mixed"}`, 0.05},
		{devnet.FaultRateLimit, `{"rps":1,"retryAfter":"1s"}`, 0.05},
		{devnet.FaultLag, "", 0.02},
		{devnet.FaultFlap, `{"up":"400ms","down":"400ms"}`, 0.15},
	}
	for _, f := range faults {
		t.Run(string(f.kind), func(t *testing.T) {
			devnetgw.AwaitHealthy(t, gw)
			s := startStream(4)
			waitServes(t, serving)
			setFault(t, serving, f.kind, f.params)
			shareSettles(t, 15*time.Second, shareWindow, "the faulty "+serving+"'s share", f.maxShare, is(serving))
			dn.ClearFaults()
			// Readmission: once healed, it serves again.
			devnetgw.AwaitHealthy(t, gw)
			waitServes(t, serving)
			s.finish(t)
		})
	}
}

// TestCloudOutage takes a whole cloud down under a stream of reads: once
// the gateway sees its nodes down, a thousand more reads all succeed.
func TestCloudOutage(t *testing.T) {
	devnetgw.AwaitHealthy(t, gw)
	s := startStream(4)
	testwait.For(t, 15*time.Second, "the stream's first reads", func() bool { return s.ok.Load() >= 10 })
	f := setFault(t, "cloud=aws", devnet.FaultDown, "")
	testwait.For(t, 15*time.Second, fmt.Sprintf("the gateway to see %v down", f.Nodes), func() bool {
		for _, n := range f.Nodes {
			if !unusable(n) {
				return false
			}
		}
		return true
	})
	done := s.ok.Load() + s.fail.Load()
	testwait.For(t, 30*time.Second, "1000 reads during the outage", func() bool { return s.ok.Load()+s.fail.Load() >= done+1000 })
	dn.ClearFaults()
	s.finish(t)
}

// TestTiersGiveBack: while the own node is healthy the other tiers get
// almost nothing; with it down, partners serve and community and public
// nodes still get almost nothing; healed, the own node takes its traffic
// back.
func TestTiersGiveBack(t *testing.T) {
	devnetgw.AwaitHealthy(t, gw)
	own := dn.Info().Nodes[0].Name
	// No quorum reads: a quorum's second operator is, by design, outside
	// the devnet's one-operator own tier.
	s := startStreamOf(2, oneProviderReads())
	defer s.finish(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	fromHead := head(t)
	_, got, err := shareOver(ctx, 100, is(own))
	if err != nil {
		t.Fatal(err)
	}
	blocks := head(t) - fromHead
	t.Logf("calls with the own node healthy: %v over %d new blocks", got, blocks)
	for _, n := range dn.Info().Nodes {
		limit := callsIn(got)/50 + 2
		if n.Labels.Tier == "partner" {
			// A partner may answer the odd call pinned to a block the own
			// node was not yet seen to have (the polling race): at most 2%,
			// and with the verified caches (proofs, blocks) the upstream
			// calls left are mostly those first reads of a new block, a few
			// per block (the block, a header, a proof per account).
			limit = callsIn(got)/50 + 4*blocks
		}
		if n.Labels.Tier != "own" && got[n.Name] > limit {
			t.Errorf("%s (%s) got %d of %d calls while the own node is healthy", n.Name, n.Labels.Tier, got[n.Name], callsIn(got))
		}
	}
	setFault(t, "tier=own", devnet.FaultDown, "")
	testwait.For(t, 15*time.Second, "the gateway to see "+own+" down", func() bool { return unusable(own) })
	shareSettles(t, 30*time.Second, 50, "community and public nodes' share with partners healthy", 0.02, inTier("community", "public"))
	dn.ClearFaults()
	devnetgw.AwaitHealthy(t, gw)
	// Readmitted at once after a first failure; after repeated ones (the
	// tests before this one) it earns its error rate back by probes first.
	waitServes(t, own)
}

// TestDiversityCap runs a second gateway in front of the same nodes with
// every node in one tier, and measures each operator's and cloud's share of
// the attempts from its /metrics over a few thousand reads.
func TestDiversityCap(t *testing.T) {
	info := dn.Info()
	cfg := gatewayConfig(info)
	cfg.Routing.MaxOperatorShare = 0.3
	cfg.Routing.MaxCloudShare = 0.45 // two of the five nodes are on aws
	for i := range cfg.Chains[0].Providers {
		cfg.Chains[0].Providers[i].Labels.Tier = "own"
	}
	cfg.Chains[0].Providers[0].Weight = 50 // a favourite the caps must hold back
	g, err := server.New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := g.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer g.Close(context.Background())
	if err := g.Ready(ctx); err != nil {
		t.Fatal(err)
	}
	devnetgw.AwaitHealthy(t, gw)
	target := devnetgw.URL(g)
	var wg sync.WaitGroup
	var failed atomic.Int64
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 750; i++ {
				resp, err := client.Post(target, "application/json", strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"eth_gasPrice"}`))
				if err != nil {
					failed.Add(1)
					continue
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if !strings.Contains(string(b), `"result"`) {
					failed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if failed.Load() > 0 {
		t.Fatalf("%d reads failed", failed.Load())
	}
	// Shares from the Prometheus metrics.
	resp, err := http.Get("http://" + g.AdminAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metricsText, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	perProvider := map[string]float64{}
	var attempts float64
	for _, line := range strings.Split(string(metricsText), "\n") {
		if !strings.HasPrefix(line, "rpcmesh_upstream_requests_total{") {
			continue
		}
		var v float64
		fmt.Sscanf(line[strings.LastIndex(line, " ")+1:], "%g", &v)
		name := line[strings.Index(line, `provider="`)+10:]
		name = name[:strings.Index(name, `"`)]
		perProvider[name] += v
		attempts += v
	}
	operators, clouds := map[string]float64{}, map[string]float64{}
	for _, n := range info.Nodes {
		operators[n.Labels.Operator] += perProvider[n.Name] / attempts
		clouds[n.Labels.Cloud] += perProvider[n.Name] / attempts
	}
	t.Logf("%d attempts; operator shares %v; cloud shares %v", int(attempts), operators, clouds)
	for op, s := range operators {
		if s > 0.3+0.01 {
			t.Errorf("operator %s carried %.3f, over its cap 0.3", op, s)
		}
	}
	for cl, s := range clouds {
		if s > 0.45+0.01 {
			t.Errorf("cloud %s carried %.3f, over its cap 0.45", cl, s)
		}
	}
}
