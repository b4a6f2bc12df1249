// Package e2e tests the WebSocket front door and subscriptions against a
// real devnet with faults, through a running gateway.
package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/rpcmesh/rpcmesh/internal/config"
	"github.com/rpcmesh/rpcmesh/internal/devnet"
	"github.com/rpcmesh/rpcmesh/internal/devnetgw"
	"github.com/rpcmesh/rpcmesh/internal/server"
)

var (
	dn      *devnet.Devnet
	gw      *server.Gateway
	wsURL   string
	httpURL string
)

func TestMain(m *testing.M) {
	devnetgw.Main(m, "wsfront e2e", gatewayConfig, func(d *devnet.Devnet, g *server.Gateway) {
		dn, gw = d, g
		wsURL, httpURL = devnetgw.WSURL(g), devnetgw.URL(g)
	})
}

// Limits the tests rely on: a small send queue so that slow clients are
// found quickly, room for many clients from one address.
const (
	testSendQueue      = 64
	testSendQueueBytes = 256 << 10
)

// gatewayConfig puts the gateway in front of every devnet node, with
// health timings scaled to 500ms blocks (as internal/server/e2e does).
func gatewayConfig(info devnet.Info) *config.Config {
	cfg := devnetgw.Config(info, "127.0.0.1:0", "")
	cfg.WebSocket.MaxConnectionsPerIP = 1000
	cfg.WebSocket.SendQueue = testSendQueue
	cfg.WebSocket.SendQueueBytes = testSendQueueBytes
	cfg.Complete()
	return cfg
}

// wsClient is a minimal JSON-RPC client over one WS connection: answers
// go to the caller, notifications to a channel per subscription.
type wsClient struct {
	conn *websocket.Conn
	wmu  sync.Mutex
	mu   sync.Mutex
	next int
	wait map[string]chan json.RawMessage // id -> answer
	subs map[string]chan json.RawMessage // subscription -> results
	subq map[string]bool                 // ids of eth_subscribe calls in flight
	done chan struct{}
	err  error // why the reader stopped, once done is closed
}

func dialWS(t *testing.T) *wsClient {
	t.Helper()
	return dialWSAt(t, wsURL)
}

// dialWSAt is dialWS to another gateway's url.
func dialWSAt(t *testing.T, url string) *wsClient {
	t.Helper()
	conn, resp, err := websocket.DefaultDialer.Dial(url, nil)
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	c := &wsClient{conn: conn, wait: map[string]chan json.RawMessage{}, subs: map[string]chan json.RawMessage{}, subq: map[string]bool{}, done: make(chan struct{})}
	go c.read()
	t.Cleanup(func() { conn.Close(); <-c.done })
	return c
}

func (c *wsClient) read() {
	defer close(c.done)
	for {
		_, msg, err := c.conn.ReadMessage()
		if err != nil {
			c.err = err
			return
		}
		var m struct {
			ID     json.RawMessage `json:"id"`
			Method string          `json:"method"`
			Params struct {
				Subscription string          `json:"subscription"`
				Result       json.RawMessage `json:"result"`
			} `json:"params"`
		}
		if err := json.Unmarshal(msg, &m); err != nil || strings.HasPrefix(strings.TrimSpace(string(msg)), "[") {
			// batches are read by callers through raw()
			c.deliver("batch", msg)
			continue
		}
		if m.Method == "eth_subscription" {
			c.mu.Lock()
			ch := c.subs[m.Params.Subscription]
			c.mu.Unlock()
			if ch == nil {
				c.err = fmt.Errorf("notification for unknown subscription %s before its answer", m.Params.Subscription)
				return
			}
			ch <- m.Params.Result
			continue
		}
		c.deliver(string(m.ID), msg)
	}
}

