package wsfront

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/valyala/fasthttp"

	"github.com/rpcmesh/rpcmesh/internal/config"
	"github.com/rpcmesh/rpcmesh/internal/head"
	"github.com/rpcmesh/rpcmesh/internal/subscribe"
	"github.com/rpcmesh/rpcmesh/internal/testwait"
)

// recorder is an Observer that keeps what it was told.
type recorder struct {
	mu       sync.Mutex
	accepted int
	open     int
	rejected map[string]int
	closed   map[int]int
	slow     int
	subs     map[string]int // kind -> active
	peakSubs map[string]int
}

func newRecorder() *recorder {
	return &recorder{rejected: map[string]int{}, closed: map[int]int{}, subs: map[string]int{}, peakSubs: map[string]int{}}
}

func (r *recorder) ConnAccepted(chain string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.accepted++
	r.open++
}

func (r *recorder) ConnRejected(chain, reason string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rejected[reason]++
}

func (r *recorder) ConnClosed(chain string, code int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.open--
	r.closed[code]++
}

func (r *recorder) SlowReader(chain string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.slow++
}

func (r *recorder) Subscriptions(chain, kind string, delta int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.subs[kind] += delta
	r.peakSubs[kind] = max(r.peakSubs[kind], r.subs[kind])
}

// waitFor polls cond (under the recorder's lock) for up to 5 s.
func (r *recorder) waitFor(t *testing.T, what string, cond func(*recorder) bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := testwait.Until(ctx, what, func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		return cond(r)
	})
	if err != nil {
		r.mu.Lock()
		defer r.mu.Unlock()
		t.Fatalf("%v: accepted %d open %d rejected %v closed %v slow %d subs %v",
			err, r.accepted, r.open, r.rejected, r.closed, r.slow, r.subs)
	}
}

type noHead struct{}

func (noHead) Latest() (head.Block, bool) { return head.Block{}, false }

// observedServer runs a server reporting to a new recorder; its endpoint
// has a hub (not running: subscriptions register, nothing is sent).
func observedServer(t *testing.T, edit func(*Options), sndbuf int) (*recorder, *Server, string) {
	t.Helper()
	rec := newRecorder()
	opts := Options{Limits: testLimits(), MaxBatchItems: 100, BatchConcurrency: 4, RequestTimeout: 5 * time.Second, Observer: rec}
	if edit != nil {
		edit(&opts)
	}
	ep := testEndpoint()
	ep.Hub = subscribe.New(subscribe.Options{Head: noHead{}})
	s, url := serveOpts(t, opts, ep, sndbuf)
	return rec, s, url
}

