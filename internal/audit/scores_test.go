package audit

import (
	"reflect"
	"testing"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/config"
	"github.com/rpcmesh/rpcmesh/internal/upstream"
	"github.com/rpcmesh/rpcmesh/internal/verify"
)

// Each penalty reason links to the provider's evidence of that reason
// (the newest maxLinked), censorship to its transactions; verification
// failures are every penalty but audit and censored.
func TestBuildScoreLinksEvidence(t *testing.T) {
	var ev []verify.Evidence
	for id := uint64(100); id > 0; id-- { // newest first, as the log gives them
		kind := "bad_proof"
		if id%2 == 0 {
			kind = Reason
		}
		ev = append(ev, verify.Evidence{ID: id, Provider: "p", Kind: kind})
	}
	ev = append(ev, verify.Evidence{ID: 200, Provider: "p", Kind: "hash_mismatch", Reason: "head_hash"})
	ps := BuildScore(ScoreInputs{
		Snapshot: upstream.Snapshot{Name: "p", Labels: config.Labels{Operator: "op", Tier: "public"}, State: upstream.StateOK,
			Penalty: 2.5, P99: 1500 * time.Microsecond},
		Score:     12,
		Penalties: []upstream.PenaltyCount{{Reason: Reason, Count: 50}, {Reason: "bad_proof", Count: 3}, {Reason: "censored", Count: 1}, {Reason: "head_hash", Count: 1}},
		HalfLife:  10 * time.Minute,
		Evidence:  ev,
		Censored:  []string{"0xabc"},
		Audit:     Summary{Windows: map[string]Counts{"5m": {Passed: 2, Failed: 1, Unavailable: 1}, "1h": {}}},
	})
	if got := ps.Availability.Windows; len(got) != 1 || got["5m"] != 0.75 {
		t.Errorf("availability windows %v, want 5m: 0.75 only", got)
	}
	want := map[string][]uint64{Reason: ids100(true), "bad_proof": ids100(false), "head_hash": {200}}
	for _, r := range ps.Penalty.Reasons {
		if r.Reason == "censored" {
			if !reflect.DeepEqual(r.Transactions, []string{"0xabc"}) || len(r.Evidence) != 0 {
				t.Errorf("censored: %+v", r)
			}
			continue
		}
		if !reflect.DeepEqual(r.Evidence, want[r.Reason]) {
			t.Errorf("%s: evidence %v, want %v", r.Reason, r.Evidence, want[r.Reason])
		}
	}
	if ps.VerificationFailures != 4 || ps.Censorship.Count != 1 || ps.Penalty.Value != 2.5 || ps.Penalty.HalfLife != "10m0s" ||
		ps.LatencyMs.P99 != 1.5 || ps.Tier != "public" || ps.Operator != "op" || ps.Score != 12 {
		t.Errorf("score %+v", ps)
	}
}

// ids100 are the maxLinked newest IDs of 1..100 that are even (or odd), ascending.
func ids100(even bool) []uint64 {
	var out []uint64
	for id := uint64(100); id > 0 && len(out) < maxLinked; id-- {
		if (id%2 == 0) == even {
			out = append([]uint64{id}, out...)
		}
	}
	return out
}
