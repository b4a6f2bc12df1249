package admissione2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/config"
	"github.com/rpcmesh/rpcmesh/internal/devnet"
	"github.com/rpcmesh/rpcmesh/internal/testwait"
)

// probationOp is node4's operator: a proven answer of the provider on
// probation names it in X-Rpcmesh-Verified.
const probationOp = "homestakers"

// withProbation puts node4, behind c, on probation in the gateway's config.
func withProbation(t *testing.T, c *counter, share float64, edit func(*config.Config)) func(*config.Config) {
	return func(cfg *config.Config) {
		cfg.Chains[0].Providers = append(cfg.Chains[0].Providers, nodeEntry(t, "node4", c.URL(), config.StageProbation))
		cfg.Admission.ProbationShare = share
		cfg.Admission.PromoteAfter = config.Duration(time.Hour)
		if edit != nil {
			edit(cfg)
		}
	}
}

// TestProbationVerifiedAndCapped: over a run of proven reads, every answer
// the provider on probation gave (counted at the provider) is one the
// gateway verified by proof and reported as its, and its share of the
// chain's attempts stays under its cap.
func TestProbationVerifiedAndCapped(t *testing.T) {
	const calls, limit = 300, 0.1
	c := countingProxy(t, "node4")
	g := startGateway(t, withProbation(t, c, limit, nil))
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	verifiedByIt := 0
	for i := range calls {
		verified, err := g.balanceOfNew(ctx)
		if err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
		if strings.Contains(verified, probationOp) {
			if !strings.HasPrefix(verified, "proof") {
				t.Errorf("call %d: an answer of the provider on probation reported as %q, want proof", i, verified)
			}
			verifiedByIt++
		}
	}
	served := c.answered("eth_getProof")
	t.Logf("%d calls: the provider on probation answered %d eth_getProof, %d client answers verified as its", calls, served, verifiedByIt)
	if served == 0 {
		t.Fatal("the provider on probation answered no call: its share should give it some")
	}
	if served != verifiedByIt {
		t.Errorf("the provider answered %d proofs, but %d answers were verified as its: every answer must be verified", served, verifiedByIt)
	}
	for _, m := range []string{"eth_getBalance", "eth_call", "eth_sendRawTransaction"} {
		if n := c.answered(m); n > 0 {
			t.Errorf("the provider on probation answered %d %s calls: only proven reads may reach it", n, m)
		}
	}
	attempts := g.gw.Status().Chains[0].WindowAttempts
	if share := float64(served) / float64(attempts); share > limit {
		t.Errorf("its share of the chain's %d attempts is %.3f, over its cap %.2f", attempts, share, limit)
	}
	doc, _ := g.providers(t)
	for _, p := range doc.Chains[0].Providers {
		if p.Name == "node4" && (p.Stage != config.StageProbation || p.Share > limit) {
			t.Errorf("GET /providers: node4 %+v, want on probation, share at most %.2f", p, limit)
		}
	}
}

