package head

import (
	"fmt"
	"testing"
)

// fake is a made-up block at n on a fork of its own.
func fake(n uint64) Block {
	return Block{Number: n, Hash: fmt.Sprintf("0xfake%d", n), Parent: fmt.Sprintf("0xfake%d", n-1)}
}

// voteHeights is how many heights hold votes.
func voteHeights(tr *Tracker) int {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return len(tr.votes)
}

// TestFakeHeadsBounded: a provider reporting 100,000 ever-higher made-up
// heads keeps the tracker's heights bounded, and the honest operators'
// agreed head still advances.
func TestFakeHeadsBounded(t *testing.T) {
	tr := NewTracker(2, 64, nil)
	const fakes = 100_000
	honest := uint64(1000)
	// Below the head a window of heights; above it at most ahead per
	// provider (three providers), plus the head itself.
	limit := window + 3*ahead + 1
	for i := range uint64(fakes) {
		tr.Observe("liar-node", "liar", fake(2_000_000+i))
		if i%100 == 0 {
			honest++
			tr.Observe("a-node", "a", blk(honest, "x"))
			tr.Observe("b-node", "b", blk(honest, "x"))
		}
		if n := voteHeights(tr); n > limit {
			t.Fatalf("after %d made-up heads the tracker holds %d heights, want at most %d", i+1, n, limit)
		}
	}
	h, ok := tr.Latest()
	if !ok || h.Number != honest || h.Hash != blk(honest, "x").Hash {
		t.Fatalf("head = %+v, want the honest %d", h, honest)
	}
}

// BenchmarkObserveFakeHeads measures one Observe while a provider reports
// ever-higher made-up heads: the cost per observe stays flat however many
// it reported before (compare -benchtime=1000x with -benchtime=100000x).
func BenchmarkObserveFakeHeads(b *testing.B) {
	tr := NewTracker(2, 64, nil)
	honest := uint64(1000)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		tr.Observe("liar-node", "liar", fake(2_000_000+uint64(i)))
		if i%100 == 0 {
			honest++
			tr.Observe("a-node", "a", blk(honest, "x"))
			tr.Observe("b-node", "b", blk(honest, "x"))
		}
	}
}
