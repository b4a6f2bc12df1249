package incidente2e

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/devnet"
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
		also    status.Kind // accepted instead of want ("" none)
	}{
		{"down", devnet.FaultDown, "", []string{"node3"}, status.KindProviderDown, []string{"node3"}, ""},
		{"hang", devnet.FaultHang, "", []string{"node3"}, status.KindProviderDown, []string{"node3"}, ""},
		{"slow", devnet.FaultSlow, `{"latency":"300ms","jitter":"0s"}`, []string{"node3"}, status.KindProviderDegraded, []string{"node3"}, ""},
		{"lag", devnet.FaultLag, "", []string{"node4"}, status.KindProviderLagging, []string{"node4"}, ""},
		{"error", devnet.FaultError, `{"rate":1,"mode":"http"}`, []string{"node3"}, status.KindProviderDown, []string{"node3"}, status.KindProviderDegraded},
		{"ratelimit", devnet.FaultRateLimit, `{"rps":1,"retryAfter":"1s"}`, []string{"node3"}, status.KindProviderDegraded, []string{"node3"}, ""},
		{"reorg", devnet.FaultReorg, `{"depth":1}`, []string{"node5"}, status.KindProviderForked, []string{"node5"}, ""},
		{"region", devnet.FaultDown, "", []string{"region=eu-west-1"}, status.KindRegionOutage, []string{"node2", "node4"}, ""},
		{"capacity", devnet.FaultDown, "", []string{"tier=partner"}, status.KindCapacity, []string{"node2", "node3"}, ""},
		{"concentration", devnet.FaultDown, "", []string{"node1", "node2", "node3", "node4"}, status.KindConcentration, []string{"node5"}, ""},
		{"halted", devnet.FaultLag, "", []string{"all"}, status.KindChainHalted, nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			calm(ctx, t)
			start := time.Now()
			clear := stage(t, tc.kind, tc.params, tc.targets...)
			var inc status.Incident
			waitFor(ctx, t, "a "+string(tc.want)+" incident", func() bool {
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
			recovered := time.Now()
			clear()
			ended, took := waitEnded(ctx, t, inc.ID, recovered)
			t.Logf("%s: ended %s after recovery: %s", tc.name, took.Round(time.Millisecond), ended.Message)
		})
	}
}

// TestHungNodeShowsAtOnce: a node that accepts connections and never
// answers shows as stalled (then down) in /status within a second or two,
// not only after its calls time out.
func TestHungNodeShowsAtOnce(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	calm(ctx, t)
	start := time.Now()
	stage(t, devnet.FaultHang, "", "node4")
	var state status.ProviderState
	waitFor(ctx, t, "node4 stalled or down", func() bool {
		for _, p := range gw.Status().Chains[0].Providers {
			if p.Name == "node4" {
				state = p.Health
			}
		}
		return state == status.StateStalled || state == status.StateDown
	})
	took := time.Since(start)
	t.Logf("hung node shown %s after %s", state, took.Round(time.Millisecond))
	if took > 2*time.Second {
		t.Errorf("hung node shown after %s, want within 2s", took)
	}
}

// TestFrozenHead: with four of five nodes no longer importing blocks the
// agreed head stands while the fifth goes on: a head_frozen incident
// within 3 block times, answers marked stale, /readyz failing with the
// reason; all back to fresh after.
func TestFrozenHead(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	calm(ctx, t)
	start := time.Now()
	clear := stage(t, devnet.FaultLag, "", "node1", "node2", "node3", "node4")
	inc, took := waitIncident(ctx, t, status.KindHeadFrozen, start, "node5")
	t.Logf("frozen head shown after %s: %s", took.Round(time.Millisecond), inc.Message)
	if took > 3*blockTime {
		t.Errorf("frozen head shown after %s, want within 3 block times (%s)", took, 3*blockTime)
	}
	a, err := call(ctx, "eth_blockNumber", "[]")
	if err != nil {
		t.Fatal(err)
	}
	if h := a.header.Get("X-Rpcmesh-Stale"); !strings.HasPrefix(h, "head-frozen; age=") {
		t.Errorf("X-Rpcmesh-Stale %q while the head is frozen", h)
	}
	if code, body := admin("/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "head frozen") {
		t.Errorf("/readyz %d %q while the head is frozen", code, body)
	}
	clear()
	waitEnded(ctx, t, inc.ID, time.Now())
	calm(ctx, t)
	a, err = call(ctx, "eth_blockNumber", "[]")
	if err != nil {
		t.Fatal(err)
	}
	if h := a.header.Get("X-Rpcmesh-Stale"); h != "" {
		t.Errorf("X-Rpcmesh-Stale %q with a fresh head", h)
	}
	if code, body := admin("/readyz"); code != http.StatusOK {
		t.Errorf("/readyz %d %q with a fresh head", code, body)
	}
}

// TestFlappingNodeIsOneIncident: a node alternating a second up and a
// second down makes one incident, which ends once it stays up.
func TestFlappingNodeIsOneIncident(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	calm(ctx, t)
	start := time.Now()
	clear := stage(t, devnet.FaultFlap, `{"up":"1s","down":"1s"}`, "node3")
	inc, _ := waitIncident(ctx, t, status.KindProviderDown, start, "node3")
	// The gateway sees node3 come back and go again, twice more, while
	// the incident stays open.
	changes, last := 0, status.StateDown
	waitFor(ctx, t, "node3 seen back up and down twice", func() bool {
		for _, p := range gw.Status().Chains[0].Providers {
			if up := p.Health == status.StateUp; p.Name == "node3" && up != (last == status.StateUp) {
				changes, last = changes+1, p.Health
			}
		}
		return changes >= 4
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
