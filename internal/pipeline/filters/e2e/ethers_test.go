package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/core/types"

	"github.com/rpcmesh/rpcmesh/internal/devnet"
	"github.com/rpcmesh/rpcmesh/internal/devnetgw"

	"github.com/rpcmesh/rpcmesh/internal/clientlibs"
	"github.com/rpcmesh/rpcmesh/internal/testwait"
)

// TestEthersEventsOverHTTPThroughFailover runs a real dApp library (ethers
// v6, in Node) against the gateway over HTTP: provider.on(filter), the
// path contract.on takes (eth_newFilter, then eth_getFilterChanges at each
// block). A contract emits a log every 300 ms while the provider serving
// the chain (node 0) goes down and comes back: from the first event ethers
// reports on, it reports every one exactly once, some while node 0 is
// down. ethers comes from clients/, installed from its lockfile.
func TestEthersEventsOverHTTPThroughFailover(t *testing.T) {
	dir, node := clientlibs.Dir(t)
	devnetgw.AwaitHealthy(t, gw)
	ctx := testwait.Context(t, 4*time.Minute)

	e := newEmitter(t, ctx, 6)
	const topic = "0x00000000000000000000000000000000000000000000000000000000000000aa"
	run := exec.CommandContext(ctx, node, "scripts/filter-events.mjs", url, fmt.Sprint(dn.Info().ChainID), strings.ToLower(e.contract.Hex()), topic)
	run.Dir = dir
	stdout, err := run.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	run.Stderr = &stderr
	if err := run.Start(); err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		seen  = map[string]int{}
		order []string
		ready = make(chan struct{})
		ended = make(chan struct{})
	)
	go func() {
		defer close(ended)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var ev struct {
				Ready   bool   `json:"ready"`
				Tx      string `json:"tx"`
				Removed bool   `json:"removed"`
			}
			if json.Unmarshal(sc.Bytes(), &ev) != nil {
				continue
			}
			if ev.Ready {
				close(ready)
				continue
			}
			mu.Lock()
			if !ev.Removed {
				seen[strings.ToLower(ev.Tx)]++
				order = append(order, strings.ToLower(ev.Tx))
			}
			mu.Unlock()
		}
	}()
	defer func() {
		_ = run.Process.Kill()
		<-ended
		_ = run.Wait()
	}()
	select {
	case <-ready:
	case <-ended:
		t.Fatalf("ethers ended before listening: %s", stderr.String())
	case <-ctx.Done():
		t.Fatal("ethers never listened")
	}

	const total, downAt, upAt = 36, 10, 24
	var txs []*types.Transaction
	var up func()
	countSeen := func() int { mu.Lock(); defer mu.Unlock(); return len(order) }
	seenAtDown, seenAtUp := 0, 0
	for i := range total {
		switch i {
		case downAt:
			seenAtDown = countSeen()
			up = dn.Stage(t, devnet.FaultSpec{Target: dn.Info().Nodes[0].Name, Kind: devnet.FaultDown})
		case upAt:
			seenAtUp = countSeen()
			up()
		}
		txs = append(txs, e.emit(t, ctx, i))
		select {
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		case <-time.After(300 * time.Millisecond):
		}
	}
	lastTx := strings.ToLower(txs[total-1].Hash().Hex())
	waitLast := testwait.Context(t, 30*time.Second)
	for {
		mu.Lock()
		done := seen[lastTx] > 0
		mu.Unlock()
		if done {
			break
		}
		select {
		case <-waitLast.Done():
			t.Fatalf("ethers never reported the last event (%d reported); stderr: %s", countSeen(), stderr.String())
		case <-ended:
			t.Fatalf("ethers ended: %s", stderr.String())
		case <-time.After(200 * time.Millisecond):
		}
	}
	mu.Lock()
	defer mu.Unlock()
	first := -1
	for i, tx := range txs {
		if seen[strings.ToLower(tx.Hash().Hex())] > 0 {
			first = i
			break
		}
	}
	if first < 0 || first >= downAt {
		t.Fatalf("ethers reported its first event at transaction %d, want before the fault at %d", first, downAt)
	}
	for i := first; i < total; i++ {
		if n := seen[strings.ToLower(txs[i].Hash().Hex())]; n != 1 {
			t.Errorf("transaction %d's event reported %d times", i, n)
		}
	}
	if seenAtUp <= seenAtDown {
		t.Errorf("no event reported while node 0 was down (%d before, %d after)", seenAtDown, seenAtUp)
	}
	t.Logf("ethers reported %d events from transaction %d on; %d while node 0 was down", len(order), first, seenAtUp-seenAtDown)
	devnetgw.AwaitHealthy(t, gw)
}
