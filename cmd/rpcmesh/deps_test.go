package main

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// TestGatewayLinksNoNode lists what the gateway binary links (go list
// -deps) and fails on any package of the table below, or one under it, so
// that a convenience import cannot bring an Ethereum node (770 packages, a
// 65 MB binary before the devnet left) back into the gateway.
func TestGatewayLinksNoNode(t *testing.T) {
	// What the gateway must not link, and why: a gateway forwards, routes
	// and verifies; it does not run a node. The devnet and the load
	// generator, which need some of these, are commands of their own.
	// internal/bench itself is linked (rpcmesh vet ramps its load with
	// it); this test keeps what it imports to the standard library, HTTP
	// and WebSocket clients and an HDR histogram.
	forbidden := []struct{ prefix, why string }{
		{"github.com/ethereum/go-ethereum/node", "a go-ethereum node's service stack"},
		{"github.com/ethereum/go-ethereum/eth", "the eth protocol, its sync, filter and tracer APIs"},
		{"github.com/ethereum/go-ethereum/p2p", "devp2p networking"},
		{"github.com/ethereum/go-ethereum/miner", "block production"},
		{"github.com/ethereum/go-ethereum/core/vm", "the EVM"},
		{"github.com/ethereum/go-ethereum/core/txpool", "a node's transaction pool"},
		{"github.com/ethereum/go-ethereum/internal/ethapi", "a node's JSON-RPC API implementation"},
		{"github.com/ethereum/go-ethereum/ethclient", "go-ethereum's RPC client (the gateway has its own transports)"},
		{"github.com/ethereum/go-ethereum/beacon", "the engine API and light client"},
		{"github.com/ethereum/go-ethereum/ethdb/pebble", "an on-disk chain database"},
		{"github.com/ethereum/go-ethereum/ethdb/leveldb", "an on-disk chain database"},
		{"github.com/ethereum/go-ethereum/ethdb/remotedb", "a chain database over RPC"},
		{"github.com/cockroachdb/pebble", "the chain database engine"},
		{"github.com/syndtr/goleveldb", "the legacy chain database engine"},
		{"github.com/rpcmesh/rpcmesh/internal/devnet", "the devnet (cmd/rpcmesh-devnet)"},
		{"github.com/rpcmesh/rpcmesh/internal/devnetgw", "the devnet's gateway (cmd/rpcmesh-devnet)"},
		{"github.com/rpcmesh/rpcmesh/internal/conformance", "the conformance suite"},
		{"github.com/rpcmesh/rpcmesh/internal/fakenode", "a test double"},
	}
	out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", "github.com/rpcmesh/rpcmesh/cmd/rpcmesh").Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("go list: %v\n%s", err, stderr)
	}
	deps := strings.Fields(string(out))
	if !slices.Contains(deps, "github.com/rpcmesh/rpcmesh/internal/server") {
		t.Fatalf("go list -deps does not list the gateway's own server package; got %d packages", len(deps))
	}
	for _, d := range deps {
		for _, f := range forbidden {
			if d == f.prefix || strings.HasPrefix(d, f.prefix+"/") {
				t.Errorf("the gateway links %s (%s); find the import that brings it with: go list -deps -f '{{.ImportPath}}: {{.Imports}}' ./cmd/rpcmesh | grep %s", d, f.why, d)
			}
		}
	}
	t.Logf("the gateway links %d packages", len(deps))
}
