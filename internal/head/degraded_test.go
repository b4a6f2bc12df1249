package head

import (
	"fmt"
	"testing"
	"time"
)

// clock is a test clock moved by hand.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

// TestDegradedHead: with head_agreement 2 and one of two operators gone,
// the head follows the other where its blocks link to the agreed head, and
// full agreement returns when the operator does.
func TestDegradedHead(t *testing.T) {
	const bt = time.Second
	cases := []struct {
		name string
		// gone is what operator b reports at block n after it "dies"
		// (ok false: nothing).
		gone func(n uint64) (Block, bool)
		// survivor is what operator a reports at block n after b died.
		survivor func(n uint64) Block
		wantHead uint64 // head number after the survivor reached 30
		degraded bool
	}{
		{"killed", func(uint64) (Block, bool) { return Block{}, false }, func(n uint64) Block { return blk(n, "x") }, 30, true},
		{"hung", func(uint64) (Block, bool) { return blk(20, "x"), true }, func(n uint64) Block { return blk(n, "x") }, 30, true},
		{"survivor forks away", func(uint64) (Block, bool) { return Block{}, false },
			func(n uint64) Block {
				return Block{Number: n, Hash: fmt.Sprintf("0xy%d", n), Parent: fmt.Sprintf("0xy%d", n-1)}
			}, 20, false},
		{"a liar stays, rising", func(n uint64) (Block, bool) { return fake(n + 1000), true }, func(n uint64) Block { return blk(n, "x") }, 30, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := &clock{t: time.Unix(1_700_000_000, 0)}
			tr := New(Options{Agreement: 2, FinalityDepth: 64, StaleBlocks: 1.5, Now: c.now})
			for n := uint64(1); n <= 20; n++ {
				c.t = c.t.Add(bt)
				tr.Observe("a-node", "a", blk(n, "x"))
				tr.Observe("b-node", "b", blk(n, "x"))
			}
			if tr.Trust().Degraded {
				t.Fatal("degraded with both operators reporting")
			}
			for n := uint64(21); n <= 30; n++ {
				c.t = c.t.Add(bt)
				tr.Observe("a-node", "a", tc.survivor(n))
				if b, ok := tc.gone(n); ok {
					tr.Observe("b-node", "b", b)
				}
			}
			h, _ := tr.Latest()
			tr2 := tr.Trust()
			if h.Number != tc.wantHead || tr2.Degraded != tc.degraded {
				t.Fatalf("head %d degraded %v (trust %+v), want %d degraded %v", h.Number, tr2.Degraded, tr2, tc.wantHead, tc.degraded)
			}
			if tc.degraded && (tr2.Operators != 1 || tr2.Reporting != 1) {
				t.Fatalf("trust %+v, want 1 operator reporting and vouching", tr2)
			}
			if !tc.degraded {
				return
			}
			// b comes back on the same chain: full agreement returns.
			c.t = c.t.Add(bt)
			tr.Observe("a-node", "a", blk(31, "x"))
			tr.Observe("b-node", "b", blk(31, "x"))
			h, _ = tr.Latest()
			if tr2 := tr.Trust(); h.Number != 31 || tr2.Degraded || tr2.Operators != 2 {
				t.Fatalf("after b's return head %d trust %+v, want 31 agreed by 2", h.Number, tr2)
			}
		})
	}
}

// TestNoDegradedWithoutStaleBlocks: the degraded head is off unless
// configured, as before.
func TestNoDegradedWithoutStaleBlocks(t *testing.T) {
	c := &clock{t: time.Unix(1_700_000_000, 0)}
	tr := New(Options{Agreement: 2, Now: c.now})
	for n := uint64(1); n <= 30; n++ {
		c.t = c.t.Add(time.Second)
		tr.Observe("a-node", "a", blk(n, "x"))
		if n <= 20 {
			tr.Observe("b-node", "b", blk(n, "x"))
		}
	}
	if h, _ := tr.Latest(); h.Number != 20 {
		t.Fatalf("head %d, want 20", h.Number)
	}
	if bt := tr.BlockTime(); bt != time.Second {
		t.Fatalf("block time %v, want 1s", bt)
	}
}

// TestDegradedContested: two reporting operators (of head_agreement 3)
// whose blocks both link to the head but differ are not followed.
func TestDegradedContested(t *testing.T) {
	c := &clock{t: time.Unix(1_700_000_000, 0)}
	tr := New(Options{Agreement: 3, StaleBlocks: 1.5, Now: c.now})
	for n := uint64(1); n <= 20; n++ {
		c.t = c.t.Add(time.Second)
		for _, op := range []string{"a", "b", "c"} {
			tr.Observe(op+"-node", op, blk(n, "x"))
		}
	}
	for n := uint64(21); n <= 30; n++ {
		c.t = c.t.Add(time.Second)
		tr.Observe("a-node", "a", blk(n, "x"))
		y := blk(n, "y")
		if n == 21 {
			y.Parent = blk(20, "x").Hash // b's fork starts on the agreed head
		}
		tr.Observe("b-node", "b", y)
	}
	if h, _ := tr.Latest(); h.Number != 20 {
		t.Fatalf("head %d, want 20: two reporting operators disagree on block 21", h.Number)
	}
}

