package config

import (
	"strings"
	"testing"
	"time"
)

func TestWebSocketValidation(t *testing.T) {
	valid := oneChainConfig
	if err := valid().Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	cases := []struct {
		name  string
		edit  func(*WebSocket)
		field string
	}{
		{"zero send queue", func(w *WebSocket) { w.SendQueue = 0 }, "websocket.send_queue"},
		{"zero queue bytes", func(w *WebSocket) { w.SendQueueBytes = 0 }, "websocket.send_queue_bytes"},
		{"pong not after ping", func(w *WebSocket) { w.PongTimeout = Duration(10 * time.Second) }, "websocket.pong_timeout"},
		{"zero per-ip", func(w *WebSocket) { w.MaxConnectionsPerIP = 0 }, "websocket.max_connections_per_ip"},
		{"zero pending poll", func(w *WebSocket) { w.PendingPollInterval = 0 }, "websocket.pending_poll_interval"},
		{"pending poll past filter timeout", func(w *WebSocket) { w.PendingPollInterval = Duration(5 * time.Minute) }, "websocket.pending_poll_interval"},
		{"negative ws fallback", func(w *WebSocket) { w.PendingWSFallback = Duration(-time.Second) }, "websocket.pending_ws_fallback"},
	}
	for _, tc := range cases {
		c := valid()
		tc.edit(&c.WebSocket)
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("%s: %v, want an error naming %s", tc.name, err, tc.field)
		}
	}
	c := valid()
	c.WebSocket.Enabled = false
	c.WebSocket.SendQueue = 0
	if err := c.Validate(); err != nil {
		t.Errorf("disabled websocket still validated: %v", err)
	}
}

func TestWebSocketFromYAML(t *testing.T) {
	c := parseWant(t, `
websocket:
  send_queue: 100
  idle_timeout: 1m
  pending_poll_interval: 500ms`, "")
	w := c.WebSocket
	if w.SendQueue != 100 || w.IdleTimeout.D() != time.Minute || w.MaxConnectionsPerIP != DefaultWebSocket().MaxConnectionsPerIP || !w.Enabled ||
		w.PendingPollInterval.D() != 500*time.Millisecond || w.PendingWSFallback != DefaultWebSocket().PendingWSFallback {
		t.Fatalf("websocket section %+v", w)
	}
}
