package subscribe

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/jsonrpc"
	"github.com/rpcmesh/rpcmesh/internal/testwait"
)

// filterNode is a provider that serves pending transaction filters the way
// go-ethereum does (Caller).
type filterNode struct {
	mu      sync.Mutex
	filters map[string][]string // filter ID -> hashes not yet polled
	next    int
	calls   map[string]int
}

func newFilterNode() *filterNode {
	return &filterNode{filters: map[string][]string{}, calls: map[string]int{}}
}

func (n *filterNode) Call(_ context.Context, method string, params json.RawMessage) (json.RawMessage, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.calls[method]++
	var args []string
	_ = json.Unmarshal(params, &args)
	switch method {
	case "eth_newPendingTransactionFilter":
		n.next++
		id := fmt.Sprintf("0x%x", n.next)
		n.filters[id] = nil
		return json.RawMessage(`"` + id + `"`), nil
	case "eth_getFilterChanges":
		hashes, ok := n.filters[args[0]]
		if !ok {
			return nil, &jsonrpc.Error{Code: -32000, Message: "filter not found"}
		}
		n.filters[args[0]] = nil
		b, _ := json.Marshal(append([]string{}, hashes...))
		return b, nil
	case "eth_uninstallFilter":
		_, ok := n.filters[args[0]]
		delete(n.filters, args[0])
		return json.RawMessage(boolText(ok)), nil
	}
	return nil, &jsonrpc.Error{Code: -32601, Message: "no " + method}
}

func boolText(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

// pool adds hashes to the node's pool: every filter sees them.
func (n *filterNode) pool(hashes ...string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for id := range n.filters {
		n.filters[id] = append(n.filters[id], hashes...)
	}
}

// restart drops every filter, as a node restart does.
func (n *filterNode) restart() {
	n.mu.Lock()
	defer n.mu.Unlock()
	clear(n.filters)
}

func (n *filterNode) filterCount() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return len(n.filters)
}

// made is how many filters the node has made.
func (n *filterNode) made() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.calls["eth_newPendingTransactionFilter"]
}

// polls is how many times the node answered eth_getFilterChanges.
func (n *filterNode) polls() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.calls["eth_getFilterChanges"]
}

// waitFor polls cond until it holds, failing the test after 5 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testwait.For(t, 5*time.Second, what, cond)
}

// waitPolledPast waits until every node has answered three more polls: a
// poll's hashes reach the hub's merger before the next poll starts, and
// the poll in flight now may have read the filter before its latest hashes.
func waitPolledPast[N interface{ polls() int }](t *testing.T, nodes ...N) {
	t.Helper()
	for _, n := range nodes {
		from := n.polls()
		waitFor(t, "three more polls", func() bool { return n.polls() >= from+3 })
	}
}

func txHash(i int) string { return fmt.Sprintf("0x%064x", i) }

// counts decodes pending notifications into hash -> times seen.
func counts(t *testing.T, got []json.RawMessage) map[string]int {
	t.Helper()
	m := map[string]int{}
	for _, raw := range got {
		var h string
		if err := json.Unmarshal(raw, &h); err != nil {
			t.Fatalf("notification %s: %v", raw, err)
		}
		m[h]++
	}
	return m
}

// fixed is a hub's pending sources that never change.
func fixed(sources ...PendingSource) func() []PendingSource {
	return func() []PendingSource { return sources }
}

func startPendingHub(t *testing.T, sources func() []PendingSource) *Hub {
	t.Helper()
	f := newFakeChain()
	h := New(Options{Head: f, Fetch: f, Poll: 5 * time.Millisecond, Pending: sources,
		PendingPoll: 10 * time.Millisecond, PendingFallback: 100 * time.Millisecond, CallTimeout: time.Second})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); h.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return h
}