// TestBlockTimeIgnoresBursts: blocks reported back to back (providers
// back after an outage report the blocks they missed at once) do not make
// the measured block time tiny, which would count every operator as gone.
func TestBlockTimeIgnoresBursts(t *testing.T) {
	c := &clock{t: time.Unix(1_700_000_000, 0)}
	tr := New(Options{Agreement: 2, StaleBlocks: 1.5, Now: c.now})
	n := uint64(0)
	both := func() {
		n++
		tr.Observe("a-node", "a", blk(n, "x"))
		tr.Observe("b-node", "b", blk(n, "x"))
	}
	for range 10 { // 500ms blocks
		c.t = c.t.Add(500 * time.Millisecond)
		both()
	}
	c.t = c.t.Add(8 * time.Second) // 16 blocks unseen, then all at once
	for range 16 {
		c.t = c.t.Add(100 * time.Microsecond)
		both()
	}
	if bt := tr.BlockTime(); bt < 400*time.Millisecond || bt > 600*time.Millisecond {
		t.Fatalf("block time %s, want about 500ms", bt)
	}
	if tr2 := tr.Trust(); tr2.Degraded || tr2.Reporting != 2 {
		t.Fatalf("trust %+v, want both operators reporting", tr2)
	}
}

// TestDegradedReorg: the operator a degraded head follows replaces its last
// blocks (a reorg above the last agreed block): the head follows the new
// branch. A branch forking below the last agreed block is not followed.
func TestDegradedReorg(t *testing.T) {
	yFrom := func(fork uint64) func(n uint64) Block {
		return func(n uint64) Block {
			b := Block{Number: n, Hash: fmt.Sprintf("0xy%d", n), Parent: fmt.Sprintf("0xy%d", n-1)}
			if n == fork+1 {
				b.Parent = blk(fork, "x").Hash
			}
			return b
		}
	}
	cases := []struct {
		name     string
		fork     uint64 // the survivor's new branch starts after this block
		wantHash string // head hash once the survivor reached 30 on the branch
	}{
		{"above the last agreed block", 24, "0xy30"},
		{"below the last agreed block", 18, "0xx26"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := &clock{t: time.Unix(1_700_000_000, 0)}
			tr := New(Options{Agreement: 2, StaleBlocks: 1.5, Now: c.now})
			for n := uint64(1); n <= 20; n++ { // agreed up to 20
				c.t = c.t.Add(time.Second)
				tr.Observe("a-node", "a", blk(n, "x"))
				tr.Observe("b-node", "b", blk(n, "x"))
			}
			for n := uint64(21); n <= 26; n++ { // b gone: degraded on a
				c.t = c.t.Add(time.Second)
				tr.Observe("a-node", "a", blk(n, "x"))
			}
			if h, _ := tr.Latest(); h.Number != 26 || !tr.Trust().Degraded {
				t.Fatalf("head %+v trust %+v, want degraded at 26", h, tr.Trust())
			}
			// a reorganises: it reports its branch block by linked block
			// (as a provider's poll fetches it).
			branch := yFrom(tc.fork)
			for n := tc.fork + 1; n <= 27; n++ {
				tr.Observe("a-node", "a", branch(n))
			}
			for n := uint64(28); n <= 30; n++ {
				c.t = c.t.Add(time.Second)
				tr.Observe("a-node", "a", branch(n))
			}
			if h, _ := tr.Latest(); h.Hash != tc.wantHash {
				t.Fatalf("head %+v, want %s", h, tc.wantHash)
			}
		})
	}
}

func TestAgreedStandsWhileDegradedHeadMoves(t *testing.T) {
	now := time.Unix(1000, 0)
	tr := New(Options{Agreement: 2, StaleBlocks: 1.5, Now: func() time.Time { return now }})
	parent := func(n uint64) string { return fmt.Sprintf("0x%d", n-1) }
	// Two operators agree on blocks 1..5, a second apart.
	for n := uint64(1); n <= 5; n++ {
		b := Block{Number: n, Hash: fmt.Sprintf("0x%d", n), Parent: parent(n)}
		tr.Observe("a", "opA", b)
		tr.Observe("b", "opB", b)
		now = now.Add(time.Second)
	}
	if n, age, ok := tr.Agreed(); !ok || n != 5 || age != time.Second {
		t.Fatalf("Agreed() = %d, %s, %v; want 5, 1s", n, age, ok)
	}
	// opB stops; opA goes on alone: the head follows it, degraded, while
	// the agreed block stands.
	for n := uint64(6); n <= 9; n++ {
		now = now.Add(time.Second)
		tr.Observe("a", "opA", Block{Number: n, Hash: fmt.Sprintf("0x%d", n), Parent: parent(n)})
	}
	h, _ := tr.Latest()
	n, age, _ := tr.Agreed()
	if h.Number <= 5 || n != 5 || age < 4*time.Second {
		t.Fatalf("head %d, agreed %d for %s; want the head past 5 and 5 agreed for 4s or more", h.Number, n, age)
	}
}
