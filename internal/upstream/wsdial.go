package upstream

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/gorilla/websocket"

	"github.com/rpcmesh/rpcmesh/internal/redact"
)

// DialSubscription dials a provider's WS endpoint and sends
// eth_subscribe(kind) with id 1; the caller reads the answer and the
// notifications. The connection is closed when ctx ends or stop is called.
// Nothing of a client's identity is sent; no proxy is used.
func DialSubscription(ctx context.Context, url, kind string, timeout time.Duration) (conn *websocket.Conn, stop func(), err error) {
	conn, err = dialWS(ctx, &websocket.Dialer{HandshakeTimeout: timeout}, url)
	if err != nil {
		return nil, nil, err
	}
	done := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
		case <-done:
		}
		conn.Close()
	}()
	stop = func() { close(done) }
	conn.SetReadLimit(1 << 20)
	_ = conn.SetWriteDeadline(time.Now().Add(timeout))
	if err := conn.WriteMessage(websocket.TextMessage, []byte(`{"jsonrpc":"2.0","id":1,"method":"eth_subscribe","params":["`+kind+`"]}`)); err != nil {
		stop()
		return nil, nil, fmt.Errorf("%s: eth_subscribe %s: %w", redact.URL(url), kind, redact.Error(err, url))
	}
	return conn, stop, nil
}

// dialWS dials url with d, sending nothing of a client's identity and
// never through a proxy (d.Proxy is ignored).
func dialWS(ctx context.Context, d *websocket.Dialer, url string) (*websocket.Conn, error) {
	d.Proxy = nil
	conn, resp, err := d.DialContext(ctx, url, http.Header{"User-Agent": {"rpcmesh"}})
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", redact.URL(url), redact.Error(err, url))
	}
	return conn, nil
}
