package upstream

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/rpcmesh/rpcmesh/internal/config"
	"github.com/rpcmesh/rpcmesh/internal/fakenode"
	"github.com/rpcmesh/rpcmesh/internal/head"
)

// acceptNewHeads upgrades r to a WebSocket, answers the client's
// eth_subscribe with subscription 0xsub and waits until start is closed;
// nil when the handshake failed or the client went first. The caller
// closes the connection.
func acceptNewHeads(w http.ResponseWriter, r *http.Request, start <-chan struct{}) *websocket.Conn {
	c, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
	if err != nil {
		return nil
	}
	if _, _, err := c.ReadMessage(); err != nil {
		c.Close()
		return nil
	}
	c.WriteMessage(websocket.TextMessage, []byte(`{"jsonrpc":"2.0","id":1,"result":"0xsub"}`))
	select {
	case <-start:
		return c
	case <-r.Context().Done():
		c.Close()
		return nil
	}
}

// newHeadsServer answers eth_subscribe and, once start is closed, pushes
// heads 1001, 1002, ... 1009, then keeps the connection until the client
// closes it.
func newHeadsServer(t *testing.T, start <-chan struct{}) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := acceptNewHeads(w, r, start)
		if c == nil {
			return
		}
		defer c.Close()
		for n := 1001; n < 1010; n++ {
			msg := fmt.Sprintf(`{"jsonrpc":"2.0","method":"eth_subscription","params":{"subscription":"0xsub","result":{"number":"0x%x","hash":"0xh%d","parentHash":"0xh%d"}}}`, n, n, n-1)
			if c.WriteMessage(websocket.TextMessage, []byte(msg)) != nil {
				return
			}
		}
		for {
			if _, _, err := c.ReadMessage(); err != nil {
				return // the client went
			}
		}
	}))
}

func TestNewHeadsOverWS(t *testing.T) {
	chain := fakenode.NewChain(7, 1000)
	n := fakenode.Start("a", chain)
	defer n.Close()
	start := make(chan struct{})
	ws := newHeadsServer(t, start)
	defer ws.Close()
	heads := make(chan head.Block, 64)
	h := testHealth()
	h.PollInterval = config.Duration(time.Hour) // only WS can deliver the later heads
	p := New(Options{
		ChainID:  7,
		Provider: config.Provider{Name: "a", HTTP: n.URL(), WS: "ws" + strings.TrimPrefix(ws.URL, "http")},
		Health:   h,
		OnHead:   func(_ *Provider, b head.Block) { heads <- b },
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go p.Run(ctx)
	// Heads of a provider whose chain ID is not yet confirmed do not count:
	// the server pushes them once it is.
	waitState(t, p, StateOK)
	close(start)
	deadline := time.After(5 * time.Second)
	for {
		select {
		case b := <-heads:
			if b.Number == 1009 {
				if got, _ := p.Head(); got.Number != 1009 || got.Parent != "0xh1008" {
					t.Fatalf("provider head %+v", got)
				}
				return
			}
		case <-deadline:
			t.Fatal("no head from newHeads")
		}
	}
}
