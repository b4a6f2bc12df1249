package upstream

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

func TestURLHostHidesPathAndCredentials(t *testing.T) {
	cases := []struct{ in, want string }{
		{"wss://mainnet.example.io/ws/v3/0123456789abcdef", "wss://mainnet.example.io"},
		{"ws://user:secret@10.0.0.5:8546/key", "ws://10.0.0.5:8546"},
		{"ws://127.0.0.1:8546", "ws://127.0.0.1:8546"},
		{"::not a url", "the provider's ws URL"},
	}
	for _, c := range cases {
		if got := urlHost(c.in); got != c.want {
			t.Errorf("urlHost(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

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
