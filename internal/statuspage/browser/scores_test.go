package browser_test

import (
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/rpcmesh/rpcmesh/internal/audit"
	"github.com/rpcmesh/rpcmesh/internal/statuspage"
	"github.com/rpcmesh/rpcmesh/internal/statuspage/browser"
	"github.com/rpcmesh/rpcmesh/internal/statuspage/pagetest"
)

// fakeScores is a scores endpoint a test sets: the document it serves (the
// real type, as the gateway encodes it), or an error status.
type fakeScores struct {
	mu       sync.Mutex
	doc      audit.Scores
	status   int // not 0: answer this instead
	requests atomic.Int64
}

func (f *fakeScores) set(edit func(*fakeScores)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	edit(f)
}

func (f *fakeScores) serve(ctx *fasthttp.RequestCtx) {
	f.requests.Add(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.status != 0 {
		ctx.Error("scores unavailable", f.status)
		return
	}
	b, err := json.Marshal(f.doc)
	if err != nil {
		ctx.Error(err.Error(), http.StatusInternalServerError)
		return
	}
	ctx.SetContentType("application/json")
	ctx.SetBody(b)
}

// openScores serves a page of the example source whose scores section
// reads scoresPath ("" for none), with scores at /scores.json beside it as
// the gateway's public listener has them, and opens it in a new tab,
// waiting until it is live. The page must throw no exception.
func openScores(t *testing.T, scoresPath string, scores *fakeScores) *browser.Tab {
	t.Helper()
	page := statuspage.New(pagetest.NewSource(pagetest.Example()),
		statuspage.Options{SampleInterval: 100 * time.Millisecond, PushInterval: 200 * time.Millisecond, ScoresPath: scoresPath})
	base := pagetest.ServeWith(t, page, func(ctx *fasthttp.RequestCtx) {
		if string(ctx.Path()) != "/scores.json" {
			ctx.Error("not found", http.StatusNotFound)
			return
		}
		scores.serve(ctx)
	})
	return chromium.OpenPage(t, base)
}

// exampleScores: devnet with an honest provider, a liar caught by the
// audit and by verification, and a lagging censor whose head_hash record
// the log no longer keeps; sepolia with one provider.
func exampleScores() audit.Scores {
	now := time.Now().UTC()
	win := func(p, f, u, a uint64) map[string]audit.Counts {
		c := audit.Counts{Passed: p, Failed: f, Unavailable: u, Absent: a}
		return map[string]audit.Counts{"5m": c, "1h": c, "24h": c}
	}
	return audit.Scores{Generated: now, Chains: []audit.ChainScores{
		{Name: "devnet", Providers: []audit.ProviderScore{
			{Name: "node1", Operator: "rpcmesh", Tier: "own", Cloud: "aws", Region: "us-east-1", State: "up", Score: 1.23,
				Availability: audit.Availability{Breaker: "closed", Requests: 1200, Windows: map[string]float64{"5m": 1, "1h": 1, "24h": 1}},
				LatencyMs:    audit.Latency{EWMA: 1.2, P50: 1.1, P90: 1.9, P99: 3.4},
				Penalty:      audit.Penalty{HalfLife: "10m0s", Reasons: []audit.PenaltyReason{}},
				Audit:        audit.Summary{Windows: win(10, 0, 0, 0), LastCheck: now}},
			{Name: "node5", Operator: "openrpc", Tier: "public", Cloud: "hetzner", Region: "fsn1", State: "up", Score: 61.3,
				Availability: audit.Availability{Breaker: "closed", Windows: map[string]float64{"5m": 1, "1h": 0.95, "24h": 0.99}},
				LatencyMs:    audit.Latency{EWMA: 2, P50: 2, P90: 3, P99: 4},
				Penalty: audit.Penalty{Value: 2.9, HalfLife: "10m0s", Reasons: []audit.PenaltyReason{
					{Reason: "audit", Count: 3, Evidence: []uint64{12, 15, 17}},
					{Reason: "value_mismatch", Count: 2, Evidence: []uint64{20, 21}},
				}},
				VerificationFailures: 2,
				Audit:                audit.Summary{Windows: win(4, 3, 0, 0), LastCheck: now, LastFailure: 17}},
			{Name: "node3", Operator: "homestakers", Tier: "community", State: "stalled", Score: 9.87, LagBlocks: 7,
				Availability: audit.Availability{Breaker: "closed", Windows: map[string]float64{"5m": 0.5}},
				Penalty: audit.Penalty{Value: 1.5, HalfLife: "10m0s", Reasons: []audit.PenaltyReason{
					{Reason: "censored", Count: 1, Transactions: []string{"0x" + strings.Repeat("ab", 32)}},
					{Reason: "head_hash", Count: 1},
				}},
				VerificationFailures: 1,
				Censorship:           audit.Censorship{Count: 1, Transactions: []string{"0x" + strings.Repeat("ab", 32)}},
				Audit:                audit.Summary{Windows: map[string]audit.Counts{"5m": {Passed: 2, Unavailable: 2}, "1h": {}, "24h": {}}}},
		}},
		{Name: "sepolia", Providers: []audit.ProviderScore{
			{Name: "s1", Operator: "rpcmesh", Tier: "own", State: "up", Score: 3,
				Penalty: audit.Penalty{HalfLife: "10m0s", Reasons: []audit.PenaltyReason{}}},
		}},
	}}
}

// TestScoresRender: the scores section shows every chain and provider with
// its score, availability per window (shortest first), latency quantiles,
// lag, verification failures, censored transactions, audit checks per
// window, and each penalty reason with its count and evidence record IDs.
func TestScoresRender(t *testing.T) {
	scores := &fakeScores{doc: exampleScores()}
	tab := openScores(t, "/scores.json", scores)
	tab.Wait(t, 5*time.Second, "the scores of 4 providers", `document.querySelectorAll('#scores tr[data-score-provider]').length === 4`)

	if got := browser.Eval[[]string](t, tab, `[...document.querySelectorAll('#scores [data-scores-chain]')].map((c) => c.dataset.scoresChain)`); !reflect.DeepEqual(got, []string{"devnet", "sepolia"}) {
		t.Errorf("chains %q", got)
	}
	row := func(name string) string {
		return `document.querySelector('#scores [data-scores-chain="devnet"] tr[data-score-provider="` + name + `"]')`
	}
	for js, want := range map[string]string{
		row("node1") + `.querySelector('[data-score]').textContent`:                      "1.23",
		row("node5") + `.querySelector('[data-score]').textContent`:                      "61.3",
		row("node1") + `.querySelector('.reason').textContent`:                           "rpcmesh · own · aws / us-east-1",
		row("node1") + `.querySelector('.latency').firstChild.textContent`:               "1.1 ms / 1.9 ms / 3.4 ms",
		row("node3") + `.querySelector('.lag').textContent`:                              "7 blocks",
		row("node1") + `.querySelector('.lag').textContent`:                              "0",
		row("node5") + `.querySelector('.verification').textContent`:                     "2 failed",
		row("node1") + `.querySelector('.verification').textContent`:                     "clean",
		row("node3") + `.querySelector('.censored').textContent`:                         "1",
		row("node5") + `.querySelector('.audit [data-window="5m"]').textContent`:         "5m 4 passed, 3 failed",
		row("node3") + `.querySelector('.audit [data-window="1h"]').textContent`:         "1h no checks",
		row("node3") + `.querySelector('.audit [data-window="5m"]').textContent`:         "5m 2 passed, 2 unavailable",
		row("node5") + `.querySelector('.audit [data-evidence]').dataset.evidence`:       "17",
		row("node5") + `.querySelector('.penalty .pen').textContent`:                     "2.90 (half-life 10m0s)",
		row("node1") + `.querySelector('.penalty .pen').textContent`:                     "none (half-life 10m0s)",
		row("node5") + `.querySelector('[data-reason="audit"]').textContent`:             "audit × 3: evidence #12#15#17",
		row("node5") + `.querySelector('[data-reason="value_mismatch"]').textContent`:    "value mismatch × 2: evidence #20#21",
		row("node3") + `.querySelector('[data-reason="head_hash"]').textContent`:         "head hash × 1 (no record kept)",
		row("node3") + `.querySelector('[data-reason="censored"] [data-tx]').dataset.tx`: "0x" + strings.Repeat("ab", 32),
		row("node3") + `.querySelector('[data-evidence]') === null ? "none" : "some"`:    "none",
		`document.querySelector('#scores .scores-state').dataset.state`:                  "ok",
	} {
		if got := browser.Eval[string](t, tab, js); got != want {
			t.Errorf("%s = %q, want %q", js, got, want)
		}
	}
	if got := browser.Eval[[]string](t, tab, `[...`+row("node5")+`.querySelectorAll('.avail [data-window]')].map((d) => d.textContent)`); !reflect.DeepEqual(got, []string{"5m 100 %", "1h 95 %", "24h 99 %"}) {
		t.Errorf("node5's availability %q, want 5m, 1h, 24h in order", got)
	}
	// Every evidence ID says where its record is read.
	title := browser.Eval[string](t, tab, row("node5")+`.querySelector('[data-reason="audit"] [data-evidence="15"]').title`)
	if !strings.Contains(title, "GET /verify/evidence?id=15") || !strings.Contains(title, "admin listener") {
		t.Errorf("evidence 15's title %q does not say where to read it", title)
	}
}

// TestScoresRefresh: the section follows the endpoint: an endpoint that
// fails is said to, the last scores stay, and a new penalty with its
// evidence shows at the next refresh (every 5 s).
func TestScoresRefresh(t *testing.T) {
	scores := &fakeScores{doc: exampleScores()}
	tab := openScores(t, "/scores.json", scores)
	tab.Wait(t, 5*time.Second, "the scores", `document.querySelectorAll('#scores tr[data-score-provider]').length === 4`)

	scores.set(func(f *fakeScores) { f.status = http.StatusServiceUnavailable })
	tab.Wait(t, 8*time.Second, "the failure said", `document.querySelector('#scores .scores-state').dataset.state === "error"`)
	if got := browser.Eval[string](t, tab, `document.querySelector('#scores .scores-state').textContent`); got != "scores unavailable (HTTP 503); showing the last ones" {
		t.Errorf("state line %q", got)
	}
	if n := browser.Eval[int](t, tab, `document.querySelectorAll('#scores tr[data-score-provider]').length`); n != 4 {
		t.Errorf("%d providers shown after a failed refresh, want the last 4", n)
	}

	scores.set(func(f *fakeScores) {
		f.status = 0
		p := &f.doc.Chains[0].Providers[0]
		p.Penalty.Value = 1
		p.Penalty.Reasons = []audit.PenaltyReason{{Reason: "bad_proof", Count: 1, Evidence: []uint64{42}}}
	})
	sel := `document.querySelector('#scores tr[data-score-provider="node1"] [data-reason="bad_proof"] [data-evidence="42"]')`
	tab.Wait(t, 8*time.Second, "node1's new penalty and its evidence", sel+` !== null`)
	if got := browser.Eval[string](t, tab, `document.querySelector('#scores .scores-state').dataset.state`); got != "ok" {
		t.Errorf("state %q after the endpoint recovered", got)
	}
}

// TestScoresNone: a page told no scores path has no scores section and
// asks for none.
func TestScoresNone(t *testing.T) {
	scores := &fakeScores{doc: exampleScores()}
	tab := openScores(t, "", scores)
	if !browser.Eval[bool](t, tab, `document.getElementById("scores").hidden && document.getElementById("scores").childElementCount === 0`) {
		t.Error("a scores section without a scores path")
	}
	if n := scores.requests.Load(); n != 0 {
		t.Errorf("%d requests for scores without a scores path", n)
	}
}
