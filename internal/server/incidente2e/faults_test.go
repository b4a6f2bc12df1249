package incidente2e

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/devnet"
	"github.com/rpcmesh/rpcmesh/internal/devnetgw"
	"github.com/rpcmesh/rpcmesh/internal/server"
	"github.com/rpcmesh/rpcmesh/internal/status"
)

// TestCloudOutage: both aws nodes down is one cloud_outage incident (not
// two provider incidents), shown within 3 s, with a plain message, no
// failed requests, and its end shown within 3 s of recovery.
func TestCloudOutage(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	calm(ctx, t)
	start := time.Now()
	clear := stage(t, devnet.FaultDown, "", "cloud=aws")
	inc, took := waitIncident(ctx, t, status.KindCloudOutage, start, "node1", "node2")
	t.Logf("cloud outage shown after %s: %s", took.Round(time.Millisecond), inc.Message)
	if took > 3*time.Second {
		t.Errorf("cloud outage shown after %s, want within 3s", took)
	}
	want := "devnet: 2 of 5 operators (both on aws, us-east-1 and eu-west-1) unreachable since "
	if !strings.HasPrefix(inc.Message, want) || !strings.Contains(inc.Message, "requests are served by the other 3") {
		t.Errorf("message %q, want it to start %q", inc.Message, want)
	}
	if inc.Severity == status.SeverityMinor || !slices.Equal(inc.Clouds, []string{"aws"}) {
		t.Errorf("severity %s clouds %v", inc.Severity, inc.Clouds)
	}
	// One incident for the cloud: none open for its providers one by one.
	for _, other := range gw.Status().Incidents {
		if other.Open() && other.Kind == status.KindProviderDown {
			t.Errorf("a provider incident beside the cloud outage: %s", other.Message)
		}
	}
	recovered := time.Now()
	clear()
	ended, took := waitEnded(ctx, t, inc.ID, recovered)
	t.Logf("cloud outage end shown %s after recovery: %s", took.Round(time.Millisecond), ended.Message)
	if took > 3*time.Second {
		t.Errorf("end shown %s after recovery, want within 3s", took)
	}
	if ended.Impact != status.ImpactNone {
		t.Errorf("impact %s while 3 operators served: %s", ended.Impact, ended.Message)
	}
}

// TestIncidentKinds stages each devnet fault and awaits the incident it
// must cause, then its end.
func TestIncidentKinds(t *testing.T) {
	for _, tc := range []struct {
		name    string
		kind    devnet.FaultKind
		params  string
		targets []string
		want    status.Kind
		named   []string
		also    status.Kind          // accepted instead of want ("" none)
		health  status.ProviderState // the first named provider's state while it lasts ("" not checked)
	}{
		{"down", devnet.FaultDown, "", []string{"node3"}, status.KindProviderDown, []string{"node3"}, "", status.StateDown},
		{"hang", devnet.FaultHang, "", []string{"node3"}, status.KindProviderDown, []string{"node3"}, "", ""},
		{"slow", devnet.FaultSlow, `{"latency":"300ms","jitter":"0s"}`, []string{"node3"}, status.KindProviderDegraded, []string{"node3"}, "", status.StateDegraded},
		{"lag", devnet.FaultLag, "", []string{"node4"}, status.KindProviderLagging, []string{"node4"}, "", status.StateLagging},
		{"error", devnet.FaultError, `{"rate":1,"mode":"http"}`, []string{"node3"}, status.KindProviderDown, []string{"node3"}, status.KindProviderDegraded, ""},
		{"ratelimit", devnet.FaultRateLimit, `{"rps":1,"retryAfter":"1s"}`, []string{"node3"}, status.KindProviderDegraded, []string{"node3"}, "", status.StateDegraded},
		{"reorg", devnet.FaultReorg, `{"depth":1}`, []string{"node5"}, status.KindProviderForked, []string{"node5"}, "", status.StateForked},
		{"region", devnet.FaultDown, "", []string{"region=eu-west-1"}, status.KindRegionOutage, []string{"node2", "node4"}, "", ""},
		{"capacity", devnet.FaultDown, "", []string{"tier=partner"}, status.KindCapacity, []string{"node2", "node3"}, "", ""},
		{"concentration", devnet.FaultDown, "", []string{"node1", "node2", "node3", "node4"}, status.KindConcentration, []string{"node5"}, "", ""},
		{"halted", devnet.FaultLag, "", []string{"all"}, status.KindChainHalted, nil, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			calm(ctx, t)
			start := time.Now()
			clear := stage(t, tc.kind, tc.params, tc.targets...)
			var inc status.Incident
			devnetgw.WaitFor(ctx, t, gw, "a "+string(tc.want)+" incident", func() bool {
				for _, i := range gw.Status().Incidents {
					if (i.Kind == tc.want || i.Kind == tc.also && tc.also != "") && i.Open() && !i.Start.Before(start.Add(-blockTime)) && containsAll(i.Providers, tc.named) {
						inc = i
						return true
					}
				}
				return false
			})
			t.Logf("%s: %s after %s: %s", tc.name, inc.Kind, time.Since(start).Round(time.Millisecond), inc.Message)
			if !strings.HasPrefix(inc.Message, "devnet: ") {
				t.Errorf("message %q", inc.Message)
			}
			if tc.health != "" {
				waitHealth(ctx, t, tc.named[0], tc.health)
			}
			recovered := time.Now()
			clear()
			ended, took := waitEnded(ctx, t, inc.ID, recovered)
			t.Logf("%s: ended %s after recovery: %s", tc.name, took.Round(time.Millisecond), ended.Message)
		})
	}
}

