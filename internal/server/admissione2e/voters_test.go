package admissione2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/config"
	"github.com/rpcmesh/rpcmesh/internal/testwait"
)

// TestQuorumHearsAdmittedOperators: with one operator admitted, a quorum
// method (eth_call) is answered by its provider, labelled trusted with
// why. Once a provider of a second operator, added through the admin API,
// is admitted, the same call is settled by a quorum of both; once it is
// removed, by one provider again. No call fails on the way.
func TestQuorumHearsAdmittedOperators(t *testing.T) {
	const token = "voters-token"
	g := startGateway(t, func(cfg *config.Config) {
		cfg.Admission.Token = token
		cfg.Chains[0].Providers = cfg.Chains[0].Providers[:1]
		cfg.Chains[0].HeadAgreement = 1
	})
	ctx := testwait.Context(t, 90*time.Second)
	node1, node2 := dn.MustNode(t, "node1"), dn.MustNode(t, "node2")
	op1, op2 := node1.Labels.Operator, node2.Labels.Operator
	params := fmt.Sprintf(`[{"to":%q,"data":"0x"},"latest"]`, dn.Info().Accounts[0].Address)
	trusted := fmt.Sprintf(`trusted; operators=%s; note="1 operator serves eth_call"`, op1)
	quorum := "quorum; operators=" + min(op1, op2) + "," + max(op1, op2)
	expect := func(step, want string) {
		t.Helper()
		res, header, err := g.call(ctx, "eth_call", params)
		if err != nil || string(res) != `"0x"` || header != want {
			t.Fatalf("%s: eth_call answered %s (%v) as %q, want \"0x\" as %q", step, res, err, header, want)
		}
	}
	admin := func(method, path, body string, want int) {
		t.Helper()
		if status, got := g.adminDo(t, method, path, token, body); status != want {
			t.Fatalf("%s %s: %d %s, want %d", method, path, status, got, want)
		}
	}

	expect("one operator admitted", trusted)
	entry, _ := json.Marshal(map[string]any{"name": "node2", "http": node2.HTTP,
		"labels": map[string]string{"operator": op2, "tier": node2.Labels.Tier}})
	admin(http.MethodPost, "/providers", string(entry), http.StatusCreated)
	testwait.For(t, 30*time.Second, "node2 health-checked", func() bool {
		for _, p := range g.gw.Status().Chains[0].Providers {
			if p.Name == "node2" {
				return p.State == "ok"
			}
		}
		return false
	})
	expect("node2 on probation: no vote", trusted)
	admin(http.MethodPost, "/providers/devnet/node2/stage", `{"stage":"admitted","reason":"test"}`, http.StatusOK)
	expect("node2 admitted", quorum)
	admin(http.MethodDelete, "/providers/devnet/node2", "", http.StatusOK)
	expect("node2 removed", trusted)
}
