package e2e

import (
	"bytes"
	"cmp"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// TestViemWatchesBlocks runs a real dApp library (viem, in Node) against
// the gateway over WebSocket: chain ID and block number calls, then
// watchBlocks, which subscribes to newHeads. npm installs viem into a
// directory under the system temp dir; the test is skipped only when node
// or npm is missing.
func TestViemWatchesBlocks(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed: skipping the viem client test")
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		t.Skip("npm is not installed: skipping the viem client test")
	}
	waitHealthy(t)
	// A fixed directory outside the repository, reused by later runs (npm
	// install is then quick, and no thousands of files are removed per run).
	dir := filepath.Join(os.TempDir(), "rpcmesh-ws-node-test")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"package.json", "watch.mjs"} {
		b, err := os.ReadFile(filepath.Join("node", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx := ctxT(t, 4*time.Minute)
	install := exec.CommandContext(ctx, npm, "install", "--no-audit", "--no-fund", "--loglevel=error")
	install.Dir = dir
	if out, err := install.CombinedOutput(); err != nil {
		t.Fatalf("npm install viem: %v\n%s", err, out)
	}
	const want = 5
	run := exec.CommandContext(ctx, node, "watch.mjs", wsURL, "5")
	run.Dir = dir
	var stdout, stderr bytes.Buffer
	run.Stdout, run.Stderr = &stdout, &stderr
	if err := run.Run(); err != nil {
		t.Fatalf("viem: %v\nstdout: %s\nstderr: %s", err, stdout.String(), stderr.String())
	}
	var out struct {
		ChainID     uint64      `json:"chainId"`
		BlockNumber uint64      `json:"blockNumber"`
		Blocks      []viemBlock `json:"blocks"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		t.Fatalf("viem output %q: %v", stdout.String(), err)
	}
	if out.ChainID != dn.Info().ChainID {
		t.Errorf("chain ID %d, want %d", out.ChainID, dn.Info().ChainID)
	}
	if len(out.Blocks) != want {
		t.Fatalf("%d blocks, want %d", len(out.Blocks), want)
	}
	// viem fetches each notified block with eth_getBlockByNumber and does
	// not wait for one fetch before starting the next, so its onBlock calls
	// may come out of order when notifications bunch up: check the blocks
	// as a set, consecutive and linked.
	slices.SortFunc(out.Blocks, func(a, b viemBlock) int { return cmp.Compare(a.Number, b.Number) })
	for i := 1; i < len(out.Blocks); i++ {
		prev, cur := out.Blocks[i-1], out.Blocks[i]
		if cur.Number != prev.Number+1 || cur.ParentHash != prev.Hash {
			t.Errorf("block %d (parent %s) next to %d (%s)", cur.Number, cur.ParentHash, prev.Number, prev.Hash)
		}
	}
	if out.Blocks[0].Number < out.BlockNumber {
		t.Errorf("first watched block %d is before the block number %d read first", out.Blocks[0].Number, out.BlockNumber)
	}
	t.Logf("viem over ws: chain %d, blocks %d..%d", out.ChainID, out.Blocks[0].Number, out.Blocks[len(out.Blocks)-1].Number)
}

// viemBlock is one block as watch.mjs prints it.
type viemBlock struct {
	Number     uint64 `json:"number"`
	Hash       string `json:"hash"`
	ParentHash string `json:"parentHash"`
}
