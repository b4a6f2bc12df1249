package stage

import (
	"context"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"

	"github.com/rpcmesh/rpcmesh/internal/verify"
)

// BenchmarkBalance compares a proven eth_getBalance through the stage (one
// eth_getProof, verified against a cached trusted header) with the same
// call forwarded unverified, both against a real devnet node on loopback.
func BenchmarkBalance(b *testing.B) {
	d, act := sharedDevnet(b)
	h := newHarness(b, d)
	h.v.o.CheckPlain = false
	// The gateway's anchor is the tracker's in-memory agreed head: fix it
	// here instead of asking the direct node on every call.
	url, _ := d.DirectURL("node1")
	n, hash, ok := directAnchor(dialCaller(b, url))()
	if !ok {
		b.Fatal("no anchor")
	}
	h.v.o.Trust = verify.NewLinkedTrust(func() (uint64, common.Hash, bool) { return n, hash, true }, HeaderFetcher(h.asker, 3, nil), 1024, 4096)
	h.asker.first = []string{"node3"}
	params := verify.Params(act.Payer, hexutil.EncodeUint64(act.Blocks[len(act.Blocks)-1]))
	ctx := context.Background()
	if _, err := handle(ctx, h.v, newCall("eth_getBalance", params)); err != nil { // warm the header cache
		b.Fatal(err)
	}
	b.Run("proven", func(b *testing.B) {
		for b.Loop() {
			if _, err := handle(ctx, h.v, newCall("eth_getBalance", params)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("eth_getProof only", func(b *testing.B) {
		pp := verify.Params(act.Payer, []string{}, hexutil.EncodeUint64(act.Blocks[len(act.Blocks)-1]))
		for b.Loop() {
			if a := h.asker.Ask(ctx, Request{Method: "eth_getProof", Params: pp}, nil); a.Err != nil {
				b.Fatal(a.Err)
			}
		}
	})
	b.Run("unverified", func(b *testing.B) {
		for b.Loop() {
			if a := h.asker.Ask(ctx, Request{Method: "eth_getBalance", Params: params}, nil); a.Err != nil {
				b.Fatal(a.Err)
			}
		}
	})
}
