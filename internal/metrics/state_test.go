package metrics

import "testing"

// TestProviderStateGauge: rpcmesh_provider_state is 1 for the provider's
// state in one word and 0 for every other state.
func TestProviderStateGauge(t *testing.T) {
	m := New()
	m.WatchState(func() []ChainState {
		return []ChainState{{Chain: "main", Providers: []ProviderState{{Provider: "a", Operator: "op", Cloud: "aws", Tier: "own", State: "forked"}}}}
	})
	families, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, f := range families {
		if f.GetName() != "rpcmesh_provider_state" {
			continue
		}
		for _, s := range f.GetMetric() {
			for _, l := range s.GetLabel() {
				if l.GetName() == "state" {
					got[l.GetValue()] = s.GetGauge().GetValue()
				}
			}
		}
	}
	if len(got) != len(providerStates()) {
		t.Fatalf("%d state series, want %d: %v", len(got), len(providerStates()), got)
	}
	for st, v := range got {
		if want := map[bool]float64{true: 1}[st == "forked"]; v != want {
			t.Errorf("state %s = %g, want %g", st, v, want)
		}
	}
}
