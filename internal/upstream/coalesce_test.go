package upstream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/config"
	"github.com/rpcmesh/rpcmesh/internal/upstream/transport/wstest"
)

// echoNode answers every call with its own params as the result, single
// calls and batches, and records the requests it got. A call whose params
// contain "hold" waits until release is closed; refuse makes it answer
// batches with HTTP 400, fail with HTTP 500.
type echoNode struct {
	release chan struct{}
	refuse  bool
	fail    bool
	once    sync.Once

	mu       sync.Mutex
	requests []int // calls per request: 1 for a single call
	methods  []string
}

func (n *echoNode) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	type call struct {
		ID     json.RawMessage `json:"id"`
		Method string          `json:"method"`
		Params json.RawMessage `json:"params"`
	}
	var calls []call
	batch := strings.HasPrefix(strings.TrimSpace(string(body)), "[")
	if batch {
		if n.refuse {
			http.Error(w, "batches not supported", http.StatusBadRequest)
			return
		}
		_ = json.Unmarshal(body, &calls)
	} else {
		var c call
		_ = json.Unmarshal(body, &c)
		calls = []call{c}
	}
	n.mu.Lock()
	n.requests = append(n.requests, len(calls))
	for _, c := range calls {
		n.methods = append(n.methods, c.Method+string(c.Params))
	}
	n.mu.Unlock()
	for _, c := range calls {
		if strings.Contains(string(c.Params), "hold") {
			<-n.release
		}
	}
	if batch && n.fail {
		http.Error(w, "overloaded", http.StatusInternalServerError)
		return
	}
	out := make([]string, len(calls))
	for i, c := range calls {
		out[i] = fmt.Sprintf(`{"jsonrpc":"2.0","id":%s,"result":%s}`, c.ID, c.Params)
	}
	if batch {
		fmt.Fprint(w, "["+strings.Join(out, ",")+"]")
		return
	}
	fmt.Fprint(w, out[0])
}

// let ends every hold (once; also when a test fails early, so that the
// server can close).
func (n *echoNode) let() { n.once.Do(func() { close(n.release) }) }

// waitAtNode waits until the node got k requests.
func (n *echoNode) waitAtNode(t *testing.T, k int) {
	t.Helper()
	wstest.WaitFor(t, fmt.Sprintf("%d requests at the node", k), func() bool { reqs, _ := n.got(); return len(reqs) >= k })
}

func (n *echoNode) got() ([]int, []string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]int(nil), n.requests...), append([]string(nil), n.methods...)
}

// coalesceProvider is a provider of n over HTTP that merges calls once
// above requests are in flight.
func coalesceProvider(t *testing.T, n *echoNode, above int) *Provider {
	t.Helper()
	srv := httptest.NewServer(n)
	t.Cleanup(srv.Close)
	t.Cleanup(n.let) // runs first: no handler left holding
	return New(Options{Chain: "test", ChainID: 1337, Health: testHealth(),
		Provider: config.Provider{Name: "n", HTTP: srv.URL, Labels: config.Labels{Operator: "op", Tier: "own"},
			CoalesceAbove: above, CoalesceMax: 32}})
}

// waitQueued waits until k calls wait in p's coalescer.
func waitQueued(t *testing.T, p *Provider, k int) {
	t.Helper()
	wstest.WaitFor(t, fmt.Sprintf("%d calls waiting in the coalescer", k), func() bool {
		p.coalesce.mu.Lock()
		defer p.coalesce.mu.Unlock()
		return len(p.coalesce.queue) == k
	})
}

type callResult struct {
	res json.RawMessage
	err error
}

// goCall calls method with params on p on a goroutine of its own.
func goCall(ctx context.Context, p *Provider, method, params string) <-chan callResult {
	ch := make(chan callResult, 1)
	go func() {
		res, err := p.Call(ctx, method, json.RawMessage(params))
		ch <- callResult{res, err}
	}()
	return ch
}

// holdFirst makes p busy: a first call, ["0xa","hold"], held at node n
// until n.let(); its answer comes on the channel.
func holdFirst(t *testing.T, ctx context.Context, p *Provider, n *echoNode) <-chan callResult {
	t.Helper()
	first := goCall(ctx, p, "eth_getBalance", `["0xa","hold"]`)
	n.waitAtNode(t, 1)
	return first
}

