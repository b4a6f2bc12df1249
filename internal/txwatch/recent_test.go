package txwatch

import (
	"bytes"
	"context"
	"math/big"
	"slices"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/rpcmesh/rpcmesh/internal/txbroadcast"
)

// Recent gives the audit's propagation check the transactions sent since
// a time, newest first and at most n, with who they were sent to and who
// held them, leaving out those sent to the provider asked about; Raw
// gives a copy of one transaction's bytes.
func TestRecentAndRaw(t *testing.T) {
	w := newWorld()
	nodes := []*node{{w: w, name: "a", op: "a"}, {w: w, name: "b", op: "b"}, {w: w, name: "c", op: "c"}}
	wt := testWatcher(w, nodes, 2)
	old, recent := newTestTx(t, 0), newTestTx(t, 1)
	for _, tx := range []*txbroadcast.Tx{old, recent} {
		if _, err := wt.Send(context.Background(), tx); err != nil {
			t.Fatal(err)
		}
	}
	wt.o.Broadcaster.Close() // every outcome recorded
	wt.mu.Lock()
	wt.txs[old.Hash.Hex()].FirstSent = time.Now().Add(-time.Hour)
	wt.mu.Unlock()

	got := wt.Recent(time.Now().Add(-time.Minute), 10, "c")
	if len(got) != 1 || got[0].Hash != recent.Hash || !slices.Equal(sorted(got[0].SentTo), []string{"a", "b"}) ||
		!slices.Equal(sorted(got[0].HeldBy), []string{"a", "b"}) || got[0].Included {
		t.Fatalf("recent %+v, want only the recent transaction, sent to and held by a and b", got)
	}
	if all := wt.Recent(time.Time{}, 10, "c"); len(all) != 2 || all[0].Hash != recent.Hash {
		t.Fatalf("all %+v, want both, newest first", all)
	}
	if one := wt.Recent(time.Time{}, 1, "c"); len(one) != 1 || one[0].Hash != recent.Hash {
		t.Fatalf("n=1: %+v", one)
	}
	if sentToA := wt.Recent(time.Time{}, 10, "a"); len(sentToA) != 0 {
		t.Fatalf("transactions sent to a offered for a: %+v", sentToA)
	}
	// A replacement (same sender and nonce, sent later) hides the one it
	// replaced.
	replacement := newTestTxFee(t, 1, 20)
	if _, err := wt.Send(context.Background(), replacement); err != nil {
		t.Fatal(err)
	}
	wt.o.Broadcaster.Close()
	if got := wt.Recent(time.Time{}, 10, "c"); len(got) != 2 || got[0].Hash != replacement.Hash || got[1].Hash != old.Hash {
		t.Fatalf("after a replacement %+v, want the replacement and the old one, not the replaced", got)
	}
	raw, ok := wt.Raw(recent.Hash)
	if !ok || !bytes.Equal(raw, recent.Raw) {
		t.Fatalf("raw %x, want %x", raw, recent.Raw)
	}
	raw[0] ^= 0xff
	if again, _ := wt.Raw(recent.Hash); !bytes.Equal(again, recent.Raw) {
		t.Fatal("Raw returned the watch's own bytes")
	}
}

func sorted(s []string) []string { s = slices.Clone(s); slices.Sort(s); return s }

// newTestTxFee is newTestTx with another fee cap (a replacement).
func newTestTxFee(t *testing.T, nonce uint64, feeCap int64) *txbroadcast.Tx {
	t.Helper()
	key, _ := crypto.HexToECDSA("b71c71a67e1177ad4e901695e1b4b9ee17ae16c6668d313eac2f96dbcda3f291")
	to := common.Address{1}
	signed, err := types.SignNewTx(key, types.LatestSignerForChainID(big.NewInt(1337)), &types.DynamicFeeTx{
		ChainID: big.NewInt(1337), Nonce: nonce, GasTipCap: big.NewInt(2), GasFeeCap: big.NewInt(feeCap), Gas: 21000, To: &to})
	if err != nil {
		t.Fatal(err)
	}
	tx, err := txbroadcast.FromRaw(mustBinary(t, signed))
	if err != nil {
		t.Fatal(err)
	}
	return tx
}

func mustBinary(t *testing.T, tx *types.Transaction) []byte {
	t.Helper()
	raw, err := tx.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}
