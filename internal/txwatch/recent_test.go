package txwatch

import (
	"bytes"
	"context"
	"slices"
	"testing"
	"time"

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
