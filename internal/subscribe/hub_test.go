package subscribe

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/head"
	"github.com/rpcmesh/rpcmesh/internal/pipeline"
	"github.com/rpcmesh/rpcmesh/internal/testwait"
)

// fakeChain serves headers and logs by hash, and is the head source.
type fakeChain struct {
	mu     sync.Mutex
	blocks map[string]fakeBlock
	head   head.Block
}

type fakeBlock struct {
	number uint64
	hash   string
	parent string
	logs   int // how many logs the block has
}

func newFakeChain() *fakeChain { return &fakeChain{blocks: map[string]fakeBlock{}} }

func hashOf(branch string, n uint64) string { return fmt.Sprintf("0x%s%062x", branch, n) }

// extend adds blocks from..to on branch, forking from parent branch below from.
func (f *fakeChain) extend(branch, parentBranch string, from, to uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for n := from; n <= to; n++ {
		pb := branch
		if n == from {
			pb = parentBranch
		}
		b := fakeBlock{number: n, hash: hashOf(branch, n), parent: hashOf(pb, n-1), logs: 1}
		f.blocks[b.hash] = b
		f.head = head.Block{Number: n, Hash: b.hash, Parent: b.parent}
	}
}

func (f *fakeChain) Latest() (head.Block, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.head, !f.head.IsZero()
}

func (f *fakeChain) Handle(_ context.Context, wave []*pipeline.Call) {
	for _, c := range wave {
		c.Answer(f.answer(c))
	}
}

func (f *fakeChain) answer(c *pipeline.Call) (json.RawMessage, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var params []json.RawMessage
	_ = json.Unmarshal(c.Params, &params)
	switch c.Method {
	case "eth_getBlockByHash":
		var h string
		_ = json.Unmarshal(params[0], &h)
		b, ok := f.blocks[h]
		if !ok {
			return json.RawMessage("null"), nil
		}
		return json.RawMessage(fmt.Sprintf(`{"number":"%s","hash":"%s","parentHash":"%s","transactions":[],"size":"0x1"}`,
			head.Quantity(b.number), b.hash, b.parent)), nil
	case "eth_getLogs":
		var flt struct{ BlockHash string }
		_ = json.Unmarshal(params[0], &flt)
		b, ok := f.blocks[flt.BlockHash]
		if !ok {
			return nil, fmt.Errorf("unknown block")
		}
		var logs []string
		for i := range b.logs {
			logs = append(logs, fmt.Sprintf(`{"address":"0x00000000000000000000000000000000000000aa","topics":["0x01"],"blockHash":"%s","blockNumber":"%s","logIndex":"0x%x","removed":false}`,
				b.hash, head.Quantity(b.number), i))
		}
		return json.RawMessage("[" + join(logs) + "]"), nil
	}
	return nil, fmt.Errorf("unexpected %s", c.Method)
}

func join(s []string) string {
	out := ""
	for i, x := range s {
		if i > 0 {
			out += ","
		}
		out += x
	}
	return out
}

// collector is a Sink that records what it receives.
type collector struct {
	mu  sync.Mutex
	got []json.RawMessage
}

func (c *collector) sink(r json.RawMessage) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.got = append(c.got, r)
}

// wait returns what the collector got once it holds at least n.
func (c *collector) wait(t *testing.T, n int) []json.RawMessage {
	t.Helper()
	testwait.For(t, 5*time.Second, fmt.Sprintf("%d notifications", n), func() bool { return len(c.all()) >= n })
	return c.all()
}

func (c *collector) all() []json.RawMessage {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]json.RawMessage(nil), c.got...)
}

