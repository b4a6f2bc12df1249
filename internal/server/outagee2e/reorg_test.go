package outagee2e

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/devnet"
	"github.com/rpcmesh/rpcmesh/internal/devnetgw"
)

// TestDegradedHeadFollowsReorg: with one of the two operators down, the
// chain reorganises its last two blocks, both followed on the survivor
// alone; the degraded head follows the survivor onto the new branch instead
// of freezing on the old one. (A reorg below the last block both operators
// agreed on is not followed: tested in internal/head.)
func TestDegradedHeadFollowsReorg(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	settle(ctx, t)
	devnetgw.WaitFor(ctx, t, gw, "full agreement", func() bool { return gw.Status().Chains[0].HeadTrust.Level == "agreed" })
	gone := gw.Status().Chains[0].Providers[1].Name
	up := dn.Stage(t, devnet.FaultSpec{Target: gone, Kind: devnet.FaultDown})
	devnetgw.WaitFor(ctx, t, gw, "a degraded head", func() bool { return gw.Status().Chains[0].HeadTrust.Level == "degraded" })
	degradedFrom := gatewayHead()
	devnetgw.WaitFor(ctx, t, gw, "four blocks on the survivor alone", func() bool { return gatewayHead() >= degradedFrom+4 })
	reorgsBefore := gw.Status().Chains[0].Reorgs
	if _, err := dn.SetFault(ctx, devnet.FaultSpec{Target: "all", Kind: "reorg", Params: json.RawMessage(`{"depth":2}`)}); err != nil {
		t.Fatal(err)
	}
	devnetgw.WaitFor(ctx, t, gw, "the degraded head on the new branch", func() bool {
		st := gw.Status().Chains[0]
		if st.Head == nil || st.Reorgs == reorgsBefore {
			return false
		}
		n, hash := dn.Head()
		return st.Head.Number+2 >= n && st.HeadTrust.Level == "degraded" && (st.Head.Number != n || st.Head.Hash == hash)
	})
	// And it keeps moving with the survivor.
	from := gatewayHead()
	devnetgw.WaitFor(ctx, t, gw, "the head moving on", func() bool { return gatewayHead() >= from+3 })
	up()
	devnetgw.WaitFor(ctx, t, gw, "full agreement again", func() bool { return gw.Status().Chains[0].HeadTrust.Level == "agreed" })
}
