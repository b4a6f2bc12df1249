package statuspage

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/status"
)

func snapAt(i int, failed uint64) status.Snapshot {
	return status.Snapshot{At: time.Unix(int64(1000+10*i), 0), Chains: []status.Chain{{
		Name:          "devnet",
		CloudShare:    map[string]float64{"aws": 0.5, "gcp": 0.5},
		OperatorShare: map[string]float64{"a": 1},
		Providers:     []status.Provider{{Name: "node1", P50Ms: float64(i), ErrorRate: 0.25}},
		Answers:       status.Answers{Served: uint64(100 * i), Failed: failed},
	}}}
}

// TestHistoryKeepsTheLastSamples: the ring keeps the newest n samples,
// oldest first, in uPlot's columns; failed answers are per interval.
func TestHistoryKeepsTheLastSamples(t *testing.T) {
	h := newHistory(3, 10*time.Second)
	failed := []uint64{0, 1, 1, 4, 9}
	for i, f := range failed {
		h.add(snapAt(i, f))
	}
	var got History
	if err := json.Unmarshal(h.json(), &got); err != nil {
		t.Fatal(err)
	}
	if got.IntervalMs != 10000 || got.Samples != 3 || len(got.Chains) != 1 {
		t.Fatalf("got %+v", got)
	}
	c := got.Chains[0]
	if want := []int64{1020, 1030, 1040}; !equal(c.T, want) {
		t.Errorf("t = %v, want %v", c.T, want)
	}
	if p := values(c.P50Ms["node1"]); !equal(p, []float64{2, 3, 4}) {
		t.Errorf("p50 = %v", p)
	}
	if c.Failed[0] != nil || *c.Failed[1] != 3 || *c.Failed[2] != 5 {
		t.Errorf("failed = %v, want [null 3 5]", values(c.Failed))
	}
	if s := values(c.CloudShare["gcp"]); !equal(s, []float64{0.5, 0.5, 0.5}) {
		t.Errorf("gcp share = %v", s)
	}
}

// TestHistoryGaps: a chain or series missing from a sample is null there.
func TestHistoryGaps(t *testing.T) {
	h := newHistory(10, time.Second)
	h.add(snapAt(0, 0))
	h.add(status.Snapshot{At: time.Unix(1010, 0)}) // no chains
	s := snapAt(2, 2)
	s.Chains[0].Providers = append(s.Chains[0].Providers, status.Provider{Name: "node2", P50Ms: 7})
	h.add(s)
	var got History
	if err := json.Unmarshal(h.json(), &got); err != nil {
		t.Fatal(err)
	}
	c := got.Chains[0]
	if len(c.T) != 3 || c.P50Ms["node1"][1] != nil || c.P50Ms["node2"][0] != nil || *c.P50Ms["node2"][2] != 7 {
		t.Errorf("got %+v", c)
	}
	if c.Failed[2] != nil {
		t.Errorf("failed after a gap = %v, want null", *c.Failed[2])
	}
}

func values(ps []*float64) []float64 {
	out := make([]float64, len(ps))
	for i, p := range ps {
		if p != nil {
			out[i] = *p
		} else {
			out[i] = -1
		}
	}
	return out
}

func equal[T comparable](a, b []T) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
