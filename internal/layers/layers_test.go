package layers

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"
)

// module is rpcmesh's module path.
const module = "github.com/rpcmesh/rpcmesh/"

// floors places the packages that import other rpcmesh packages, lowest
// first; a package that imports none is a leaf (floor 0) and needs no
// place here. A package may import only packages on lower floors: the
// stages share floor 6, so no stage imports another. A new package that
// imports rpcmesh packages must be placed here, which is the moment to
// decide where it belongs.
var floors = map[string]int{
	"internal/upstream/transport":    1, // the transports behind one round trip
	"internal/verify":                1, // the go-ethereum-based checks, nothing of routing
	"internal/devnet":                1,
	"internal/bench":                 1,
	"internal/conformance":           1,
	"internal/metrics":               1, // a leaf but for jsonrpc and ethmethod
	"internal/notify":                1, // webhooks: config, status and redact only
	"internal/usage":                 1, // metering and statements, over the embedded store
	"internal/statuspage":            1, // the status page: reads internal/status only
	"internal/statuspage/pagetest":   2, // a fake status.Source and a page on a listener, for tests
	"internal/metrics/metricstest":   2, // the metrics read with Prometheus' parser, for tests
	"internal/incident":              1, // incidents from plain observations: status and store only
	"internal/admission":             2, // provider stages and their transitions: store and verify only
	"internal/upstream":              2, // provider state
	"internal/route":                 3,
	"internal/audit":                 3, // continuous audit, kept penalties and evidence, open scores
	"internal/pipeline":              4, // the core: Call, Handler, HandleWave, Report
	"internal/txbroadcast":           4,
	"internal/txwatch":               5,
	"internal/subscribe":             5,
	"internal/pipeline/blocktag":     6,
	"internal/pipeline/broadcast":    6,
	"internal/pipeline/filters":      6,
	"internal/pipeline/forward":      6,
	"internal/pipeline/limits":       6,
	"internal/pipeline/logs":         6,
	"internal/pipeline/methods":      6,
	"internal/pipeline/verification": 6,
	"internal/pipeline/assemble":     7, // the one place that wires the stages
	"internal/wsfront":               7,
	"internal/vet":                   7, // rpcmesh vet: the gateway's providers, head, router and trust, and the load tool
	"internal/chain":                 8, // a served chain: built, run and read for the front door
	"internal/server":                9,
	"internal/devnetgw":              10,
	"internal/chaos":                 11, // scenarios over a devnet and a gateway
	"cmd/rpcmesh":                    11,
	"cmd/rpcmesh-devnet":             12,
	"cmd/rpcmesh-bench":              11,
}

// TestImportsRunOneWay lists every package's imports with go list and
// checks each import of an rpcmesh package against the floors.
func TestImportsRunOneWay(t *testing.T) {
	cmd := exec.Command("go", "list", "-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`, module+"...")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.Bytes())
	}
	imports := map[string][]string{}
	for line := range strings.Lines(string(out)) {
		fields := strings.Fields(line)
		pkg := strings.TrimPrefix(fields[0], module)
		for _, imp := range fields[1:] {
			if strings.HasPrefix(imp, module) {
				imports[pkg] = append(imports[pkg], strings.TrimPrefix(imp, module))
			}
		}
		if _, ok := imports[pkg]; !ok {
			imports[pkg] = nil
		}
	}
	if len(imports) < 30 {
		t.Fatalf("go list found %d packages", len(imports))
	}
	floor := func(pkg string) (int, bool) {
		if f, ok := floors[pkg]; ok {
			return f, true
		}
		return 0, len(imports[pkg]) == 0 // a leaf
	}
	for pkg, imps := range imports {
		f, ok := floor(pkg)
		if !ok {
			t.Errorf("%s imports rpcmesh packages but has no floor: place it in floors", pkg)
			continue
		}
		for _, imp := range imps {
			if g, _ := floor(imp); g >= f {
				t.Errorf("%s (floor %d) imports %s (floor %d): imports run one way, downwards", pkg, f, imp, g)
			}
		}
	}
	for pkg := range floors {
		if _, ok := imports[pkg]; !ok {
			t.Errorf("floors place %s, which go list does not know: take it out", pkg)
		}
	}
}