func (c *wsClient) deliver(id string, msg json.RawMessage) {
	c.mu.Lock()
	if c.subq[id] {
		// The subscription's channel exists before the next message is read.
		delete(c.subq, id)
		var r struct {
			Result string `json:"result"`
		}
		if json.Unmarshal(msg, &r) == nil && r.Result != "" {
			c.subs[r.Result] = make(chan json.RawMessage, 10000)
		}
	}
	ch := c.wait[id]
	delete(c.wait, id)
	c.mu.Unlock()
	if ch != nil {
		ch <- msg
	}
}

// send writes raw and waits for the answer keyed by key ("batch" for a batch).
func (c *wsClient) send(ctx context.Context, key string, raw string) (json.RawMessage, error) {
	ch := make(chan json.RawMessage, 1)
	c.mu.Lock()
	c.wait[key] = ch
	c.mu.Unlock()
	c.wmu.Lock()
	err := c.conn.WriteMessage(websocket.TextMessage, []byte(raw))
	c.wmu.Unlock()
	if err != nil {
		return nil, err
	}
	select {
	case m := <-ch:
		return m, nil
	case <-c.done:
		return nil, fmt.Errorf("connection closed: %v", c.err)
	case <-ctx.Done():
		return nil, fmt.Errorf("waiting for answer %s: %w", key, ctx.Err())
	}
}

// call sends one call and returns its result or its error.
func (c *wsClient) call(ctx context.Context, method string, params string) (json.RawMessage, error) {
	c.mu.Lock()
	c.next++
	id := fmt.Sprint(c.next)
	c.mu.Unlock()
	msg, err := c.send(ctx, id, fmt.Sprintf(`{"jsonrpc":"2.0","id":%s,"method":%q,"params":%s}`, id, method, params))
	if err != nil {
		return nil, err
	}
	var r struct {
		Result json.RawMessage `json:"result"`
		Error  *struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(msg, &r); err != nil {
		return nil, err
	}
	if r.Error != nil {
		return nil, fmt.Errorf("%s: error %d: %s", method, r.Error.Code, r.Error.Message)
	}
	return r.Result, nil
}

// subscribe opens a subscription, failing t when it cannot, and returns
// its id and the channel its results arrive on.
func (c *wsClient) subscribe(t testing.TB, ctx context.Context, params string) (string, <-chan json.RawMessage) {
	t.Helper()
	id, ch, err := c.trySubscribe(ctx, params)
	if err != nil {
		t.Fatal(err)
	}
	return id, ch
}

// trySubscribe opens a subscription; its results arrive on the channel.
// The channel is registered before the answer is read, and the reader
// fails the client if a notification came before the answer naming it.
func (c *wsClient) trySubscribe(ctx context.Context, params string) (string, <-chan json.RawMessage, error) {
	c.mu.Lock()
	c.next++
	id := fmt.Sprint(c.next)
	c.mu.Unlock()
	ans := make(chan json.RawMessage, 1)
	c.mu.Lock()
	c.wait[id] = ans
	c.subq[id] = true
	c.mu.Unlock()
	c.wmu.Lock()
	err := c.conn.WriteMessage(websocket.TextMessage, []byte(fmt.Sprintf(`{"jsonrpc":"2.0","id":%s,"method":"eth_subscribe","params":%s}`, id, params)))
	c.wmu.Unlock()
	if err != nil {
		return "", nil, err
	}
	var msg json.RawMessage
	select {
	case msg = <-ans:
	case <-c.done:
		return "", nil, fmt.Errorf("connection closed: %v", c.err)
	case <-ctx.Done():
		return "", nil, ctx.Err()
	}
	var r struct {
		Result string          `json:"result"`
		Error  json.RawMessage `json:"error"`
	}
	if err := json.Unmarshal(msg, &r); err != nil || r.Result == "" {
		return "", nil, fmt.Errorf("eth_subscribe %s: %s", params, msg)
	}
	c.mu.Lock()
	ch := c.subs[r.Result]
	c.mu.Unlock()
	return r.Result, ch, nil
}