func TestCoalesceMergesWaitingCalls(t *testing.T) {
	n := &echoNode{release: make(chan struct{})}
	p := coalesceProvider(t, n, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	first := holdFirst(t, ctx, p, n)
	var waiting []<-chan callResult
	for i := range 5 {
		waiting = append(waiting, goCall(ctx, p, "eth_getBalance", fmt.Sprintf(`["0x%d","latest"]`, i)))
	}
	waitQueued(t, p, 5)
	// A call that is not merged goes at once, busy or not.
	if r := <-goCall(ctx, p, "eth_call", `[{"to":"0x1"},"latest"]`); r.err != nil || string(r.res) != `[{"to":"0x1"},"latest"]` {
		t.Fatalf("eth_call while busy: %s %v", r.res, r.err)
	}
	n.let()
	if r := <-first; r.err != nil || string(r.res) != `["0xa","hold"]` {
		t.Fatalf("first call: %s %v", r.res, r.err)
	}
	for i, ch := range waiting {
		r := <-ch
		if want := fmt.Sprintf(`["0x%d","latest"]`, i); r.err != nil || string(r.res) != want {
			t.Errorf("waiting call %d: %s %v, want %s", i, r.res, r.err, want)
		}
	}
	reqs, _ := n.got()
	if fmt.Sprint(reqs) != "[1 1 5]" {
		t.Errorf("requests at the node (calls each): %v, want [1 1 5]: the first alone, eth_call alone, the five waiting as one batch", reqs)
	}
	// The count drops once each request is done, which may be just after
	// its callers have their answers.
	wstest.WaitFor(t, "no request counted in flight", func() bool {
		p.coalesce.mu.Lock()
		defer p.coalesce.mu.Unlock()
		return p.coalesce.inflight == 0
	})
	if st := p.Transport(); st.Kind != "http" || st.Coalesce == nil || *st.Coalesce != (CoalesceStatus{Above: 1, Max: 32, Batches: 1, Calls: 5}) {
		t.Errorf("transport status %+v (coalesce %+v), want one batch of 5 calls", st, st.Coalesce)
	}
}

func TestCoalesceIdleProviderGetsSingleCalls(t *testing.T) {
	n := &echoNode{release: make(chan struct{})}
	p := coalesceProvider(t, n, 2)
	for i := range 4 {
		res, err := p.Call(context.Background(), "eth_getBalance", json.RawMessage(fmt.Sprintf(`["0x%d","latest"]`, i)))
		if err != nil || !strings.Contains(string(res), fmt.Sprintf("0x%d", i)) {
			t.Fatalf("call %d: %s %v", i, res, err)
		}
	}
	if reqs, _ := n.got(); fmt.Sprint(reqs) != "[1 1 1 1]" {
		t.Errorf("requests: %v, want four single calls", reqs)
	}
}

func TestCoalesceWaitingCallCancelled(t *testing.T) {
	n := &echoNode{release: make(chan struct{})}
	p := coalesceProvider(t, n, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	first := holdFirst(t, ctx, p, n)
	waitCtx, stop := context.WithCancel(ctx)
	gone := goCall(waitCtx, p, "eth_getBalance", `["0xgone","latest"]`)
	waitQueued(t, p, 1)
	stop()
	r := <-gone
	var ue *Error
	if !errors.As(r.err, &ue) || ue.Sent || ue.Class != ClassCanceled {
		t.Fatalf("a call cancelled while waiting: %v, want a cancelled call that was not sent", r.err)
	}
	n.let()
	if r := <-first; r.err != nil {
		t.Fatal(r.err)
	}
	if _, methods := n.got(); strings.Contains(fmt.Sprint(methods), "0xgone") {
		t.Errorf("the cancelled call reached the node: %v", methods)
	}
}

func TestCoalesceBatchRefusedOrFailed(t *testing.T) {
	for _, tc := range []struct {
		name string
		node *echoNode
	}{
		{"refused", &echoNode{release: make(chan struct{}), refuse: true}},
		{"failed", &echoNode{release: make(chan struct{}), fail: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := coalesceProvider(t, tc.node, 1)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			first := holdFirst(t, ctx, p, tc.node)
			var waiting []<-chan callResult
			for i := range 3 {
				waiting = append(waiting, goCall(ctx, p, "eth_getTransactionCount", fmt.Sprintf(`["0x%d","latest"]`, i)))
			}
			waitQueued(t, p, 3)
			tc.node.let()
			if r := <-first; r.err != nil {
				t.Fatal(r.err)
			}
			for i, ch := range waiting {
				r := <-ch
				if tc.node.refuse {
					// Refused: each call goes alone after all, and is answered.
					if want := fmt.Sprintf(`["0x%d","latest"]`, i); r.err != nil || string(r.res) != want {
						t.Errorf("call %d: %s %v, want %s", i, r.res, r.err, want)
					}
					continue
				}
				var ue *Error
				if !errors.As(r.err, &ue) || ue.Method != "eth_getTransactionCount" {
					t.Errorf("call %d of a failed batch: %v, want the failure named for its own method", i, r.err)
				}
			}
			if tc.node.refuse {
				if p.Batches() {
					t.Error("the provider still takes batches")
				}
				if _, err := p.Call(ctx, "eth_getBalance", json.RawMessage(`["0xb","latest"]`)); err != nil {
					t.Errorf("a call after the refusal: %v", err)
				}
			}
		})
	}
}
