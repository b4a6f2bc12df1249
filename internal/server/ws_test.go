package server

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestWSMetricsOnAdmin: the WebSocket front door's metrics are on the
// admin /metrics, fed by the connections the gateway serves.
func TestWSMetricsOnAdmin(t *testing.T) {
	tg := startGateway(t, 2, nil)
	scrape := func() string {
		resp, err := http.Get("http://" + tg.gw.AdminAddr() + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	waitMetrics := func(want ...string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		for {
			body := scrape()
			missing := ""
			for _, w := range want {
				if !strings.Contains(body, w) {
					missing = w
					break
				}
			}
			if missing == "" {
				return
			}
			select {
			case <-ctx.Done():
				t.Fatalf("/metrics lacks %s", missing)
			case <-time.After(10 * time.Millisecond):
			}
		}
	}

	c := tg.dialWS(t)
	if err := c.WriteMessage(websocket.TextMessage, []byte(`{"jsonrpc":"2.0","id":1,"method":"eth_subscribe","params":["newHeads"]}`)); err != nil {
		t.Fatal(err)
	}
	if _, msg, err := c.ReadMessage(); err != nil || !strings.Contains(string(msg), `"result":"0x`) {
		t.Fatalf("eth_subscribe: %s %v", msg, err)
	}
	waitMetrics(
		`rpcmesh_ws_connections_open{chain="dev"} 1`,
		`rpcmesh_ws_connections_accepted_total{chain="dev"} 1`,
		`rpcmesh_ws_subscriptions_active{chain="dev",kind="newHeads"} 1`,
	)

	_ = c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseGoingAway, ""), time.Now().Add(time.Second))
	waitMetrics(
		`rpcmesh_ws_connections_open{chain="dev"} 0`,
		`rpcmesh_ws_disconnects_total{chain="dev",code="1001"} 1`,
		`rpcmesh_ws_subscriptions_active{chain="dev",kind="newHeads"} 0`,
	)
}

// dialWS opens a WebSocket to the gateway's chain dev, closed when the test
// ends, with a read deadline 5 s away.
func (tg *testGateway) dialWS(t *testing.T) *websocket.Conn {
	t.Helper()
	c, resp, err := websocket.DefaultDialer.Dial("ws://"+tg.gw.HTTPAddr()+"/dev", nil)
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	return c
}

// TestCloseEndsWebSockets: closing the gateway with a WebSocket client
// connected (a connection fasthttp has handed over and no longer waits for)
// returns without waiting for the deadline, and the client is told 1001.
func TestCloseEndsWebSockets(t *testing.T) {
	tg := startGateway(t, 1, nil)
	c := tg.dialWS(t)
	if err := c.WriteMessage(websocket.TextMessage, []byte(`{"jsonrpc":"2.0","id":1,"method":"eth_chainId"}`)); err != nil {
		t.Fatal(err)
	}
	if _, msg, err := c.ReadMessage(); err != nil || !strings.Contains(string(msg), `"result":"0x539"`) {
		t.Fatalf("eth_chainId: %s %v", msg, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := tg.gw.Close(ctx); err != nil {
		t.Fatalf("close with a WebSocket client: %v", err)
	}
	if ctx.Err() != nil {
		t.Fatal("close waited for its deadline")
	}
	_, _, err := c.ReadMessage()
	if !websocket.IsCloseError(err, websocket.CloseGoingAway) {
		t.Fatalf("after close: %v, want close 1001", err)
	}
}
