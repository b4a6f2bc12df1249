package vet

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rpcmesh/rpcmesh/internal/devnet"
)

// dn is the package's devnet: node1–node3 are the admitted operators of
// the config the tests vet against, node4 and node5 the candidates.
var dn *devnet.Devnet

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		os.Exit(m.Run())
	}
	os.Exit(devnet.RunSuite("vet", false, devnet.Options{},
		func(ctx context.Context, d *devnet.Devnet) error {
			// Blocks with transfers, a contract's code, storage and logs, so
			// the correctness sample has receipts, logs and storage to check.
			_, err := d.MakeActivity(ctx)
			return err
		},
		func(d *devnet.Devnet) int {
			dn = d
			return m.Run()
		}))
}

// needDevnet skips a test in -short mode.
func needDevnet(t *testing.T) {
	t.Helper()
	if dn == nil {
		t.Skip("needs the devnet (not in -short mode)")
	}
}

// testVetting is the vetting section of the tests' config: a short ramp
// and a small sample, so that one run takes seconds.
const testVetting = `vetting:
  target_rate: 20
  ramp_steps: 2
  step_duration: 1s
  max_p99: 400ms
  min_archive_blocks: 16
  sample_blocks: 6
  sample_accounts: 3
  newheads_timeout: 8s
  call_timeout: 5s
`

// writeConfig writes a gateway config whose chain "devnet" has node1–node3
// as providers (chain ID chainID, head_agreement 2), with extra appended,
// and returns its path.
func writeConfig(t *testing.T, chainID uint64, extra string) string {
	t.Helper()
	return writeConfigOf(t, chainID, []string{"node1", "node2", "node3"}, extra)
}

// writeConfigOf is writeConfig with the named nodes as providers.
func writeConfigOf(t *testing.T, chainID uint64, nodes []string, extra string) string {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, `health:
  poll_interval: 200ms
  probe_interval: 200ms
  chain_id_interval: 2s
  provider_timeout: 2s
chains:
  - name: devnet
    chain_id: %d
    head_agreement: 2
    providers:
`, chainID)
	for _, name := range nodes {
		n, _ := dn.Node(name)
		fmt.Fprintf(&b, "      - {name: %s, http: %q, ws: %q, labels: {operator: %s, tier: partner}}\n", name, n.HTTP, n.WS, n.Labels.Operator)
	}
	b.WriteString(extra)
	path := filepath.Join(t.TempDir(), "rpcmesh.yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func writeFile(path, text string) error { return os.WriteFile(path, []byte(text), 0o600) }
