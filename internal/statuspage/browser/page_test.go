package browser_test

import (
	"flag"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/status"
	"github.com/rpcmesh/rpcmesh/internal/statuspage"
	"github.com/rpcmesh/rpcmesh/internal/statuspage/browser"
	"github.com/rpcmesh/rpcmesh/internal/statuspage/pagetest"
)

var chromium *browser.Browser

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(browser.Main(m, func(b *browser.Browser) int {
		chromium = b
		return m.Run()
	}))
}

// open serves a page of src (samples every 100 ms, pushes every 200 ms)
// and opens it in a new tab, waiting until it is live.
func open(t *testing.T, src *pagetest.Source) *browser.Tab {
	t.Helper()
	page := statuspage.New(src, statuspage.Options{SampleInterval: 100 * time.Millisecond, PushInterval: 200 * time.Millisecond})
	base := pagetest.Serve(t, page)
	return chromium.OpenPage(t, base)
}

// TestPageLoads: the page shows each chain's head, every operator with its
// state in one word and its reason, clouds and regions, and the summary.
func TestPageLoads(t *testing.T) {
	tab := open(t, pagetest.NewSource(pagetest.Example()))
	tab.Wait(t, 5*time.Second, "the provider table", `document.querySelectorAll('[data-chain="devnet"] tr[data-provider]').length === 5`)
	for js, want := range map[string]string{
		`document.querySelector('[data-chain="devnet"] [data-head]').textContent`:          "#4,711",
		`document.querySelector('tr[data-provider="node2"]').dataset.state`:                "down",
		`document.querySelector('tr[data-provider="node2"] .reason').textContent`:          "unreachable or failing: circuit breaker open",
		`document.querySelector('tr[data-provider="node4"] .state').textContent`:           "lagging",
		`document.querySelector('tr[data-provider="node5"] td:nth-child(10)').textContent`: "3 failed (penalty 0.80)",
		`document.querySelector('[data-cloud="aws"]').dataset.health`:                      "partial",
		`document.querySelector('[data-cloud="gcp"]').dataset.health`:                      "up",
		`document.querySelector('[data-cloud="aws"] .region').textContent.trim()`:          "eu-west-1",
		`document.getElementById("summary").textContent`:                                   "All systems operational",
		`document.getElementById("no-incidents").hidden ? "hidden" : "shown"`:              "shown",
		`document.querySelector('tr[data-provider="node1"] td:nth-child(9)').textContent`:  "31 %",
		`document.querySelector('[data-chain="devnet"] .chain-head .muted').textContent`:   "chain ID 1337",
	} {
		if got := browser.Eval[string](t, tab, js); got != want {
			t.Errorf("%s = %q, want %q", js, got, want)
		}
	}
}

// TestChartsRender: uPlot draws the four charts of a chain from the
// history, with the samples taken so far, on canvases that hold drawn
// pixels; they grow as samples come.
func TestChartsRender(t *testing.T) {
	src := pagetest.NewSource(pagetest.Example())
	src.Vary = pagetest.Wobble
	tab := open(t, src)
	tab.Wait(t, 10*time.Second, "four charts with 3 samples or more", `(() => {
		const p = window.statusCharts.points().devnet || {};
		return ["cloud", "operator", "latency", "errors"].every((k) => p[k] >= 3);
	})()`)
	if n := browser.Eval[int](t, tab, `document.querySelectorAll('[data-chain="devnet"] .chart .uplot canvas').length`); n != 4 {
		t.Errorf("%d uPlot canvases, want 4", n)
	}
	// Drawn: each canvas has some non-transparent pixels (lines, axes).
	inked := browser.Eval[[]int](t, tab, `[...document.querySelectorAll('[data-chain="devnet"] .chart .uplot canvas')].map((c) => {
		const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
		let n = 0;
		for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++;
		return n;
	})`)
	for i, n := range inked {
		if n < 500 {
			t.Errorf("chart %d has %d drawn pixels: nothing drawn", i, n)
		}
	}
	legend := browser.Eval[string](t, tab, `document.querySelector('[data-chart="cloud"] .u-legend').textContent`)
	for _, cloud := range []string{"aws", "gcp", "hetzner", "home"} {
		if !strings.Contains(legend, cloud) {
			t.Errorf("the cloud chart's legend %q lacks %s", legend, cloud)
		}
	}
	before := browser.Eval[int](t, tab, `window.statusCharts.points().devnet.latency`)
	tab.Wait(t, 5*time.Second, "more samples", `window.statusCharts.points().devnet.latency > `+strconv.Itoa(before))
}

// TestIncidentLive: an incident the source publishes shows in the timeline
// within 3 s, live, and its end within 3 s.
func TestIncidentLive(t *testing.T) {
	src := pagetest.NewSource(pagetest.Example())
	tab := open(t, src)
	start := time.Now().UTC().Add(-time.Minute)
	inc := status.Incident{ID: "inc-aws-1", Kind: status.KindCloudOutage, Chain: "devnet",
		Severity: status.SeverityMajor, Impact: status.ImpactNone,
		Providers: []string{"node1", "node2"}, Operators: []string{"rpcmesh", "blocklabs"},
		Clouds: []string{"aws"}, Regions: []string{"us-east-1", "eu-west-1"}, Start: start, Updated: start,
		Message: "devnet: 2 of 5 operators (both on aws) unreachable since " + start.Format("15:04") +
			" UTC; requests are served by the other 3; no failed requests"}
	src.Publish(status.Event{Type: status.EventOpened, Incident: inc})
	sel := `document.querySelector('li[data-incident-id="inc-aws-1"]')`
	tab.Wait(t, 3*time.Second, "the open incident", sel+`?.dataset.state === "open" && `+sel+`.dataset.kind === "cloud_outage"`)
	if got := browser.Eval[string](t, tab, sel+`.querySelector(".msg").textContent`); got != inc.Message {
		t.Errorf("incident message %q, want %q", got, inc.Message)
	}
	if got := browser.Eval[string](t, tab, `document.getElementById("summary").dataset.level`); got != "major" {
		t.Errorf("summary level %q with a major incident open", got)
	}

	inc.Updates = []status.Update{{At: time.Now().UTC(), Severity: status.SeverityMajor, Impact: status.ImpactSlowed, Message: "answers slowed"}}
	inc.Impact = status.ImpactSlowed
	src.Publish(status.Event{Type: status.EventUpdated, Incident: inc})
	tab.Wait(t, 3*time.Second, "the update", sel+`?.querySelector("details")?.textContent.includes("answers slowed")`)

	inc.End = time.Now().UTC()
	src.Publish(status.Event{Type: status.EventClosed, Incident: inc})
	tab.Wait(t, 3*time.Second, "the incident's end", sel+`?.dataset.state === "ended"`)
	tab.Wait(t, 3*time.Second, "the summary back to operational", `document.getElementById("summary").dataset.level === "ok"`)
}