// TestHungNodeShowsAtOnce: a node that accepts connections and never
// answers shows as stalled (then down) in /status within a second or so,
// not only after its calls time out.
func TestHungNodeShowsAtOnce(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	calm(ctx, t)
	start := time.Now()
	stage(t, devnet.FaultHang, "", "node4")
	var state status.ProviderState
	devnetgw.WaitFor(ctx, t, gw, "node4 stalled or down", func() bool {
		for _, p := range gw.Status().Chains[0].Providers {
			if p.Name == "node4" {
				state = p.Health
			}
		}
		return state == status.StateStalled || state == status.StateDown
	})
	took := time.Since(start)
	t.Logf("hung node shown %s after %s", state, took.Round(time.Millisecond))
	// Its next head poll (every second at most while its WS feed is
	// fresh) plus the stall limit (0.5 s at least), and a margin.
	if took > 3*time.Second {
		t.Errorf("hung node shown after %s, want within 3s (the review saw 6.8s)", took)
	}
}

// TestFrozenHead: four of five nodes stop importing blocks while the
// fifth goes on. The shared gateway (health.head_stale_blocks 1.5) follows
// the fifth alone on degraded trust; a second one with head_stale_blocks 0
// (safety first) keeps the old head. Both report head_frozen within 3
// block times; answers say degraded or stale, /readyz says why; all fresh
// again after.
func TestFrozenHead(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cfg := devnetgw.Config(dn.Info(), "127.0.0.1:0", "")
	cfg.Health.HeadStaleBlocks = 0
	cfg.Complete()
	safe := devnetgw.StartForTest(ctx, t, cfg)
	calm(ctx, t)
	devnetgw.WaitFor(ctx, t, gw, "a measured block time on the second gateway", func() bool { return safe.Status().Chains[0].BlockTimeMs > 0 })

	start := time.Now()
	clear := stage(t, devnet.FaultLag, "", "node1", "node2", "node3", "node4")
	inc, took := waitIncident(ctx, t, status.KindHeadFrozen, start, "node5")
	t.Logf("frozen head shown after %s (head followed on degraded trust): %s", took.Round(time.Millisecond), inc.Message)
	if took > 3*blockTime {
		t.Errorf("frozen head shown after %s, want within 3 block times (%s)", took, 3*blockTime)
	}
	var safeInc status.Incident
	devnetgw.WaitFor(ctx, t, gw, "head_frozen on the second gateway", func() bool {
		for _, i := range safe.Status().Incidents {
			if i.Kind == status.KindHeadFrozen && i.Open() && !i.Start.Before(start.Add(-blockTime)) {
				safeInc = i
				return true
			}
		}
		return false
	})
	t.Logf("frozen head shown after %s (head kept): %s", time.Since(start).Round(time.Millisecond), safeInc.Message)
	if safeInc.Start.Sub(start) > 3*blockTime {
		t.Errorf("frozen head (head kept) started %s after the fault, want within 3 block times", safeInc.Start.Sub(start))
	}

	for _, tc := range []struct {
		name         string
		url          string
		admin        http.Handler
		stale, ready string
		readyCode    int
	}{
		{"degraded", url, gw.AdminHandler(), "degraded; operators=1; required=2", "ready (degraded: chain devnet head on 1 of 2 operators)", http.StatusOK},
		{"kept", devnetgw.URL(safe), safe.AdminHandler(), "head-frozen; age=", "chain devnet not ready: head frozen: block ", http.StatusServiceUnavailable},
	} {
		a, err := callAt(ctx, tc.url, "eth_blockNumber", "[]")
		if err != nil {
			t.Fatal(err)
		}
		if h := a.header.Get(server.StaleHeader); !strings.HasPrefix(h, tc.stale) {
			t.Errorf("%s: %s %q, want %q", tc.name, server.StaleHeader, h, tc.stale)
		}
		if code, body := adminOf(tc.admin, "/readyz"); code != tc.readyCode || !strings.HasPrefix(body, tc.ready) {
			t.Errorf("%s: /readyz %d %q, want %d %q", tc.name, code, body, tc.readyCode, tc.ready)
		}
	}
	clear()
	waitEnded(ctx, t, inc.ID, time.Now())
	calm(ctx, t)
	a, err := call(ctx, "eth_blockNumber", "[]")
	if err != nil {
		t.Fatal(err)
	}
	if h := a.header.Get(server.StaleHeader); h != "" {
		t.Errorf("%s %q with a fresh head", server.StaleHeader, h)
	}
	if code, body := admin("/readyz"); code != http.StatusOK || body != "ready\n" {
		t.Errorf("/readyz %d %q with a fresh head", code, body)
	}
}

