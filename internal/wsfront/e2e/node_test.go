package e2e

import (
	"bytes"
	"cmp"
	"encoding/json"
	"os/exec"
	"slices"
	"testing"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/clientlibs"
	"github.com/rpcmesh/rpcmesh/internal/devnetgw"
	"github.com/rpcmesh/rpcmesh/internal/testwait"
)

// TestViemWatchesBlocks runs a real dApp library (viem, in Node) against
// the gateway over WebSocket: chain ID and block number calls, then
// watchBlocks, which subscribes to newHeads. viem comes from clients/,
// installed from its lockfile.
func TestViemWatchesBlocks(t *testing.T) {
	dir, node := clientlibs.Dir(t)
	devnetgw.AwaitHealthy(t, gw)
	ctx := testwait.Context(t, 4*time.Minute)
	const want = 5
	run := exec.CommandContext(ctx, node, "scripts/ws-watch-blocks.mjs", wsURL, "5")
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
