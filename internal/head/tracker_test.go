package head

import (
	"fmt"
	"testing"
)

func blk(n uint64, fork string) Block {
	return Block{Number: n, Hash: fmt.Sprintf("0x%s%d", fork, n), Parent: fmt.Sprintf("0x%s%d", fork, n-1)}
}

func TestAgreementNeedsDistinctOperators(t *testing.T) {
	tr := NewTracker(2, 64, nil)
	tr.Observe("a-node", "a", blk(10, "x"))
	if _, ok := tr.Latest(); ok {
		t.Fatal("one operator must not set the head")
	}
	tr.Observe("a-node", "a", blk(11, "x")) // same operator again: still one voice
	if _, ok := tr.Latest(); ok {
		t.Fatal("one operator twice must not set the head")
	}
	tr.Observe("a-node2", "a", blk(10, "x")) // a second node of the same operator
	if _, ok := tr.Latest(); ok {
		t.Fatal("two nodes of one operator must not set the head")
	}
	tr.Observe("b-node", "b", blk(10, "x"))
	h, ok := tr.Latest()
	if !ok || h.Number != 10 {
		t.Fatalf("head = %+v, want 10", h)
	}
	// b at 12 agrees (via parent? no: 11 is parent of 12) with a's 11.
	tr.Observe("b-node", "b", blk(12, "x"))
	if h, _ := tr.Latest(); h.Number != 11 {
		t.Fatalf("head = %d, want 11 (agreed through b's parent)", h.Number)
	}
}

func TestLiarCannotMoveHead(t *testing.T) {
	tr := NewTracker(2, 64, nil)
	tr.Observe("a-node", "a", blk(100, "x"))
	tr.Observe("b-node", "b", blk(100, "x"))
	tr.Observe("liar-node", "liar", blk(5000, "x"))
	tr.Observe("liar2-node", "liar2", blk(5000, "y")) // a second liar with another hash
	if h, _ := tr.Latest(); h.Number != 100 {
		t.Fatalf("head = %d, want 100", h.Number)
	}
}

// TestMajorityHashWins: at one height two colluding operators report a
// made-up hash and three honest ones the real one; the head takes the
// hash most operators report, whatever the order of the votes.
func TestMajorityHashWins(t *testing.T) {
	for run := range 20 {
		tr := NewTracker(2, 64, nil)
		votes := []struct{ op, fork string }{{"l1", "fake"}, {"l2", "fake"}, {"h1", "x"}, {"h2", "x"}, {"h3", "x"}}
		for i := range votes {
			v := votes[(i+run)%len(votes)]
			tr.Observe(v.op+"-node", v.op, Block{Number: 10, Hash: "0x" + v.fork + "10", Parent: "0xx9"})
		}
		if h, _ := tr.Latest(); h.Hash != "0xx10" {
			t.Fatalf("run %d: head %+v, want the honest majority's hash 0xx10", run, h)
		}
	}
}

func TestNeverBackwards(t *testing.T) {
	tr := NewTracker(2, 64, nil)
	tr.Observe("a-node", "a", blk(50, "x"))
	tr.Observe("b-node", "b", blk(50, "x"))
	// Both operators now report older heads (restarted, lagging): the head stays.
	tr.Observe("a-node", "a", blk(40, "x"))
	tr.Observe("b-node", "b", blk(41, "x"))
	tr.Observe("c-node", "c", blk(41, "x"))
	if h, _ := tr.Latest(); h.Number != 50 {
		t.Fatalf("head went backwards to %d", h.Number)
	}
}

