package redact

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
)

func TestError(t *testing.T) {
	tests := []struct {
		name, raw string
		err       error
	}{
		{"key in the path", "https://mainnet.example.io/v3/KEY123456", fmt.Errorf("post https://mainnet.example.io/v3/KEY123456: %w", context.DeadlineExceeded)},
		{"key in the query", "https://node.example.com/rpc?apikey=KEY123456", &url.Error{Op: "Post", URL: "https://node.example.com/rpc?apikey=KEY123456", Err: context.DeadlineExceeded}},
		{"key as the user", "https://KEY123456@node.example.com", &url.Error{Op: "Post", URL: "https://KEY123456@node.example.com", Err: context.DeadlineExceeded}},
		{"key as the password", "https://user:KEY123456@node.example.com/", fmt.Errorf("dial user:KEY123456@node.example.com: %w", context.DeadlineExceeded)},
		{"escaped key in the query", "https://node.example.com/?k=KEY123456%2F", errors.New("GET /?k=KEY123456%2F and /?k=KEY123456/")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Error(tt.err, tt.raw)
			if msg := err.Error(); strings.Contains(msg, "KEY123456") {
				t.Errorf("the key in %q", msg)
			}
			if errors.Is(tt.err, context.DeadlineExceeded) && !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("the cause is lost: %v", err)
			}
		})
	}
	if Error(nil, "https://a/b") != nil {
		t.Error("nil became an error")
	}
}

func TestURLHidesPathAndCredentials(t *testing.T) {
	cases := []struct{ in, want string }{
		{"wss://mainnet.example.io/ws/v3/0123456789abcdef", "wss://mainnet.example.io"},
		{"ws://user:secret@10.0.0.5:8546/key", "ws://10.0.0.5:8546"},
		{"https://user:KEY@node.example.com:8545/v3/KEY?x=KEY", "https://node.example.com:8545"},
		{"ws://127.0.0.1:8546", "ws://127.0.0.1:8546"},
		{"::not a url", "the provider's URL"},
	}
	for _, c := range cases {
		if got := URL(c.in); got != c.want {
			t.Errorf("URL(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