// TestLiarDemotedOnFirstLie: a provider on probation whose proofs lie is
// taken out on its first lie, the transition linking that evidence
// record; no client call fails, and it gets no call afterwards.
func TestLiarDemotedOnFirstLie(t *testing.T) {
	c := countingProxy(t, "node4")
	g := startGateway(t, withProbation(t, c, 0.5, nil))
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	dn.Stage(t, devnet.FaultSpec{Target: "node4", Kind: devnet.FaultLie, Params: json.RawMessage(`{"what":["proof"]}`)})

	if err := testwait.Until(ctx, "node4 demoted", func() bool {
		if _, err := g.balanceOfNew(ctx); err != nil {
			t.Fatalf("a client call failed: %v", err) // the lie is caught, the call retried elsewhere
		}
		return g.stage(t, "node4") == config.StageCandidate
	}); err != nil {
		t.Fatal(err)
	}
	doc, _ := g.providers(t)
	var first uint64
	status, body := g.adminDo(t, http.MethodGet, "/verify/evidence?limit=1000", "", "")
	var ev struct {
		Evidence []struct {
			ID       uint64 `json:"id"`
			Provider string `json:"provider"`
		} `json:"evidence"`
	}
	if status != http.StatusOK || json.Unmarshal([]byte(body), &ev) != nil {
		t.Fatalf("GET /verify/evidence: %d %s", status, body)
	}
	for _, e := range ev.Evidence { // newest first: the last of node4's is its first
		if e.Provider == "node4" {
			first = e.ID
		}
	}
	found := false
	for _, tr := range doc.Chains[0].Transitions {
		if tr.Provider != "node4" || tr.To != config.StageCandidate {
			continue
		}
		found = true
		if tr.From != config.StageProbation || !strings.Contains(tr.Reason, "proven lie") || len(tr.Evidence) == 0 {
			t.Fatalf("transition %+v: want probation to candidate for a proven lie, with evidence", tr)
		}
		if tr.Evidence[0].ID != first || tr.Evidence[0].Provider != "node4" {
			t.Errorf("transition links evidence #%d (%+v), want node4's first record, #%d", tr.Evidence[0].ID, tr.Evidence[0], first)
		}
	}
	if !found {
		t.Fatalf("no transition of node4 to candidate in %+v", doc.Chains[0].Transitions)
	}
	before := c.answered("eth_getProof")
	for i := range 60 {
		if _, err := g.balanceOfNew(ctx); err != nil {
			t.Fatalf("call %d after the demotion: %v", i, err)
		}
	}
	if after := c.answered("eth_getProof"); after != before {
		t.Errorf("the demoted provider answered %d more proofs, want none", after-before)
	}
}

// TestDemotedOnSustainedFailure: a provider on probation that goes down
// is taken back to candidate once it has been down for most of the
// availability window; clients see no failure.
func TestDemotedOnSustainedFailure(t *testing.T) {
	c := countingProxy(t, "node4")
	g := startGateway(t, withProbation(t, c, 0.5, func(cfg *config.Config) {
		cfg.Admission.AvailabilityWindow = config.Duration(time.Second)
		cfg.Admission.MinAvailability = 0.9
	}))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	testwait.For(t, 30*time.Second, "node4 serving", func() bool {
		if _, err := g.balanceOfNew(ctx); err != nil {
			t.Fatalf("a client call failed: %v", err)
		}
		return c.answered("eth_getProof") > 0
	})
	dn.Stage(t, devnet.FaultSpec{Target: "node4", Kind: devnet.FaultDown})
	if err := testwait.Until(ctx, "node4 demoted", func() bool {
		if _, err := g.balanceOfNew(ctx); err != nil {
			t.Fatalf("a client call failed: %v", err) // retried elsewhere
		}
		return g.stage(t, "node4") == config.StageCandidate
	}); err != nil {
		t.Fatal(err)
	}
	doc, _ := g.providers(t)
	if tr := doc.Chains[0].Transitions[0]; tr.Provider != "node4" || tr.From != config.StageProbation || !strings.Contains(tr.Reason, "sustained failure") || len(tr.Evidence) != 0 {
		t.Errorf("newest transition %+v, want node4 demoted for sustained failure", tr)
	}
}

// TestPromotedAfterProbation: an honest provider on probation is admitted
// once its period passed with enough verified answers.
func TestPromotedAfterProbation(t *testing.T) {
	c := countingProxy(t, "node4")
	g := startGateway(t, withProbation(t, c, 0.5, func(cfg *config.Config) {
		cfg.Admission.PromoteAfter = config.Duration(2 * time.Second)
		cfg.Admission.PromoteAnswers = 20
	}))
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if err := testwait.Until(ctx, "node4 admitted", func() bool {
		if _, err := g.balanceOfNew(ctx); err != nil {
			t.Fatalf("a client call failed: %v", err)
		}
		return g.stage(t, "node4") == config.StageAdmitted
	}); err != nil {
		t.Fatal(err)
	}
	doc, _ := g.providers(t)
	trs := doc.Chains[0].Transitions
	if len(trs) != 2 {
		t.Fatalf("transitions %+v, want node4 joined on probation, then promoted", trs)
	}
	joined, promoted := trs[1], trs[0]
	if promoted.Provider != "node4" || promoted.From != config.StageProbation || promoted.To != config.StageAdmitted || !strings.Contains(promoted.Reason, "probation passed") {
		t.Errorf("newest transition %+v, want node4 promoted after its probation", promoted)
	}
	if d := promoted.Time.Sub(joined.Time); joined.To != config.StageProbation || d < 2*time.Second {
		t.Errorf("promoted %s after %+v, want at least its 2s probation", d, joined)
	}
	if n := c.answered("eth_getProof"); n < 20 {
		t.Errorf("promoted after %d proofs, want at least 20 verified", n)
	}
}

