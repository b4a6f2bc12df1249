package metrics

import (
	"testing"
	"time"
)

// TestAttempt: attempts are counted by chain, provider, bounded method and
// the outcome the caller gives; only answers (ok, rpc_error) add to the
// latency histogram.
func TestAttempt(t *testing.T) {
	m := New()
	m.Attempt("main", "a", "eth_call", 10*time.Millisecond, "ok")
	m.Attempt("main", "a", "eth_call", 20*time.Millisecond, "ok")
	m.Attempt("main", "a", "eth_call", 30*time.Millisecond, "rpc_error")
	m.Attempt("main", "a", "eth_call", time.Second, "timeout")
	m.Attempt("main", "b", "no_such_method", time.Millisecond, "stalled")
	families, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]float64{}
	samples := map[string]uint64{}
	for _, f := range families {
		for _, s := range f.GetMetric() {
			key := ""
			for _, l := range s.GetLabel() {
				key += l.GetName() + "=" + l.GetValue() + " "
			}
			switch f.GetName() {
			case "rpcmesh_upstream_requests_total":
				counts[key] = s.GetCounter().GetValue()
			case "rpcmesh_upstream_duration_seconds":
				samples[key] = s.GetHistogram().GetSampleCount()
			}
		}
	}
	wantCounts := map[string]float64{
		"chain=main method=eth_call outcome=ok provider=a ":        2,
		"chain=main method=eth_call outcome=rpc_error provider=a ": 1,
		"chain=main method=eth_call outcome=timeout provider=a ":   1,
		"chain=main method=other outcome=stalled provider=b ":      1,
	}
	if len(counts) != len(wantCounts) {
		t.Errorf("attempt counters %v, want %v", counts, wantCounts)
	}
	for k, want := range wantCounts {
		if counts[k] != want {
			t.Errorf("attempts{%s} = %v, want %v", k, counts[k], want)
		}
	}
	wantSamples := map[string]uint64{"chain=main method=eth_call provider=a ": 3}
	if len(samples) != len(wantSamples) || samples["chain=main method=eth_call provider=a "] != 3 {
		t.Errorf("latency samples %v, want %v (answers only)", samples, wantSamples)
	}
}