func startHub(t *testing.T, f *fakeChain) *Hub {
	t.Helper()
	h := New(Options{Head: f, Fetch: f, Poll: 5 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); h.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return h
}

type headerOut struct {
	Number string `json:"number"`
	Hash   string `json:"hash"`
	Txs    any    `json:"transactions"`
}

func TestNewHeadsCatchesUpAndFollowsReorg(t *testing.T) {
	f := newFakeChain()
	f.extend("a", "a", 1, 5)
	h := startHub(t, f)
	var heads collector
	if _, err := h.Subscribe(KindNewHeads, nil, heads.sink); err != nil {
		t.Fatal(err)
	}
	var logs collector
	if _, err := h.Subscribe(KindLogs, json.RawMessage(`{"address":"0x00000000000000000000000000000000000000AA"}`), logs.sink); err != nil {
		t.Fatal(err)
	}
	f.extend("a", "a", 6, 6)
	heads.wait(t, 1)
	f.extend("a", "a", 7, 10) // a jump of 4: 7, 8, 9 must be fetched
	heads.wait(t, 5)
	f.extend("b", "a", 9, 11) // reorg: 9 and 10 replaced
	got := heads.wait(t, 8)
	want := []string{hashOf("a", 6), hashOf("a", 7), hashOf("a", 8), hashOf("a", 9), hashOf("a", 10), hashOf("b", 9), hashOf("b", 10), hashOf("b", 11)}
	for i, raw := range got {
		var ho headerOut
		if err := json.Unmarshal(raw, &ho); err != nil {
			t.Fatal(err)
		}
		if ho.Hash != want[i] {
			t.Errorf("head %d: %s, want %s", i, ho.Hash, want[i])
		}
		if ho.Txs != nil {
			t.Errorf("head %d carries transactions", i)
		}
	}
	// Logs: a6..a10, then a9 and a10 removed (oldest first, as
	// go-ethereum sends them), then b9..b11.
	gotLogs := logs.wait(t, 10)
	type logOut struct {
		BlockHash string `json:"blockHash"`
		Removed   bool   `json:"removed"`
	}
	wantLogs := []logOut{{hashOf("a", 6), false}, {hashOf("a", 7), false}, {hashOf("a", 8), false}, {hashOf("a", 9), false}, {hashOf("a", 10), false},
		{hashOf("a", 9), true}, {hashOf("a", 10), true}, {hashOf("b", 9), false}, {hashOf("b", 10), false}, {hashOf("b", 11), false}}
	for i, raw := range gotLogs {
		var lo logOut
		_ = json.Unmarshal(raw, &lo)
		if lo != wantLogs[i] {
			t.Errorf("log %d: %+v, want %+v", i, lo, wantLogs[i])
		}
	}
}

func TestUnsubscribeStopsNotifications(t *testing.T) {
	f := newFakeChain()
	f.extend("a", "a", 1, 3)
	h := startHub(t, f)
	var heads, still collector
	id, _ := h.Subscribe(KindNewHeads, nil, heads.sink)
	f.extend("a", "a", 4, 4)
	heads.wait(t, 1)
	if !h.Unsubscribe(id) || h.Unsubscribe(id) {
		t.Fatal("unsubscribe should succeed once")
	}
	// A subscriber that stays gets heads 5 and 6; the one that left would
	// have had them by then.
	if _, err := h.Subscribe(KindNewHeads, nil, still.sink); err != nil {
		t.Fatal(err)
	}
	f.extend("a", "a", 5, 6)
	still.wait(t, 2)
	if n := len(heads.all()); n != 1 {
		t.Fatalf("%d heads after unsubscribe", n)
	}
	if _, err := h.Subscribe("syncing", nil, heads.sink); err == nil {
		t.Fatal("unknown kind accepted")
	}
}

func TestLogFilterMatch(t *testing.T) {
	l := &logEntry{address: "0xaa", topics: []string{"0x01", "0x02"}}
	cases := []struct {
		filter string
		want   bool
	}{
		{`{}`, true},
		{`{"address":"0xAA"}`, true},
		{`{"address":["0xbb","0xaa"]}`, true},
		{`{"address":"0xbb"}`, false},
		{`{"topics":["0x01"]}`, true},
		{`{"topics":[null,"0x02"]}`, true},
		{`{"topics":[["0x05","0x01"],["0x02"]]}`, true},
		{`{"topics":["0x02"]}`, false},
		{`{"topics":[null,null,"0x03"]}`, false},
	}
	for _, c := range cases {
		f, err := parseLogFilter(json.RawMessage(c.filter))
		if err != nil {
			t.Fatalf("%s: %v", c.filter, err)
		}
		if got := f.match(l); got != c.want {
			t.Errorf("%s: %v, want %v", c.filter, got, c.want)
		}
	}
	if _, err := parseLogFilter(json.RawMessage(`{"topics":[1]}`)); err == nil {
		t.Error("numeric topic accepted")
	}
}

func TestSeenSetIsBounded(t *testing.T) {
	s := newSeenSet(3)
	for _, v := range []string{"a", "b", "a", "c", "d"} {
		s.add(v)
	}
	if len(s.set) != 3 || s.set["a"] {
		t.Fatalf("set %v", s.set)
	}
	if s.add("d") || !s.add("a") {
		t.Fatal("dedup wrong")
	}
}