// TestRunTimeProviders adds and removes a provider through the admin API
// while clients call: no client call fails, the provider added serves
// (verified calls, on probation), the one removed gets no call after its
// removal, and its URL's secret never shows.
func TestRunTimeProviders(t *testing.T) {
	const token = "t0ken-for-tests"
	g := startGateway(t, func(cfg *config.Config) {
		cfg.Admission.Token = token
		cfg.Admission.ProbationShare = 0.3
	})
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()

	var stop atomic.Bool
	var wg sync.WaitGroup
	var calls, failed atomic.Int64
	for w := range 4 {
		wg.Go(func() {
			for i := 0; !stop.Load() && ctx.Err() == nil; i++ {
				var err error
				switch (w + i) % 3 {
				case 0:
					_, err = g.balanceOfNew(ctx)
				case 1:
					_, _, err = g.call(ctx, "eth_blockNumber", "[]")
				default:
					_, _, err = g.call(ctx, "eth_getBlockByNumber", `["latest",false]`)
				}
				calls.Add(1)
				if err != nil {
					failed.Add(1)
					t.Errorf("client call failed: %v", err)
				}
			}
		})
	}
	for round := range 2 {
		c := countingProxy(t, "node5")
		entry, _ := json.Marshal(map[string]any{"name": "node5", "http": c.URL(), "labels": map[string]string{"operator": "openrpc", "tier": "public"}})
		status, body := g.adminDo(t, http.MethodPost, "/providers", token, string(entry))
		if status != http.StatusCreated {
			t.Fatalf("round %d: POST /providers: %d %s", round, status, body)
		}
		if g.stage(t, "node5") != config.StageProbation {
			t.Fatalf("round %d: node5 added as %q, want probation", round, g.stage(t, "node5"))
		}
		testwait.For(t, 30*time.Second, "node5 served a client call", func() bool { return c.answered("eth_getProof") > 0 })
		if _, list := g.providers(t); strings.Contains(list, "SECRETKEY") {
			t.Fatalf("GET /providers shows the URL's secret path: %s", list)
		}
		status, body = g.adminDo(t, http.MethodDelete, "/providers/devnet/node5", token, "")
		if status != http.StatusOK {
			t.Fatalf("round %d: DELETE: %d %s", round, status, body)
		}
		// Removed and drained: once the calls in flight at the removal are
		// back, no call reaches it any more, health checks included.
		testwait.For(t, 10*time.Second, "node5's proxy idle", func() bool { return c.inflight.Load() == 0 })
		after := c.total()
		n := calls.Load()
		testwait.For(t, 30*time.Second, "50 more client calls", func() bool { return calls.Load() >= n+50 })
		if got := c.total(); got != after {
			t.Errorf("round %d: node5 answered %d calls after its removal, want none", round, got-after)
		}
		if g.stage(t, "node5") != "" {
			t.Errorf("round %d: node5 still listed after its removal", round)
		}
	}
	stop.Store(true)
	wg.Wait()
	t.Logf("%d client calls while a provider was added and removed twice, %d failed", calls.Load(), failed.Load())
	doc, _ := g.providers(t)
	var kinds []string
	for _, tr := range doc.Chains[0].Transitions {
		kinds = append(kinds, fmt.Sprintf("%s:%s", tr.Provider, tr.To))
	}
	if want := "node5:removed node5:probation node5:removed node5:probation"; strings.Join(kinds, " ") != want {
		t.Errorf("transitions %v, want %s (newest first)", kinds, want)
	}
}

