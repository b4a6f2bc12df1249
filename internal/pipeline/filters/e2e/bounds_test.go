package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/rpcmesh/rpcmesh/internal/config"
	"github.com/rpcmesh/rpcmesh/internal/devnetgw"
	"github.com/rpcmesh/rpcmesh/internal/jsonrpc"
	"github.com/rpcmesh/rpcmesh/internal/testwait"
)

// bounded is a gateway with small filter bounds and a short timeout.
func bounded(t *testing.T) string {
	return startGateway(t, func(c *config.Config) {
		c.Filters = config.Filters{MaxPerClient: 3, MaxTotal: 4, MaxChanges: 4, MaxChangesBytes: 1 << 20, MaxTotalBytes: 4 << 20, Timeout: config.Duration(2 * time.Second)}
	})
}

// code is the JSON-RPC error code of err (0: none).
func code(err error) int {
	var e *rpcError
	if errors.As(err, &e) {
		return e.Code
	}
	return 0
}

// TestBoundsPerClientAndTotal: a client (a remote IP) may install
// max_per_client filters, the chain max_total; past either, -32005; an
// uninstalled filter makes room again.
func TestBoundsPerClientAndTotal(t *testing.T) {
	ctx := testwait.Context(t, 60*time.Second)
	gwURL := bounded(t)
	a, b, c := from("127.0.0.1"), from("127.0.0.2"), from("127.0.0.3")
	steps := []struct {
		who  *client
		name string
		want int // error code; 0: a filter ID
	}{
		{a, "a1", 0}, {a, "a2", 0}, {a, "a3", 0},
		{a, "a4: over the client's 3", jsonrpc.CodeLimitExceeded},
		{b, "b1", 0},
		{c, "c1: over the total of 4", jsonrpc.CodeLimitExceeded},
		{b, "b2: over the total of 4", jsonrpc.CodeLimitExceeded},
	}
	var ids []string
	for _, st := range steps {
		res, err := st.who.call(ctx, gwURL, "eth_newBlockFilter", `[]`)
		if code(err) != st.want || (err == nil) != (st.want == 0) {
			t.Fatalf("%s: got %s, %v; want code %d", st.name, res, err, st.want)
		}
		if err == nil {
			var id string
			_ = json.Unmarshal(res, &id)
			ids = append(ids, id)
		} else if !strings.Contains(err.Error(), "limit exceeded") {
			t.Errorf("%s: unclear error %v", st.name, err)
		}
	}
	// Any client may uninstall by ID (as on a node); room for c then.
	if res, err := c.call(ctx, gwURL, "eth_uninstallFilter", fmt.Sprintf(`[%q]`, ids[0])); err != nil || string(res) != "true" {
		t.Fatalf("uninstall: %s %v", res, err)
	}
	if _, err := c.call(ctx, gwURL, "eth_newBlockFilter", `[]`); err != nil {
		t.Fatalf("after an uninstall: %v", err)
	}
}

// TestExpiryAndPolledFiltersLive: a filter not polled for the timeout is
// gone ("filter not found"), found by polling eth_getFilterLogs (which,
// as on a node, does not keep a filter alive); one polled with
// eth_getFilterChanges lives past several timeouts.
func TestExpiryAndPolledFiltersLive(t *testing.T) {
	ctx := testwait.Context(t, 60*time.Second)
	gwURL := bounded(t)
	idle := newFilter(t, ctx, gwURL, "eth_newFilter", `[{"address":"0x0000000000000000000000000000000000000001"}]`)
	polled := newFilter(t, ctx, gwURL, "eth_newFilter", `[{"address":"0x0000000000000000000000000000000000000001"}]`)
	start := time.Now()
	for {
		_, err := anyClient.call(ctx, gwURL, "eth_getFilterLogs", fmt.Sprintf(`[%q]`, idle))
		if err != nil {
			if code(err) != -32000 || !strings.Contains(err.Error(), "filter not found") {
				t.Fatalf("expired filter: %v", err)
			}
			break
		}
		if _, err := anyClient.call(ctx, gwURL, "eth_getFilterChanges", fmt.Sprintf(`[%q]`, polled)); err != nil {
			t.Fatalf("polled filter: %v", err)
		}
		select {
		case <-ctx.Done():
			t.Fatal("the idle filter never expired")
		case <-time.After(200 * time.Millisecond):
		}
	}
	if d := time.Since(start); d < 2*time.Second {
		t.Fatalf("expired after %v, before the 2s timeout", d)
	}
	// The polled one lives on for three more timeouts.
	for end := time.Now().Add(6 * time.Second); time.Now().Before(end); {
		if _, err := anyClient.call(ctx, gwURL, "eth_getFilterChanges", fmt.Sprintf(`[%q]`, polled)); err != nil {
			t.Fatalf("polled filter after %v: %v", time.Since(start), err)
		}
		select {
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// TestBacklogBound: a block filter not polled while more than max_changes
// blocks arrive is dropped, and says so ("filter not found").
func TestBacklogBound(t *testing.T) {
	ctx := testwait.Context(t, 60*time.Second)
	gwURL := bounded(t)
	dropped := newFilter(t, ctx, gwURL, "eth_newBlockFilter", `[]`)
	kept := newFilter(t, ctx, gwURL, "eth_newBlockFilter", `[]`)
	total := 0
	start := blockNumber(t, ctx, gwURL)
	for blockNumber(t, ctx, gwURL) < start+8 { // twice max_changes, within the timeout's polls
		var got []string
		_ = json.Unmarshal(must(t, ctx, gwURL, "eth_getFilterChanges", fmt.Sprintf(`[%q]`, kept)), &got)
		total += len(got)
		select {
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
	if total < 5 {
		t.Fatalf("the polled filter saw %d blocks", total)
	}
	_, err := anyClient.call(ctx, gwURL, "eth_getFilterChanges", fmt.Sprintf(`[%q]`, dropped))
	if code(err) != -32000 || !strings.Contains(err.Error(), "filter not found") {
		t.Fatalf("filter past max_changes: %v", err)
	}
}

// TestFiltersOverWebSocket: a filter made over WebSocket is the same
// filter over HTTP (one pipeline, one store per chain).
func TestFiltersOverWebSocket(t *testing.T) {
	ctx := testwait.Context(t, 30*time.Second)
	conn := devnetgw.DialWS(ctx, t, strings.Replace(url, "http://", "ws://", 1), nil)
	wsCall := func(ctx context.Context, method, params string) json.RawMessage {
		if err := conn.WriteMessage(websocket.TextMessage, []byte(fmt.Sprintf(`{"jsonrpc":"2.0","id":7,"method":%q,"params":%s}`, method, params))); err != nil {
			t.Fatal(err)
		}
		_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		var r struct {
			Result json.RawMessage `json:"result"`
			Error  *rpcError       `json:"error"`
		}
		if err := conn.ReadJSON(&r); err != nil || r.Error != nil {
			t.Fatalf("%s over ws: %v %v", method, err, r.Error)
		}
		return r.Result
	}
	var id string
	_ = json.Unmarshal(wsCall(ctx, "eth_newBlockFilter", `[]`), &id)
	for {
		var got []string
		_ = json.Unmarshal(must(t, ctx, url, "eth_getFilterChanges", fmt.Sprintf(`[%q]`, id)), &got)
		if len(got) > 0 {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatal("no block for the WS-made filter over HTTP")
		case <-time.After(200 * time.Millisecond):
		}
	}
	if res := wsCall(ctx, "eth_uninstallFilter", fmt.Sprintf(`[%q]`, id)); string(res) != "true" {
		t.Fatalf("uninstall over ws: %s", res)
	}
}
