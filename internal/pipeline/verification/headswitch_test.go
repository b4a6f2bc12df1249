package verification

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common/hexutil"

	"github.com/rpcmesh/rpcmesh/internal/config"
	"github.com/rpcmesh/rpcmesh/internal/devnet"
	"github.com/rpcmesh/rpcmesh/internal/head"
	"github.com/rpcmesh/rpcmesh/internal/testwait"
	"github.com/rpcmesh/rpcmesh/internal/verify"
)

// TestDegradedSwitchSeamless: when four of five operators stop importing
// blocks, the head follows the fifth alone (degraded), and reads pinned to
// that head keep being answered, proven against it: the headers of the
// blocks only the fifth holds are fetched from a provider that has them,
// not from the stopped ones (whose nulls made such reads fail with
// "could not be linked to the head the providers agree on" until routing
// saw them lagging).
func TestDegradedSwitchSeamless(t *testing.T) {
	d, act := sharedDevnet(t)
	ctx := testwait.Context(t, 90*time.Second)
	names := []string{"node1", "node2", "node3", "node4", "node5"}
	tracker := head.New(head.Options{Agreement: 2, FinalityDepth: 8, StaleBlocks: 1.5})
	v, _, _ := gatewayStageWith(t, ctx, d, config.DefaultVerify(), tracker, true, names...)
	// The degraded head needs the block time, measured from the head's moves.
	if err := testwait.Until(ctx, "a measured block time", func() bool { return tracker.BlockTime() > 0 }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { caughtUp(t, d, names[:4]) }) // runs last: after the faults are cleared
	for _, n := range names[:4] {
		d.Stage(t, devnet.FaultSpec{Target: n, Kind: devnet.FaultLag})
	}
	acct := act.Accounts()[0]
	var switched uint64 // the first degraded head
	reads, failed := 0, 0
	pace := time.NewTicker(5 * time.Millisecond) // client traffic, not a wait for state
	defer pace.Stop()
	for ctx.Err() == nil {
		<-pace.C
		b, ok := tracker.Latest()
		if !ok {
			t.Fatal("no agreed head")
		}
		tr := tracker.Trust()
		if tr.Degraded && switched == 0 {
			switched = b.Number
		}
		if switched != 0 && b.Number >= switched+6 {
			break
		}
		n := hexutil.EncodeUint64(b.Number)
		for _, r := range []request{
			{"eth_getBalance", verify.Params(acct, n)},
			{"eth_getBlockByNumber", verify.Params(n, false)},
		} {
			reads++
			if _, err := handle(ctx, v, newCall(r.method, r.params)); err != nil {
				failed++
				if failed <= 5 {
					t.Errorf("%s at head %d (degraded %v, on %d operators): %v", r.method, b.Number, tr.Degraded, tr.Operators, err)
				}
			}
		}
	}
	if switched == 0 {
		t.Fatalf("the head never followed node5 alone: %+v", tracker.Trust())
	}
	if failed > 0 {
		t.Errorf("%d of %d reads failed across the switch to one operator", failed, reads)
	}
}

// caughtUp waits (bounded) until the named nodes hold the devnet's head
// again, for the tests that share the devnet after this one.
func caughtUp(t *testing.T, d *devnet.Devnet, names []string) {
	t.Helper()
	ctx := testwait.Context(t, 30*time.Second)
	for _, n := range names {
		url, _ := d.DirectURL(n)
		c := dialCaller(t, url)
		if err := testwait.Until(ctx, n+" caught up", func() bool {
			raw, err := c.call(ctx, "eth_blockNumber", nil)
			var got hexutil.Uint64
			top, _ := d.Head()
			return err == nil && json.Unmarshal(raw, &got) == nil && uint64(got) >= top
		}); err != nil {
			t.Error(err)
		}
	}
}
