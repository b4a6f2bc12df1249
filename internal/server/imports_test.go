package server

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// TestFrontDoorImports lists what the front door imports (go list, the
// whole package but its tests) and fails on any rpcmesh package outside the
// set docs/architecture.md names: it knows the JSON-RPC envelope, the
// pipeline's contract and a served chain's plain data, never a stage,
// routing or a provider; and a served chain knows nothing of the front door.
func TestFrontDoorImports(t *testing.T) {
	const mod = "github.com/rpcmesh/rpcmesh/internal/"
	allowed := map[string]map[string]string{ // package → allowed import → why
		mod + "server": {
			mod + "jsonrpc":    "the JSON-RPC envelope",
			mod + "pipeline":   "the call a chain's pipeline answers",
			mod + "chain":      "a served chain: its pipeline, hub and plain status",
			mod + "wsfront":    "the WebSocket half of the front door",
			mod + "config":     "a leaf: the typed config",
			mod + "metrics":    "a leaf: the gateway's metrics",
			mod + "notify":     "webhook notifications of incidents",
			mod + "statuspage": "the public status page, reading a chain set as a status.Source",
			mod + "status":     "a leaf: the plain status model the page, webhooks and tools read",
		},
		mod + "chain": nil, // anything below it, but never the front door
	}
	frontDoor := []string{mod + "server", mod + "wsfront"}
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}} {{join .Imports \" \"}}", mod+"server", mod+"chain").Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("go list: %v\n%s", err, stderr)
	}
	seen := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		pkg, imports := fields[0], fields[1:]
		seen[pkg] = true
		for _, imp := range imports {
			if !strings.HasPrefix(imp, "github.com/rpcmesh/") {
				continue
			}
			seen[pkg+" → "+imp] = true
			if allow := allowed[pkg]; allow != nil && allow[imp] == "" {
				t.Errorf("%s imports %s; the front door imports only its allowed set (see docs/architecture.md)", pkg, imp)
			}
			if pkg == mod+"chain" && slices.Contains(frontDoor, imp) {
				t.Errorf("%s imports the front door's %s: imports go one way", pkg, imp)
			}
		}
	}
	// The list was read: the front door does reach its chains through the
	// chain package.
	if !seen[mod+"server → "+mod+"chain"] || !seen[mod+"chain"] {
		t.Fatalf("go list did not list server's import of chain:\n%s", out)
	}
}
