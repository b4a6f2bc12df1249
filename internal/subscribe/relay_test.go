package subscribe

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/gorilla/websocket"
)

// wsRelay stands between the hub and a node's WebSocket endpoint, so that
// a test can see what it cannot see in the hub: that the node has answered
// the hub's eth_subscribe, and where in the stream the node's messages
// stand (a notification the relay slips in comes after all the node sent
// before).
type wsRelay struct {
	url string
	up  chan struct{} // closed at the node's answer to eth_subscribe

	once sync.Once
	mu   sync.Mutex
	hub  *websocket.Conn // the hub's side; nil before it dials
}

func startRelay(t *testing.T, nodeWS string) *wsRelay {
	t.Helper()
	r := &wsRelay{up: make(chan struct{})}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		hub, err := (&websocket.Upgrader{}).Upgrade(w, req, nil)
		if err != nil {
			return
		}
		defer hub.Close()
		node, resp, err := websocket.DefaultDialer.Dial(nodeWS, nil)
		if resp != nil && resp.Body != nil {
			resp.Body.Close()
		}
		if err != nil {
			return
		}
		defer node.Close()
		r.mu.Lock()
		r.hub = hub
		r.mu.Unlock()
		go func() { // the hub's calls to the node
			defer node.Close()
			for {
				kind, msg, err := hub.ReadMessage()
				if err != nil || node.WriteMessage(kind, msg) != nil {
					return
				}
			}
		}()
		for {
			kind, msg, err := node.ReadMessage()
			if err != nil {
				return
			}
			r.mu.Lock()
			err = hub.WriteMessage(kind, msg)
			r.mu.Unlock()
			if err != nil {
				return
			}
			var answer struct{ ID json.RawMessage }
			if json.Unmarshal(msg, &answer) == nil && string(answer.ID) == "1" {
				r.once.Do(func() { close(r.up) })
			}
		}
	}))
	t.Cleanup(srv.Close)
	r.url = "ws" + strings.TrimPrefix(srv.URL, "http")
	return r
}

// inject sends the hub a pending transaction notification of its own,
// after everything the node sent so far.
func (r *wsRelay) inject(hash string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.hub == nil {
		return fmt.Errorf("the hub never dialled the relay")
	}
	return r.hub.WriteMessage(websocket.TextMessage,
		fmt.Appendf(nil, `{"jsonrpc":"2.0","method":"eth_subscription","params":{"subscription":"0x1","result":%q}}`, hash))
}
