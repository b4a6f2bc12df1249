package devnetgw

import (
	"context"
	"net/http"
	"testing"

	"github.com/gorilla/websocket"
)

// DialWS opens a WebSocket to url (ws://…) for one test, with the request
// headers h (none when nil) and ctx's deadline, if it has one, as the read
// deadline. A dial that fails fails the test; the connection closes when
// the test ends.
func DialWS(ctx context.Context, t testing.TB, url string, h http.Header) *websocket.Conn {
	t.Helper()
	conn, resp, err := websocket.DefaultDialer.DialContext(ctx, url, h)
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	t.Cleanup(func() { conn.Close() })
	if d, ok := ctx.Deadline(); ok {
		_ = conn.SetReadDeadline(d)
	}
	return conn
}
