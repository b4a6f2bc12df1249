package pagee2e

import (
	"os"
	"slices"
	"testing"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/devnet"
	"github.com/rpcmesh/rpcmesh/internal/status"
	"github.com/rpcmesh/rpcmesh/internal/statuspage/browser"
)

// bar is the issue's: a staged cloud outage shows on the page as an
// incident within 3 s, and its end within 3 s of recovery.
const bar = 3 * time.Second

// awsOutage finds the page's open cloud_outage incident that names aws.
const awsOutage = `[...document.querySelectorAll('li.incident[data-kind="cloud_outage"][data-state="open"]')]
	.find((li) => li.querySelector(".affected").textContent.split(" · ").includes("clouds: aws"))`

// TestCloudOutageOnThePage: the page in a real Chromium shows a devnet
// cloud outage (fault "down" on cloud=aws: node1 and node2) as it happens:
// the cloud_outage incident within 3 s of staging the fault (the gateway's
// own event for it too), both providers down and the aws cloud down;
// after recovery the incident's end within 3 s and every provider up
// again.
func TestCloudOutageOnThePage(t *testing.T) {
	tab := openPage(t)
	if *screenshot != "" {
		// A picture whose charts show some history before the outage.
		tab.Wait(t, 90*time.Second, "charts with 45 samples", `(window.statusCharts.points().devnet || {}).errors >= 45`)
	}
	events := watchEvents(t)
	clear := stage(t, devnet.FaultDown, "", "cloud=aws")
	staged := time.Now()
	t.Logf("staged at %s", staged.Format("15:04:05.000"))

	tab.Wait(t, time.Until(staged.Add(bar)), "the cloud outage incident on the page within 3 s of staging", awsOutage+` !== undefined`)
	shown := time.Since(staged)
	id := browser.Eval[string](t, tab, awsOutage+`.dataset.incidentId`)
	opened := events.wait(t, time.Second, "the incident opened", func(ev status.Event) bool {
		return ev.Type == status.EventOpened && ev.Incident.ID == id
	})
	if inc := opened.ev.Incident; inc.Kind != status.KindCloudOutage || !slices.Equal(inc.Providers, []string{"node1", "node2"}) {
		t.Errorf("the gateway opened %s naming %v, want cloud_outage naming node1 and node2", inc.Kind, inc.Providers)
	}
	if got := browser.Eval[string](t, tab, incidentSel(id)+`.querySelector(".msg").textContent`); got != opened.ev.Incident.Message {
		t.Errorf("the page says %q, the gateway's event %q", got, opened.ev.Incident.Message)
	}
	tab.Wait(t, 2*time.Second, "node1 and node2 down, the aws cloud down", rowSel("node1")+`.dataset.state === "down" && `+
		rowSel("node2")+`.dataset.state === "down" && `+
		`document.querySelector('[data-cloud="aws"]').dataset.health === "down" && `+
		`document.querySelector('[data-cloud="gcp"]').dataset.health === "up"`)
	if got := browser.Eval[string](t, tab, rowSel("node1")+`.querySelector(".reason").textContent`); got == "" {
		t.Error("node1 is down without a reason on the page")
	}
	if *screenshot != "" {
		// A few samples into the outage, so that the charts show it too.
		tab.Wait(t, 30*time.Second, "charts with the outage in them", `window.statusCharts.points().devnet.errors >= 55`)
		if err := os.WriteFile(*screenshot, tab.Screenshot(t), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	clear()
	recovered := time.Now()
	t.Logf("recovered at %s", recovered.Format("15:04:05.000"))
	tab.Wait(t, time.Until(recovered.Add(bar)), "the incident's end on the page within 3 s of recovery", incidentSel(id)+`?.dataset.state === "ended"`)
	endShown := time.Since(recovered)
	closed := events.wait(t, time.Second, "the incident closed", func(ev status.Event) bool {
		return ev.Type == status.EventClosed && ev.Incident.ID == id
	})
	// The operator that carried the traffic is down, not concentrating it
	// (the routing window still holds its share for a while).
	events.mu.Lock()
	for _, te := range events.seen {
		if i := te.ev.Incident; i.Kind == status.KindConcentration && slices.ContainsFunc(i.Providers, func(p string) bool { return p == "node1" || p == "node2" }) {
			t.Errorf("a concentration incident on a provider of the outage: %s", i.Message)
		}
	}
	events.mu.Unlock()
	t.Logf("cloud outage: gateway opened the incident %s after staging, the page showed it %s after staging (%s after the gateway)",
		opened.at.Sub(staged).Round(time.Millisecond), shown.Round(time.Millisecond), staged.Add(shown).Sub(opened.at).Round(time.Millisecond))
	t.Logf("recovery: gateway closed the incident %s after recovery, the page showed its end %s after recovery (%s after the gateway)",
		closed.at.Sub(recovered).Round(time.Millisecond), endShown.Round(time.Millisecond), recovered.Add(endShown).Sub(closed.at).Round(time.Millisecond))
	tab.Wait(t, 30*time.Second, "every provider up again", allUp)
}
