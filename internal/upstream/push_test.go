package upstream

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/config"
	"github.com/rpcmesh/rpcmesh/internal/head"
)

// pushNode answers eth_blockNumber with block 101 and any other call with
// "0x1", single calls and batches, over HTTP and WebSocket. A call whose
// params hold "hold" waits until release is closed.
type pushNode struct {
	release chan struct{}
	once    sync.Once

	mu    sync.Mutex
	sizes []int // calls per request that reached it
}

// answer answers the message of a call or batch.
func (n *pushNode) answer(t *testing.T, msg []byte) string {
	reqs, batch := parseReqs(t, msg)
	n.mu.Lock()
	n.sizes = append(n.sizes, len(reqs))
	n.mu.Unlock()
	out := make([]string, len(reqs))
	for i, r := range reqs {
		if len(r.Params) > 1 && string(r.Params[1]) == `"hold"` {
			<-n.release
		}
		res := `"0x1"`
		if r.Method == "eth_blockNumber" {
			res = `"0x65"`
		}
		out[i] = fmt.Sprintf(`{"jsonrpc":"2.0","id":%s,"result":%s}`, r.ID, res)
	}
	if batch {
		return "[" + strings.Join(out, ",") + "]"
	}
	return out[0]
}

// requests returns how many calls each request that reached the node held.
func (n *pushNode) requests() []int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]int(nil), n.sizes...)
}

// let ends every hold, once.
func (n *pushNode) let() { n.once.Do(func() { close(n.release) }) }

// TestEveryTransportsBlockNumberPushesHead: an eth_blockNumber answer above
// the provider's last head polls it at once however the call went: alone
// or in a batch, merged by the coalescer, over HTTP or over the WebSocket
// call transport (waited for or started). On b7e1cca only the single HTTP
// and WebSocket calls did.
func TestEveryTransportsBlockNumberPushesHead(t *testing.T) {
	h := testHealth()
	h.PollMinInterval = config.Duration(time.Hour) // one push per provider
	httpProvider := func(t *testing.T, n *pushNode, coalesce int) *Provider {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			msg, _ := io.ReadAll(r.Body)
			io.WriteString(w, n.answer(t, msg))
		}))
		t.Cleanup(srv.Close)
		t.Cleanup(n.let) // runs first: no handler left holding
		return New(Options{Chain: "test", ChainID: 7, Health: h,
			Provider: config.Provider{Name: "a", HTTP: srv.URL, CoalesceAbove: coalesce, CoalesceMax: 8}})
	}
	wsProviderOf := func(t *testing.T, n *pushNode) *Provider {
		srv := startWSServer(t, func(c *wsPeer, msg []byte) { c.send([]byte(n.answer(t, msg))) })
		p := wsProvider(t, srv.url(), 1, func(o *Options) { o.Health.PollMinInterval = h.PollMinInterval })
		// A connection up, so that a started call can go.
		if _, err := p.Call(timed(t, false, 5*time.Second), "eth_chainId", nil); err != nil {
			t.Fatal(err)
		}
		return p
	}
	blockNumberBatch := func(ctx context.Context, t *testing.T, p *Provider, _ *pushNode) error {
		answers, err := p.CallBatch(ctx, []BatchCall{{Method: "eth_chainId"}, {Method: "eth_blockNumber"}})
		if err != nil {
			return err
		}
		return answers[1].Err
	}
	cases := []struct {
		name string
		ws   bool
		ask  func(ctx context.Context, t *testing.T, p *Provider, n *pushNode) error
	}{
		{"HTTP call", false, func(ctx context.Context, t *testing.T, p *Provider, _ *pushNode) error {
			_, err := p.Call(ctx, "eth_blockNumber", nil)
			return err
		}},
		{"HTTP batch", false, blockNumberBatch},
		{"HTTP coalesced", false, func(ctx context.Context, t *testing.T, p *Provider, n *pushNode) error {
			held := goCall(ctx, p, "eth_getBalance", `["0x1","hold"]`)
			waitFor(t, "the held call at the node", func() bool { return len(n.requests()) == 1 })
			a := goCall(ctx, p, "eth_blockNumber", `[]`)
			b := goCall(ctx, p, "eth_gasPrice", `[]`)
			waitQueued(t, p, 2)
			n.let()
			for _, ch := range []<-chan callResult{held, a, b} {
				if r := <-ch; r.err != nil {
					return r.err
				}
			}
			if got := n.requests(); len(got) != 2 || got[1] != 2 {
				t.Fatalf("requests of %v calls, want the two waiting calls merged in one", got)
			}
			return nil
		}},
		{"WebSocket call", true, func(ctx context.Context, t *testing.T, p *Provider, _ *pushNode) error {
			_, err := p.Call(ctx, "eth_blockNumber", nil)
			return err
		}},
		{"WebSocket batch", true, blockNumberBatch},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			n := &pushNode{release: make(chan struct{})}
			var p *Provider
			if tc.ws {
				p = wsProviderOf(t, n)
			} else {
				p = httpProvider(t, n, 1)
			}
			p.head = head.Block{Number: 100}
			if err := tc.ask(ctx, t, p, n); err != nil {
				t.Fatal(err)
			}
			select {
			case <-p.poke:
			default:
				t.Fatal("an eth_blockNumber answer of 101 above the provider's head 100 did not poll it")
			}
		})
	}
}