// TestAdminAuth: the mutating routes need the configured token; without
// one configured they are off; GET /providers is open.
func TestAdminAuth(t *testing.T) {
	const token = "right-token"
	on := startGateway(t, func(cfg *config.Config) { cfg.Admission.Token = token })
	off := startGateway(t, nil)
	entry := func(name string) string {
		b, _ := json.Marshal(map[string]any{"name": name, "http": "http://127.0.0.1:1/", "stage": "candidate"})
		return string(b)
	}
	cases := []struct {
		name           string
		g              *gateway
		method, path   string
		token, body    string
		status         int
		wantInResponse string
	}{
		{"no token configured: add off", off, http.MethodPost, "/providers", token, entry("x"), http.StatusForbidden, "admission.token"},
		{"no token configured: remove off", off, http.MethodDelete, "/providers/devnet/node1", token, "", http.StatusForbidden, "off"},
		{"no token given", on, http.MethodPost, "/providers", "", entry("x"), http.StatusUnauthorized, "token is required"},
		{"wrong token", on, http.MethodPost, "/providers", "wrong-token", entry("x"), http.StatusUnauthorized, "token is required"},
		{"wrong token, remove", on, http.MethodDelete, "/providers/devnet/node1", "right-token-", "", http.StatusUnauthorized, "token is required"},
		{"right token, not JSON", on, http.MethodPost, "/providers", token, "{", http.StatusBadRequest, "bad provider entry"},
		{"right token, unknown key", on, http.MethodPost, "/providers", token, `{"name":"x","htp":"http://127.0.0.1:1"}`, http.StatusBadRequest, `did you mean "http"`},
		{"right token, admitted at once", on, http.MethodPost, "/providers", token, `{"name":"x","http":"http://127.0.0.1:1","stage":"admitted"}`, http.StatusBadRequest, "candidate or probation"},
		{"right token, same name", on, http.MethodPost, "/providers", token, entry("node1"), http.StatusBadRequest, "also the name"},
		{"right token, unknown chain", on, http.MethodPost, "/providers/nochain", token, entry("x"), http.StatusNotFound, "no chain"},
		{"right token", on, http.MethodPost, "/providers/devnet", token, entry("x"), http.StatusCreated, `"stage": "candidate"`},
		{"right token, remove unknown", on, http.MethodDelete, "/providers/devnet/nobody", token, "", http.StatusNotFound, "no provider"},
		{"wrong token, stage", on, http.MethodPost, "/providers/devnet/x/stage", "nope", `{"stage":"probation"}`, http.StatusUnauthorized, "token is required"},
		{"right token, bad stage", on, http.MethodPost, "/providers/devnet/x/stage", token, `{"stage":"vip"}`, http.StatusBadRequest, "not one of"},
		{"right token, stage body", on, http.MethodPost, "/providers/devnet/x/stage", token, `{"stag":"probation"}`, http.StatusBadRequest, "the body must be"},
		{"right token, stage", on, http.MethodPost, "/providers/devnet/x/stage", token, `{"stage":"probation","reason":"vetted"}`, http.StatusOK, `"stage": "probation"`},
		{"right token, demote an admitted one", on, http.MethodPost, "/providers/devnet/node1/stage", token, `{"stage":"candidate"}`, http.StatusOK, `"stage": "candidate"`},
		{"right token, remove", on, http.MethodDelete, "/providers/devnet/x", token, "", http.StatusOK, `"removed": "x"`},
		{"list needs no token", on, http.MethodGet, "/providers", "", "", http.StatusOK, `"node1"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, body := tc.g.adminDo(t, tc.method, tc.path, tc.token, tc.body)
			if status != tc.status || !strings.Contains(body, tc.wantInResponse) {
				t.Fatalf("%s %s: %d %q, want %d with %q", tc.method, tc.path, status, body, tc.status, tc.wantInResponse)
			}
		})
	}
}
