package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
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
		{"github.com/rpcmesh/rpcmesh/internal/metrics/metricstest", "a test helper (it links Prometheus' parser and protobuf)"},
		// protobuf calls reflect.Type.MethodByName, which switches off the
		// linker's dead-method elimination for the whole binary (every
		// exported method of every type used in an interface is linked:
		// +12 MB); TestGatewayKeepsMethodElimination checks the effect.
		{"google.golang.org/protobuf", "protobuf: its reflection switches off the linker's method elimination (+12 MB)"},
		{"github.com/prometheus/client_golang", "prometheus/client_golang: it links protobuf; the gateway's metrics use VictoriaMetrics/metrics"},
		{"github.com/prometheus/client_model", "prometheus/client_model: protobuf messages"},
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

// TestGatewayKeepsMethodElimination links the gateway with the linker's
// -dumpdep and fails if any reachable function is marked <ReflectMethod>
// (a call of reflect's Method or MethodByName with a name not known at
// compile time): one such call anywhere switches off the linker's
// dead-method elimination, so every exported method of every type used in
// an interface is linked. That took the gateway from 25.6 to 37.6 MB
// through protobuf (brought by prometheus/client_golang), which called
// MethodByName and made go-ethereum rlp's typekey keep its promoted
// MethodByName. Checking the cause, rather than a size bound or one
// method's absence, fails whatever library brings it back, says which
// function did, and does not fail when the gateway grows for a good reason.
// Skipped with -short: it links the gateway (a few seconds when cached).
func TestGatewayKeepsMethodElimination(t *testing.T) {
	if testing.Short() {
		t.Skip("links the gateway binary")
	}
	bin := filepath.Join(t.TempDir(), "rpcmesh")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-dumpdep", "-o", bin, "github.com/rpcmesh/rpcmesh/cmd/rpcmesh")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	var deps bytes.Buffer
	cmd.Stderr = &deps
	if err := cmd.Run(); err != nil {
		t.Fatalf("go build: %v\n%.4000s", err, deps.String())
	}
	var reflective []string
	for line := range strings.Lines(deps.String()) {
		if strings.Contains(line, "<ReflectMethod>") && len(reflective) < 10 {
			reflective = append(reflective, strings.TrimSpace(line))
		}
	}
	if len(reflective) > 0 {
		t.Errorf("a reachable function calls reflect's Method or MethodByName, so the linker keeps every exported method (see go build -ldflags=-dumpdep ./cmd/rpcmesh 2>&1 | grep ReflectMethod):\n%s", strings.Join(reflective, "\n"))
	}
	if fi, err := os.Stat(bin); err == nil {
		t.Logf("the gateway binary is %.1f MB (issue 15's target: 35 MB)", float64(fi.Size())/1e6)
	}
}
