package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/ethclient"

	"github.com/rpcmesh/rpcmesh/internal/devnet"
	"github.com/rpcmesh/rpcmesh/internal/devnetgw"
	"github.com/rpcmesh/rpcmesh/internal/head"
	"github.com/rpcmesh/rpcmesh/internal/testwait"
)

// headSeen is one newHeads notification as the client saw it.
type headSeen struct {
	number uint64
	hash   string
	parent string
}

// collectHeads reads a newHeads subscription into a list until ctx ends.
type headLog struct {
	mu    sync.Mutex
	heads []headSeen
	bad   []string
}

func (l *headLog) run(ctx context.Context, ch <-chan json.RawMessage) {
	for {
		select {
		case <-ctx.Done():
			return
		case raw := <-ch:
			b, err := head.ParseHeader(raw)
			l.mu.Lock()
			if err != nil {
				l.bad = append(l.bad, string(raw))
			} else {
				l.heads = append(l.heads, headSeen{b.Number, b.Hash, b.Parent})
			}
			l.mu.Unlock()
		}
	}
}

func (l *headLog) snapshot() []headSeen {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]headSeen(nil), l.heads...)
}

// TestNewHeadsSurviveFaults subscribes to newHeads and, while it runs,
// kills, hangs and lags the serving node and then takes a whole cloud down:
// the client must see every block exactly once, in order, linked by parent
// hashes, for at least 30 blocks.
func TestNewHeadsSurviveFaults(t *testing.T) {
	devnetgw.AwaitHealthy(t, gw)
	ctx := testwait.Context(t, 120*time.Second)
	c := dialWS(t)
	_, ch := c.subscribe(t, ctx, `["newHeads"]`)
	var log headLog
	readCtx, stopReading := context.WithCancel(ctx)
	defer stopReading()
	go log.run(readCtx, ch)

	serving := dn.Info().Nodes[0].Name
	steps := []devnet.FaultSpec{
		{Target: serving, Kind: devnet.FaultDown},
		{Target: serving, Kind: devnet.FaultHang},
		{Target: serving, Kind: devnet.FaultLag},
		{Target: "cloud=aws", Kind: devnet.FaultDown},
	}
	// Each fault stays while the client gets six more heads (three seconds
	// of blocks), and the next starts once every provider is usable again.
	for _, spec := range steps {
		clear := dn.Stage(t, spec)
		seen := len(log.snapshot())
		t.Logf("%s %s at %s, %d heads so far", spec.Kind, spec.Target, time.Now().Format("15:04:05.000"), seen)
		if err := testwait.Until(ctx, fmt.Sprintf("six heads under %s %s", spec.Kind, spec.Target), func() bool { return len(log.snapshot()) >= seen+6 }); err != nil {
			t.Fatal(err)
		}
		clear()
		devnetgw.AwaitHealthy(t, gw)
	}
	if err := testwait.Until(ctx, "30 heads", func() bool { return len(log.snapshot()) >= 30 }); err != nil {
		t.Fatal(err)
	}
	stopReading()
	heads := log.snapshot()
	if len(log.bad) > 0 {
		t.Errorf("unparseable heads: %v", log.bad)
	}
	checkChain(t, heads)
	// And they are the devnet's blocks, as a healthy node has them.
	direct, _ := dn.DirectURL(dn.Info().Nodes[2].Name)
	ec, err := ethclient.DialContext(ctx, direct)
	if err != nil {
		t.Fatal(err)
	}
	defer ec.Close()
	for _, h := range heads {
		b, err := ec.HeaderByNumber(ctx, new(big.Int).SetUint64(h.number))
		if err != nil || strings.ToLower(b.Hash().Hex()) != h.hash {
			t.Errorf("head %d %s is not the devnet's block (%v)", h.number, h.hash, err)
		}
	}
	t.Logf("%d heads, %d..%d, every one once and in order", len(heads), heads[0].number, heads[len(heads)-1].number)
	select {
	case <-c.done:
		t.Fatalf("connection ended: %v", c.err)
	default:
	}
}

// checkChain fails unless heads are consecutive and linked by parent hash.
func checkChain(t *testing.T, heads []headSeen) {
	t.Helper()
	for i := 1; i < len(heads); i++ {
		prev, cur := heads[i-1], heads[i]
		if cur.number != prev.number+1 {
			t.Errorf("head %d after %d (index %d): gap or duplicate", cur.number, prev.number, i)
		}
		if cur.parent != prev.hash {
			t.Errorf("head %d has parent %s, the head before was %s", cur.number, cur.parent, prev.hash)
		}
	}
}
