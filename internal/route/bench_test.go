package route

import (
	"context"
	"fmt"
	"sync"
	"testing"
)

// BenchmarkPick measures choosing a provider among ten healthy ones.
func BenchmarkPick(b *testing.B) {
	t := &testing.T{}
	var specs []nodeSpec
	for i := range 10 {
		specs = append(specs, nodeSpec{name: fmt.Sprintf("n%d", i), operator: fmt.Sprintf("op%d", i%5), cloud: fmt.Sprintf("c%d", i%3), tier: "own"})
	}
	n := startNet(t, testRouting(), specs...)
	defer func() {
		for _, node := range n.nodes {
			node.Close()
		}
	}()
	req := read("eth_gasPrice")
	b.ReportAllocs()
	for b.Loop() {
		if p, _ := n.router.pick(req, newTried(), false); p == nil {
			b.Fatal("no pick")
		}
	}
}

// BenchmarkDo measures routing one read end to end: pick, the attempt on a
// worker, the upstream call to an in-process fake node (its HTTP server's
// cost is in the figures), and the answer.
func BenchmarkDo(b *testing.B) {
	n := startNet(&testing.T{}, testRouting(), threeOperators()...)
	req := read("eth_gasPrice")
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := n.router.Do(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBatch10 measures a wave of ten reads that reach routing as one
// upstream batch (route.Batch), the calls on the router's workers as the
// server runs them; per op is per wave.
func BenchmarkBatch10(b *testing.B) {
	n := startNet(&testing.T{}, testRouting(), threeOperators()...)
	reqs := make([]*Request, 10)
	for i := range reqs {
		reqs[i] = read("eth_gasPrice")
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		batch := n.router.NewBatch(len(reqs))
		var wg sync.WaitGroup
		for _, req := range reqs {
			s := batch.Slot()
			wg.Add(1)
			batch.Go(func() {
				defer wg.Done()
				defer s.Done()
				if _, err := s.Do(WithSlot(ctx, s), req); err != nil {
					b.Error(err)
				}
			})
		}
		wg.Wait()
	}
}
