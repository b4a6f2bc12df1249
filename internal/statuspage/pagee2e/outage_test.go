package pagee2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/devnet"
	"github.com/rpcmesh/rpcmesh/internal/status"
	"github.com/rpcmesh/rpcmesh/internal/statuspage/browser"
)

// incidentsDetected says whether this build's gateway detects incidents
// (internal/incident, issue 16). Until it does, the page is checked for the
// outage's provider states, and for its incident only when the gateway
// reports one; set it true once detection is merged, so that a missing
// cloud_outage incident fails the test.
const incidentsDetected = false

// TestCloudOutageOnThePage: the page in a real Chromium shows a devnet
// cloud outage (fault "down" on cloud=aws: node1 and node2) as it happens:
// both providers down and the aws cloud down; the cloud_outage incident
// within 3 s of the gateway reporting it; after recovery, the providers up
// again and the incident ended within 3 s of the gateway ending it.
func TestCloudOutageOnThePage(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	tab := chromium.Tab(t, 1280, 1000)
	tab.Open(t, base+"/status")
	tab.Wait(t, 10*time.Second, "the live stream", `document.getElementById("live").dataset.live === "live"`)
	allUp := `(() => {
		const rows = [...document.querySelectorAll('[data-chain="devnet"] tr[data-provider]')];
		return rows.length === 5 && rows.every((r) => r.dataset.state === "up");
	})()`
	tab.Wait(t, 30*time.Second, "every provider up", allUp)

	f, err := dn.SetFault(ctx, devnet.FaultSpec{Target: "cloud=aws", Kind: "down"})
	if err != nil {
		t.Fatal(err)
	}
	staged := time.Now()
	cleared := false
	t.Cleanup(func() {
		if !cleared {
			_ = dn.ClearFault(f.ID)
		}
	})
	tab.Wait(t, 20*time.Second, "node1 and node2 down, the aws cloud down", `
		document.querySelector('tr[data-provider="node1"]').dataset.state === "down" &&
		document.querySelector('tr[data-provider="node2"]').dataset.state === "down" &&
		document.querySelector('[data-cloud="aws"]').dataset.health === "down" &&
		document.querySelector('[data-cloud="gcp"]').dataset.health === "up"`)
	t.Logf("providers down on the page %v after the fault", time.Since(staged).Round(time.Millisecond))
	if got := browser.Eval[string](t, tab, `document.querySelector('tr[data-provider="node1"] .reason').textContent`); got == "" {
		t.Error("node1 is down without a reason on the page")
	}

	inc, reported := waitIncident(ctx, t, func(i status.Incident) bool {
		return i.Kind == status.KindCloudOutage && i.Open() && strings.Contains(strings.Join(i.Clouds, ","), "aws")
	}, 30*time.Second)
	sel := fmt.Sprintf(`document.querySelector('li[data-incident-id=%q]')`, inc.ID)
	switch {
	case reported:
		tab.Wait(t, 3*time.Second, "the cloud outage incident on the page", sel+`?.dataset.state === "open" && `+sel+`.dataset.kind === "cloud_outage"`)
	case incidentsDetected:
		t.Fatal("the gateway reported no open cloud_outage incident for aws within 30 s of the outage")
	default:
		t.Log("no cloud_outage incident reported: incident detection is not in this build (incidentsDetected)")
	}

	if err := dn.ClearFault(f.ID); err != nil {
		t.Fatal(err)
	}
	cleared = true
	tab.Wait(t, 60*time.Second, "every provider up again", allUp)
	if reported {
		if _, ended := waitIncident(ctx, t, func(i status.Incident) bool { return i.ID == inc.ID && !i.Open() }, 60*time.Second); !ended {
			t.Fatal("the gateway did not end the cloud outage incident within 60 s of recovery")
		}
		tab.Wait(t, 3*time.Second, "the incident's end on the page", sel+`?.dataset.state === "ended"`)
	}
	if ex := tab.Exceptions(); len(ex) > 0 {
		t.Errorf("the page threw: %q", ex)
	}
}

// waitIncident polls /status.json (what the page reads) until an incident
// satisfies match, at most d; it reports whether one did.
func waitIncident(ctx context.Context, t *testing.T, match func(status.Incident) bool, d time.Duration) (status.Incident, bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		snap, err := snapshot(ctx)
		if err == nil {
			for _, i := range snap.Incidents {
				if match(i) {
					return i, true
				}
			}
		}
		select {
		case <-ctx.Done():
			return status.Incident{}, false
		case <-tick.C:
		}
	}
}

// snapshot fetches /status.json from the gateway.
func snapshot(ctx context.Context) (status.Snapshot, error) {
	var snap status.Snapshot
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/status.json", nil)
	if err != nil {
		return snap, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return snap, err
	}
	defer resp.Body.Close()
	return snap, json.NewDecoder(resp.Body).Decode(&snap)
}