// TestObserverSeesConnectionsAndSubscriptions: accepted and rejected
// upgrades by reason, subscriptions by kind while they last, and the
// close codes of connections the client ended.
func TestObserverSeesConnectionsAndSubscriptions(t *testing.T) {
	rec, s, url := observedServer(t, func(o *Options) {
		o.Limits.MaxConnectionsPerIP = 2
		o.CheckOrigin = func(ctx *fasthttp.RequestCtx) bool {
			return string(ctx.Request.Header.Peek("Origin")) != "https://evil.example"
		}
	}, 0)
	a, b := dial(t, url, nil), dial(t, url, nil)
	refused(t, url, nil, http.StatusTooManyRequests)
	for i, kind := range []string{`"newHeads"`, `"newPendingTransactions"`, `"logs",{}`} {
		if got := roundTrip(t, a, fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"eth_subscribe","params":[%s]}`, i, kind)); !strings.Contains(got, `"result":"0x`) {
			t.Fatalf("subscribe %s: %s", kind, got)
		}
	}
	got := roundTrip(t, b, `{"jsonrpc":"2.0","id":1,"method":"eth_subscribe","params":["newHeads"]}`)
	id := got[strings.Index(got, `"result":"`)+10 : strings.LastIndex(got, `"`)]
	if got := roundTrip(t, b, `{"jsonrpc":"2.0","id":2,"method":"eth_unsubscribe","params":["`+id+`"]}`); !strings.Contains(got, "true") {
		t.Fatalf("unsubscribe: %s", got)
	}
	rec.waitFor(t, "subscriptions", func(r *recorder) bool {
		return maps.Equal(r.subs, map[string]int{"newHeads": 1, "newPendingTransactions": 1, "logs": 1}) && r.peakSubs["newHeads"] == 2
	})

	// a ends with code 1000, b with an application code; both are freed.
	_ = a.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, "bye"), time.Now().Add(time.Second))
	_ = b.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(4001, "app"), time.Now().Add(time.Second))
	rec.waitFor(t, "both closes", func(r *recorder) bool { return r.closed[1000] == 1 && r.closed[4001] == 1 })
	rec.waitFor(t, "their subscriptions ended", func(r *recorder) bool {
		return r.subs["newHeads"] == 0 && r.subs["newPendingTransactions"] == 0 && r.subs["logs"] == 0
	})

	// Refused during the upgrade: a foreign origin, a request that is no upgrade.
	refused(t, url, http.Header{"Origin": {"https://evil.example"}}, http.StatusForbidden)
	resp, err := http.Get("http" + strings.TrimPrefix(url, "ws"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c := dial(t, url, nil)
	roundTrip(t, c, `{"jsonrpc":"2.0","id":1,"method":"eth_chainId"}`)
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	refused(t, url, nil, http.StatusTooManyRequests)
	rec.waitFor(t, "the final counts", func(r *recorder) bool {
		return r.accepted == 3 && r.open == 0 && r.closed[CloseShutdown] == 1 &&
			maps.Equal(r.rejected, map[string]int{RejectPerIPLimit: 1, RejectOrigin: 1, RejectHandshake: 1, RejectShutdown: 1})
	})
}

// refused dials url and expects the upgrade to be refused with status.
func refused(t *testing.T, url string, h http.Header, status int) {
	t.Helper()
	c, resp, err := websocket.DefaultDialer.Dial(url, h)
	if err == nil {
		c.Close()
	}
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	if err == nil || resp == nil || resp.StatusCode != status {
		t.Fatalf("dial with %v: %v %v, want HTTP %d", h, err, resp, status)
	}
}

// TestObserverSeesServerCloses: the close code of connections the gateway
// ended, and slow readers, each counted once.
func TestObserverSeesServerCloses(t *testing.T) {
	cases := []struct {
		name   string
		sndbuf int
		edit   func(*Options)
		client func(t *testing.T, c *websocket.Conn)
		code   int
		slow   int
	}{
		{"message too big", 0, func(o *Options) { o.Limits.MaxMessageBytes = 1024 }, func(t *testing.T, c *websocket.Conn) {
			_ = c.WriteMessage(websocket.TextMessage, []byte(strings.Repeat("x", 2000)))
		}, websocket.CloseMessageTooBig, 0},
		{"dropped without a close frame", 0, nil, func(t *testing.T, c *websocket.Conn) {
			roundTrip(t, c, `{"jsonrpc":"2.0","id":1,"method":"eth_chainId"}`)
			c.UnderlyingConn().Close()
		}, websocket.CloseAbnormalClosure, 0},
		{"slow reader", 64 << 10, func(o *Options) { o.Limits.WriteTimeout = config.Duration(time.Second) }, func(t *testing.T, c *websocket.Conn) {
			for i := range 600 { // 600 × 16 KiB asked, nothing read
				if c.WriteMessage(websocket.TextMessage, []byte(fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"big"}`, i))) != nil {
					return // the server closed
				}
			}
		}, CloseSlowReader, 1},
		// The queue is large enough; the socket write times out instead, and
		// the connection ends at once, not at the (minute-long) pong deadline.
		{"write timed out", 64 << 10, func(o *Options) {
			o.Limits.WriteTimeout = config.Duration(time.Second)
			o.Limits.SendQueue, o.Limits.SendQueueBytes = 1000, 64<<20
			o.Limits.PongTimeout = config.Duration(time.Minute)
		}, func(t *testing.T, c *websocket.Conn) {
			for i := range 600 {
				if c.WriteMessage(websocket.TextMessage, []byte(fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"big"}`, i))) != nil {
					return
				}
			}
		}, websocket.CloseAbnormalClosure, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec, _, url := observedServer(t, tc.edit, tc.sndbuf)
			c := dial(t, url, slowDialer)
			tc.client(t, c)
			rec.waitFor(t, "the close", func(r *recorder) bool { return r.open == 0 && r.accepted == 1 })
			rec.mu.Lock()
			defer rec.mu.Unlock()
			if !maps.Equal(rec.closed, map[int]int{tc.code: 1}) || rec.slow != tc.slow {
				t.Fatalf("closes %v slow readers %d, want {%d:1} and %d", rec.closed, rec.slow, tc.code, tc.slow)
			}
		})
	}
}
