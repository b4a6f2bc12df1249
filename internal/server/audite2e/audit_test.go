package audite2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/rpcmesh/rpcmesh/internal/audit"
	"github.com/rpcmesh/rpcmesh/internal/devnet"
	"github.com/rpcmesh/rpcmesh/internal/devnetgw"
	"github.com/rpcmesh/rpcmesh/internal/testwait"
	"github.com/rpcmesh/rpcmesh/internal/verify"
)

// catchWithin bounds how long the audit may take to catch a liar: about
// fifteen checks of it at auditPerMinute (a check costs one or two calls).
const catchWithin = 15 * time.Second

// A liar in the public tier, which gets no traffic while the own tier is
// healthy, is caught by the audit alone: penalised with reason "audit",
// evidence of kind "audit" linked from the open scores, and never sent a
// client's call. Honest providers that are slow, failing or lagging are
// audited too and never penalised.
func TestReserveLiarCaughtByAudit(t *testing.T) {
	ctx := testwait.Context(t, 90*time.Second)
	if err := devnetgw.WaitHealthy(ctx, gw); err != nil {
		t.Fatal(err)
	}
	before := userAttempts(t, gw)
	start := time.Now()
	dn.Stage(t, devnet.FaultSpec{Target: "tier=public", Kind: devnet.FaultLie, Params: json.RawMessage(`{"what":["balance","proof"]}`)})
	dn.Stage(t, devnet.FaultSpec{Target: "node2", Kind: devnet.FaultLag})
	dn.Stage(t, devnet.FaultSpec{Target: "node3", Kind: devnet.FaultError, Params: json.RawMessage(`{"rate":0.5}`)})
	dn.Stage(t, devnet.FaultSpec{Target: "node4", Kind: devnet.FaultSlow, Params: json.RawMessage(`{"latency":"2500ms","jitter":"0s"}`)})

	testwait.For(t, catchWithin, "the audit to catch node5", func() bool {
		s, _ := publicScores(t, gw)
		p, _ := provider(s, "node5")
		r, ok := reasonOf(p, audit.Reason)
		return ok && r.Count >= 1 && len(r.Evidence) >= 1
	})
	t.Logf("node5 caught after %s", time.Since(start).Round(time.Millisecond))

	// Clients meanwhile: proven reads, all answered by the own tier.
	acct := crypto.PubkeyToAddress(dn.Keys()[0].PublicKey)
	for i := range 20 {
		var bal hexutil.Big
		if err := call(ctx, gw, &bal, "eth_getBalance", acct, "latest"); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
		if bal.ToInt().Sign() <= 0 {
			t.Fatalf("call %d: balance %s of a funded account", i, bal.String())
		}
	}

	// Every honest provider was audited through its fault and is clean.
	testwait.For(t, 30*time.Second, "audits of every provider through their faults", func() bool {
		s, _ := publicScores(t, gw)
		w := func(name string) audit.Counts {
			p, _ := provider(s, name)
			return p.Audit.Windows["5m"]
		}
		return w("node1").Passed >= 3 && w("node2").Absent >= 1 && w("node3").Unavailable+w("node3").Absent >= 1 &&
			w("node4").Unavailable >= 1 && w("node5").Failed >= 1
	})
	s, body := publicScores(t, gw)
	for _, name := range []string{"node1", "node2", "node3", "node4"} {
		p, _ := provider(s, name)
		t.Logf("%s audit: %+v", name, p.Audit.Windows["5m"])
		if p.Penalty.Value != 0 || len(p.Penalty.Reasons) != 0 || p.Audit.Windows["5m"].Failed != 0 {
			t.Errorf("honest %s penalised: %+v, audit %+v", name, p.Penalty, p.Audit)
		}
	}
	for _, e := range evidence(t, gw) {
		if e.Provider != "node5" {
			t.Errorf("evidence against honest %s: %+v", e.Provider, e)
		}
	}

	// The liar's penalty links to its evidence, which says what it lied about.
	liar, _ := provider(s, "node5")
	r, _ := reasonOf(liar, audit.Reason)
	if liar.Penalty.Value <= 0 || liar.Audit.LastFailure == 0 {
		t.Fatalf("liar's score %+v", liar)
	}
	for _, id := range r.Evidence {
		code, b := adminGet(gw, fmt.Sprintf("/verify/evidence?id=%d", id))
		var e verify.Evidence
		if code != http.StatusOK || json.Unmarshal(b, &e) != nil {
			t.Fatalf("evidence %d: %d %s", id, code, b)
		}
		if e.ID != id || e.Provider != "node5" || e.Kind != audit.Reason || e.Failure == "" ||
			!slices.Contains([]string{"eth_getProof", "eth_getBalance"}, e.Method) {
			t.Fatalf("evidence %d: %+v", id, e)
		}
	}

	// Counted as the verification stage counts a rejected answer.
	if n := metricByProvider(t, gw, "rpcmesh_verify_rejected_total", map[string]string{"kind": audit.Reason}); n["node5"] < 1 || len(n) != 1 {
		t.Fatalf("rpcmesh_verify_rejected_total{kind=audit} by provider: %v", n)
	}

	// No client call reached the liar, or any tier but own.
	after := userAttempts(t, gw)
	if after["node5"] != 0 {
		t.Fatalf("the public liar got %v client attempts: %v", after["node5"], after)
	}
	for _, name := range []string{"node2", "node3", "node4"} {
		if after[name] != before[name] {
			t.Errorf("%s (not own tier) got client attempts: before %v after %v", name, before, after)
		}
	}
	for _, ps := range gw.Status().Chains[0].Providers {
		if ps.Name == "node5" && ps.Requests != 0 {
			t.Fatalf("node5 was sent %d client requests", ps.Requests)
		}
	}
	if after["node1"] <= before["node1"] {
		t.Fatalf("the own tier served nothing: before %v after %v", before, after)
	}
	if strings.Contains(body, "http://") || strings.Contains(body, "ws://") {
		t.Fatalf("scores name a URL: %s", body)
	}
}