func TestReorg(t *testing.T) {
	tr := NewTracker(2, 64, nil)
	for n := uint64(1); n <= 20; n++ {
		tr.Observe("a-node", "a", blk(n, "x"))
		tr.Observe("b-node", "b", blk(n, "x"))
	}
	// Fork at 19: both operators switch to a "y" chain at 19 (shorter).
	y19 := Block{Number: 19, Hash: "0xy19", Parent: "0xx18"}
	tr.Observe("a-node", "a", y19)
	if h, _ := tr.Latest(); h.Number != 20 {
		t.Fatalf("one operator's reorg must not move the head, got %d", h.Number)
	}
	tr.Observe("b-node", "b", y19)
	h, _ := tr.Latest()
	if h.Number != 19 || h.Hash != "0xy19" {
		t.Fatalf("after agreed reorg head = %+v, want 19/0xy19", h)
	}
	if tr.Reorgs() != 1 {
		t.Fatalf("reorgs = %d", tr.Reorgs())
	}
	// The new fork grows.
	y20 := Block{Number: 20, Hash: "0xy20", Parent: "0xy19"}
	tr.Observe("a-node", "a", y20)
	tr.Observe("b-node", "b", y20)
	if h, _ := tr.Latest(); h.Hash != "0xy20" {
		t.Fatalf("head = %+v", h)
	}
}

func TestTags(t *testing.T) {
	tr := NewTracker(2, 10, nil)
	if _, ok := tr.Finalized(); ok {
		t.Fatal("no finalized before a head")
	}
	tr.Observe("a-node", "a", blk(100, "x"))
	tr.Observe("b-node", "b", blk(100, "x"))
	if n, _ := tr.Finalized(); n != 90 {
		t.Fatalf("fallback finalized = %d, want 90", n)
	}
	if n, _ := tr.Safe(); n != 95 {
		t.Fatalf("fallback safe = %d, want 95", n)
	}
	tr.ObserveTag("a", "finalized", 80)
	tr.ObserveTag("b", "finalized", 70)
	tr.ObserveTag("c", "finalized", 99999) // a liar alone
	if n, _ := tr.Finalized(); n != 80 {
		t.Fatalf("finalized = %d, want 80 (second highest of three)", n)
	}
	if tr.Lag(97) != 3 || tr.Lag(200) != 0 {
		t.Fatal("lag")
	}
}

func TestParseHeader(t *testing.T) {
	b, err := ParseHeader([]byte(`{"number":"0x1b4","hash":"0xABC","parentHash":"0xdef","extra":[1]}`))
	if err != nil || b.Number != 436 || b.Hash != "0xabc" || b.Parent != "0xdef" {
		t.Fatalf("%+v %v", b, err)
	}
	if _, err := ParseHeader([]byte(`null`)); err == nil {
		t.Fatal("null header must fail")
	}
}

func FuzzParseHeader(f *testing.F) {
	f.Add([]byte(`{"number":"0x1b4","hash":"0xabc","parentHash":"0xdef"}`))
	f.Add([]byte(`null`))
	f.Add([]byte(`{"number":"0x","hash":""}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := ParseHeader(data)
		if err == nil && (b.Hash == "" || Quantity(b.Number) == "") {
			t.Fatalf("accepted a header without hash: %+v", b)
		}
	})
}

func TestOnChainTellsAMinorityFork(t *testing.T) {
	tr := NewTracker(2, 0, nil)
	tr.Observe("a", "opA", Block{Number: 10, Hash: "0x10", Parent: "0x09"})
	tr.Observe("b", "opB", Block{Number: 10, Hash: "0x10", Parent: "0x09"})
	tr.Observe("c", "opC", Block{Number: 10, Hash: "0x10f", Parent: "0x09"})
	for _, tc := range []struct {
		number    uint64
		hash      string
		on, known bool
	}{
		{10, "0x10", true, true},
		{10, "0x10f", false, true}, // the minority's block
		{9, "0x09", true, true},    // the head's parent
		{11, "0x11", false, false}, // above the head: cannot tell yet
		{3, "0x03", false, false},  // never seen
	} {
		on, known := tr.OnChain(tc.number, tc.hash)
		if on != tc.on || known != tc.known {
			t.Errorf("OnChain(%d, %s) = %v, %v; want %v, %v", tc.number, tc.hash, on, known, tc.on, tc.known)
		}
	}
}
