package transport

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

func TestDialErrorHasNoAPIKey(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// Nothing listens on port 1.
	_, err := dialWS(ctx, &websocket.Dialer{HandshakeTimeout: time.Second}, "ws://127.0.0.1:1/v3/secretkey")
	if err == nil {
		t.Fatal("dial to a closed port succeeded")
	}
	if strings.Contains(err.Error(), "secretkey") {
		t.Errorf("dial error shows the URL's path: %v", err)
	}
}
