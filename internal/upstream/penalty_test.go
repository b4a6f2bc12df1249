package upstream

import (
	"math"
	"testing"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/config"
)

// A penalty record read back from the store goes on decaying from when it
// was stored, keeps its counts, and later penalties are reported.
func TestRestorePenalty(t *testing.T) {
	h := config.Default().Health
	pc := config.DefaultProvider()
	pc.Name, pc.HTTP = "p", "http://127.0.0.1:1"
	p := New(Options{Chain: "c", ChainID: 1, Provider: pc, Health: h})
	halfLife := h.PenaltyHalfLife.D()
	stored := PenaltyRecord{Penalty: 4, At: time.Now().Add(-halfLife), Counts: map[string]uint64{"audit": 3, "censored": 1}}
	changed := 0
	p.RestorePenalty(stored, func(*Provider) { changed++ })
	if got := p.Snapshot(time.Now()).Penalty; math.Abs(got-2) > 0.01 {
		t.Fatalf("penalty %v one half-life after 4 was stored, want 2", got)
	}
	if got := p.Penalties(); len(got) != 2 || got[0] != (PenaltyCount{"audit", 3}) || got[1] != (PenaltyCount{"censored", 1}) {
		t.Fatalf("counts %+v", got)
	}
	p.Penalise("audit")
	r := p.PenaltyRecord()
	if changed != 1 || r.Counts["audit"] != 4 || math.Abs(r.Penalty-3) > 0.01 || time.Since(r.At) > time.Minute {
		t.Fatalf("after a penalty: %+v, told %d", r, changed)
	}
	// The record handed out is a copy.
	r.Counts["audit"] = 100
	if p.PenaltyRecord().Counts["audit"] != 4 {
		t.Fatal("the record shares its counts with the provider")
	}
}
