package metrics_test

import (
	"testing"

	"github.com/rpcmesh/rpcmesh/internal/metrics"
	"github.com/rpcmesh/rpcmesh/internal/metrics/metricstest"
)

// TestProviderStateGauge: rpcmesh_provider_state is 1 for the provider's
// state in one word and 0 for every other state.
func TestProviderStateGauge(t *testing.T) {
	m := metrics.New()
	m.WatchState(func() []metrics.ChainState {
		return []metrics.ChainState{{Chain: "main", Providers: []metrics.ProviderState{{Provider: "a", Operator: "op", Cloud: "aws", Tier: "own", State: "forked"}}}}
	})
	got := metricstest.Scrape(t, m).Sum("rpcmesh_provider_state", "state", map[string]string{"provider": "a"})
	states := []string{"up", "checking", "degraded", "lagging", "forked", "suspect", "stalled", "down", "wrong_chain"}
	if len(got) != len(states) {
		t.Fatalf("%d state series, want %d: %v", len(got), len(states), got)
	}
	for _, st := range states {
		want, v, ok := 0.0, 0.0, false
		if st == "forked" {
			want = 1
		}
		if v, ok = got[st]; !ok || v != want {
			t.Errorf("state %s = %g (present %v), want %g", st, v, ok, want)
		}
	}
}

// TestStateOptional: the WebSocket and coalescing families have series
// only for the providers that use them, and a scrape reads the states
// anew each time.
func TestStateOptional(t *testing.T) {
	m := metrics.New()
	head := uint64(100)
	m.WatchState(func() []metrics.ChainState {
		return []metrics.ChainState{{Chain: "main", Head: head, Reorgs: 2, Providers: []metrics.ProviderState{
			{Provider: "http", Usable: true},
			{Provider: "ws", WS: &metrics.WSState{Live: 2, Failures: 3}, Coalesce: &metrics.CoalesceState{Batches: 4, Calls: 9}},
		}}}
	})
	fams := metricstest.Scrape(t, m)
	checks := []struct {
		name string
		want map[string]float64
	}{
		{"rpcmesh_provider_up", map[string]float64{"http": 1, "ws": 0}},
		{"rpcmesh_provider_ws_connections", map[string]float64{"ws": 2}},
		{"rpcmesh_provider_ws_connection_failures_total", map[string]float64{"ws": 3}},
		{"rpcmesh_provider_coalesced_batches_total", map[string]float64{"ws": 4}},
		{"rpcmesh_provider_coalesced_calls_total", map[string]float64{"ws": 9}},
	}
	for _, c := range checks {
		got := fams.Sum(c.name, "provider", nil)
		if len(got) != len(c.want) {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
		for k, v := range c.want {
			if got[k] != v {
				t.Errorf("%s{provider=%s} = %g, want %g", c.name, k, got[k], v)
			}
		}
	}
	if got := fams.Sum("rpcmesh_chain_reorgs_total", "chain", nil)["main"]; got != 2 {
		t.Errorf("reorgs = %g, want 2", got)
	}
	head = 101
	if got := metricstest.Scrape(t, m).Sum("rpcmesh_chain_head", "chain", nil)["main"]; got != 101 {
		t.Errorf("head after it moved = %g, want 101 (read at scrape time)", got)
	}
}