// TestPendingPolledWithoutWS: providers without WS are polled; hashes
// several report arrive once; a filter the node lost is made again; the
// filters are removed when the last subscriber leaves.
func TestPendingPolledWithoutWS(t *testing.T) {
	a, b := newFilterNode(), newFilterNode()
	h := startPendingHub(t, fixed(PendingSource{Name: "a", Poll: a}, PendingSource{Name: "b", Poll: b}))
	if a.filterCount() != 0 {
		t.Fatal("filter made before anyone subscribed")
	}
	var got collector
	id, err := h.Subscribe(KindPending, nil, got.sink)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "both filters", func() bool { return a.filterCount() == 1 && b.filterCount() == 1 })
	a.pool(txHash(1), txHash(2))
	b.pool(txHash(2), txHash(1))
	got.wait(t, 2)

	a.restart()
	waitFor(t, "a's filter made again", func() bool { return a.filterCount() == 1 })
	a.pool("0x" + strings.ToUpper(txHash(0xabc)[2:])) // clients get it in lower case
	b.pool(txHash(1))                                 // already sent
	got.wait(t, 3)

	// Copies would reach the merger before the hashes polled after them:
	// a last hash, pooled once both nodes were polled past the copies.
	waitPolledPast(t, a, b)
	a.pool(txHash(0xdef))
	waitFor(t, "the last hash", func() bool { return counts(t, got.all())[txHash(0xdef)] > 0 })
	m := counts(t, got.all())
	for _, want := range []string{txHash(1), txHash(2), txHash(0xabc), txHash(0xdef)} {
		if m[want] != 1 {
			t.Errorf("%s seen %d times: %v", want, m[want], m)
		}
	}
	if len(m) != 4 {
		t.Errorf("notifications %v", m)
	}

	h.Unsubscribe(id)
	waitFor(t, "filters removed", func() bool { return a.filterCount() == 0 && b.filterCount() == 0 })
}

// TestPendingPolledWhileWSDown: a provider whose WS feed cannot be reached
// is polled once the feed has been down for the fallback bound.
func TestPendingPolledWhileWSDown(t *testing.T) {
	a := newFilterNode()
	start := time.Now()
	h := startPendingHub(t, fixed(PendingSource{Name: "a", WS: "ws://127.0.0.1:1/", Poll: a}))
	var got collector
	if _, err := h.Subscribe(KindPending, nil, got.sink); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a filter", func() bool { return a.filterCount() == 1 })
	if d := time.Since(start); d < 100*time.Millisecond {
		t.Errorf("polling began after %s, before the fallback bound", d)
	}
	a.pool(txHash(7))
	if m := counts(t, got.wait(t, 1)); m[txHash(7)] != 1 {
		t.Fatalf("notifications %v", m)
	}
}

func TestFilterPollerErrors(t *testing.T) {
	cases := []struct {
		name      string
		worked    bool  // the filter had answered before
		err       error // what eth_getFilterChanges answers
		failures  int   // failed polls before this one
		wantGone  bool  // made again at once
		wantReset bool  // the filter is dropped
	}{
		{"lost after working", true, &jsonrpc.Error{Code: -32000, Message: "filter not found"}, 0, true, true},
		{"nethermind wording", true, &jsonrpc.Error{Code: -32000, Message: "Filter with id: '0x1' does not exist."}, 0, true, true},
		{"lost before ever answering", false, &jsonrpc.Error{Code: -32000, Message: "filter not found"}, 0, false, false},
		{"other node error", true, &jsonrpc.Error{Code: -32000, Message: "busy"}, 0, false, false},
		{"third failure in a row", true, fmt.Errorf("connection refused"), maxFilterFailures - 1, false, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			call := callerFunc(func(context.Context, string, json.RawMessage) (json.RawMessage, error) { return nil, tc.err })
			f := &filterPoller{name: "p", call: call, timeout: time.Second, id: "0x1", worked: tc.worked, failures: tc.failures}
			_, err := f.poll(context.Background())
			if err == nil {
				t.Fatal("no error")
			}
			if gone := errors.Is(err, errFilterGone); gone != tc.wantGone {
				t.Errorf("gone %v, want %v (%v)", gone, tc.wantGone, err)
			}
			if reset := f.id == ""; reset != tc.wantReset {
				t.Errorf("filter dropped %v, want %v", reset, tc.wantReset)
			}
		})
	}
}

type callerFunc func(context.Context, string, json.RawMessage) (json.RawMessage, error)

func (f callerFunc) Call(ctx context.Context, method string, params json.RawMessage) (json.RawMessage, error) {
	return f(ctx, method, params)
}
