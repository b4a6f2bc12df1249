package upstream

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/rpcmesh/rpcmesh/internal/config"
	"github.com/rpcmesh/rpcmesh/internal/fakenode"
	"github.com/rpcmesh/rpcmesh/internal/upstream/transport/wstest"
)

// TestDroppedNewHeadsFeedIsNotFresh: once a provider's newHeads
// connection ends, the heads it brought keep nothing fresh: the health
// loop polls at its full pace again at once (a node that went down is
// found by its polls within the breaker's failures, not a few seconds
// later).
func TestDroppedNewHeadsFeedIsNotFresh(t *testing.T) {
	n := fakenode.Start("a", fakenode.NewChain(7, 1000))
	defer n.Close()
	start, drop := make(chan struct{}), make(chan struct{})
	var dials atomic.Int32
	ws := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if dials.Add(1) > 1 {
			http.Error(w, "gone", http.StatusServiceUnavailable) // the feed does not come back
			return
		}
		c := acceptNewHeads(w, r, start)
		if c == nil {
			return
		}
		defer c.Close()
		msg := fmt.Sprintf(`{"jsonrpc":"2.0","method":"eth_subscription","params":{"subscription":"0xsub","result":{"number":"0x%x","hash":"0xh1001","parentHash":"0xh1000"}}}`, 1001)
		c.WriteMessage(websocket.TextMessage, []byte(msg))
		select {
		case <-drop:
		case <-r.Context().Done():
		}
	}))
	defer ws.Close()
	p := New(Options{ChainID: 7, Health: testHealth(),
		Provider: config.Provider{Name: "a", HTTP: n.URL(), WS: "ws" + strings.TrimPrefix(ws.URL, "http")}})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go p.Run(ctx)
	waitState(t, p, StateOK)
	close(start)
	wstest.WaitFor(t, "a head over WS", func() bool { return p.wsFresh(time.Now(), time.Hour) })
	close(drop)
	wstest.WaitFor(t, "the dropped feed no longer fresh", func() bool { return !p.wsFresh(time.Now(), time.Hour) })
}