// TestFlappingNodeIsOneIncident: a node alternating a second up and a
// second down makes one incident, which ends once it stays up.
func TestFlappingNodeIsOneIncident(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	calm(ctx, t)
	start := time.Now()
	clear := stage(t, devnet.FaultFlap, `{"up":"1s","down":"1s"}`, "node3")
	inc, _ := waitIncident(ctx, t, status.KindProviderDown, start, "node3")
	// The gateway sees node3 come back and go again while the incident
	// stays open.
	changes, last := 0, status.StateDown
	devnetgw.WaitFor(ctx, t, gw, "node3 seen back up and down again", func() bool {
		for _, p := range gw.Status().Chains[0].Providers {
			if up := p.Health == status.StateUp; p.Name == "node3" && up != (last == status.StateUp) {
				changes, last = changes+1, p.Health
			}
		}
		return changes >= 2
	})
	clear()
	waitEnded(ctx, t, inc.ID, time.Now())
	var ids []string
	for _, i := range gw.Status().Incidents {
		if !i.Start.Before(start) && slices.Contains(i.Providers, "node3") {
			ids = append(ids, i.ID+" "+string(i.Kind))
		}
	}
	if len(ids) != 1 {
		t.Errorf("flapping made %d incidents, want 1: %v", len(ids), ids)
	}
}

// TestFailedAnswersAreTheImpact: with every node down the steady reads
// fail; the outage's impact is "failed", its severity critical, and its
// message says so and that no operator is left.
func TestFailedAnswersAreTheImpact(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	calm(ctx, t)
	before := gw.Status().Chains[0].Answers
	start := time.Now()
	clear := stage(t, devnet.FaultDown, "", "all")
	var inc status.Incident
	devnetgw.WaitFor(ctx, t, gw, "the aws outage with failed answers", func() bool {
		for _, i := range gw.Status().Incidents {
			if i.Kind == status.KindCloudOutage && i.Open() && !i.Start.Before(start) && i.Impact == status.ImpactFailed {
				inc = i
				return true
			}
		}
		return false
	})
	t.Logf("impact shown after %s: %s", time.Since(start).Round(time.Millisecond), inc.Message)
	if inc.Severity != status.SeverityCritical || !strings.Contains(inc.Message, "no other operator is left to serve requests") ||
		!strings.Contains(inc.Message, " failed request") {
		t.Errorf("incident %+v", inc)
	}
	if after := gw.Status().Chains[0].Answers; after.Failed <= before.Failed || after.Served <= before.Served {
		t.Errorf("answers %+v, before %+v", after, before)
	}
	clear()
	waitEnded(ctx, t, inc.ID, time.Now())
}

// TestCensorship: the broadcast's first choice acknowledges a transaction
// and drops it; once it is mined through the others the censor is
// suspect (/status) and a censorship incident names it.
func TestCensorship(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	calm(ctx, t)
	censor := gw.BroadcastOrder("devnet")[0]
	start := time.Now()
	stage(t, devnet.FaultCensor, "", censor)
	key := dn.Keys()[2]
	send(ctx, t, dn.Transfer(t, key, pendingNonce(ctx, t, key)))
	inc, took := waitIncident(ctx, t, status.KindCensorship, start, censor)
	t.Logf("censorship shown after %s: %s", took.Round(time.Millisecond), inc.Message)
	waitHealth(ctx, t, censor, status.StateSuspect)
}

// TestLyingProvider: a node whose blocks do not hash to the hash they
// claim is penalised at every head poll: suspect in /status (the review
// saw "ok" at penalty 1.0) and a verification incident. Last: its penalty
// takes a while to fade.
func TestLyingProvider(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	calm(ctx, t)
	start := time.Now()
	stage(t, devnet.FaultLie, `{"what":["blockhash"]}`, "node3")
	inc, took := waitIncident(ctx, t, status.KindVerification, start, "node3")
	t.Logf("verification shown after %s: %s", took.Round(time.Millisecond), inc.Message)
	waitHealth(ctx, t, "node3", status.StateSuspect)
	code, body := admin("/metrics")
	want := `rpcmesh_provider_state{chain="devnet",cloud="gcp",operator="nodeworks",provider="node3",state="suspect",tier="partner"} 1`
	if code != http.StatusOK || !strings.Contains(body, want) {
		t.Errorf("/metrics %d without %s", code, want)
	}
}
