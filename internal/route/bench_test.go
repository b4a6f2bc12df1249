package route

import (
	"fmt"
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
