package route

import (
	"testing"

	"github.com/rpcmesh/rpcmesh/internal/config"
	"github.com/rpcmesh/rpcmesh/internal/ethmethod"
	"github.com/rpcmesh/rpcmesh/internal/upstream"
)

// TestVotersFollowTheRoster: the distinct operators a quorum can hear are
// counted from admitted providers only, per capability, and follow every
// change of the roster (add, stage, remove).
func TestVotersFollowTheRoster(t *testing.T) {
	provider := func(name, operator string, debug bool) *upstream.Provider {
		return upstream.New(upstream.Options{Chain: "test", ChainID: 1337, Health: testHealth(),
			Provider: config.Provider{Name: name, HTTP: "http://127.0.0.1:1", Debug: debug, Labels: config.Labels{Operator: operator}}})
	}
	r := New(Options{Chain: "test", Routing: testRouting(), Providers: []*upstream.Provider{
		provider("a1", "a", true), provider("a2", "a", false), provider("b1", "b", false),
	}})
	plain, debug := ethmethod.Lookup("eth_call"), ethmethod.Lookup("debug_traceCall")
	check := func(step string, wantPlain, wantDebug int) {
		t.Helper()
		if got := r.Voters(plain); got != wantPlain {
			t.Errorf("%s: %d operators can vote on eth_call, want %d", step, got, wantPlain)
		}
		if got := r.Voters(debug); got != wantDebug {
			t.Errorf("%s: %d operators can vote on debug_traceCall, want %d", step, got, wantDebug)
		}
	}
	check("at start (two providers of one operator count once)", 2, 1)
	r.Add(provider("c1", "c", true), Probation)
	check("c on probation", 2, 1)
	r.SetStage("c1", Admitted)
	check("c admitted", 3, 2)
	r.SetStage("a1", Candidate)
	check("a's debug provider a candidate", 3, 1)
	r.Remove("b1")
	check("b removed", 2, 1)
	r.Remove("a2")
	check("a's last admitted provider removed", 1, 1)
}
