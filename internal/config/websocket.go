package config

import "time"

// WebSocket bounds what one WebSocket client may cost the gateway. The WS
// front door serves ws://host/{chain} on the HTTP listener; its calls also
// obey the limits section (batch items, request timeout, answer sizes).
type WebSocket struct {
	Enabled                 bool     `yaml:"enabled"`                    // default true
	MaxConnectionsPerIP     int      `yaml:"max_connections_per_ip"`     // 64
	MaxSubscriptionsPerConn int      `yaml:"max_subscriptions_per_conn"` // 64
	MaxMessageBytes         int64    `yaml:"max_message_bytes"`          // 1 MiB (one client message)
	MaxInflightPerConn      int      `yaml:"max_inflight_per_conn"`      // 16 messages answered at once
	SendQueue               int      `yaml:"send_queue"`                 // 512 messages; a client that lets it fill is disconnected (close 1008)
	SendQueueBytes          int64    `yaml:"send_queue_bytes"`           // 8 MiB queued for one client, same rule (one larger answer may pass alone)
	WriteTimeout            Duration `yaml:"write_timeout"`              // 10s for one message to the client
	PingInterval            Duration `yaml:"ping_interval"`              // 30s
	PongTimeout             Duration `yaml:"pong_timeout"`               // 60s without any frame from the client closes it
	IdleTimeout             Duration `yaml:"idle_timeout"`               // 5m without calls and without subscriptions closes it
	// PendingPollInterval is how often a provider without a working WS
	// feed is asked for new pending transactions (eth_getFilterChanges)
	// while clients subscribe to newPendingTransactions: 1s.
	PendingPollInterval Duration `yaml:"pending_poll_interval"`
	// PendingWSFallback is how long a provider's WS pending transaction
	// feed may be down before it is polled instead: 10s.
	PendingWSFallback Duration `yaml:"pending_ws_fallback"`
}

// maxPendingPollInterval keeps polls well inside the time nodes keep an
// unpolled filter (5 minutes on go-ethereum).
const maxPendingPollInterval = Duration(time.Minute)

// DefaultWebSocket returns the default WebSocket limits.
func DefaultWebSocket() WebSocket {
	return WebSocket{
		Enabled:                 true,
		MaxConnectionsPerIP:     64,
		MaxSubscriptionsPerConn: 64,
		MaxMessageBytes:         1 << 20,
		MaxInflightPerConn:      16,
		SendQueue:               512,
		SendQueueBytes:          8 << 20,
		WriteTimeout:            Duration(10 * time.Second),
		PingInterval:            Duration(30 * time.Second),
		PongTimeout:             Duration(60 * time.Second),
		IdleTimeout:             Duration(5 * time.Minute),
		PendingPollInterval:     Duration(time.Second),
		PendingWSFallback:       Duration(10 * time.Second),
	}
}

func (v *validator) websocket(w *WebSocket) {
	if !w.Enabled {
		return
	}
	v.atLeastOne("websocket.max_connections_per_ip", int64(w.MaxConnectionsPerIP))
	v.atLeastOne("websocket.max_subscriptions_per_conn", int64(w.MaxSubscriptionsPerConn))
	v.atLeastOne("websocket.max_message_bytes", w.MaxMessageBytes)
	v.atLeastOne("websocket.max_inflight_per_conn", int64(w.MaxInflightPerConn))
	v.atLeastOne("websocket.send_queue", int64(w.SendQueue))
	v.atLeastOne("websocket.send_queue_bytes", w.SendQueueBytes)
	v.positive("websocket.write_timeout", w.WriteTimeout)
	v.positive("websocket.ping_interval", w.PingInterval)
	v.positive("websocket.pong_timeout", w.PongTimeout)
	v.positive("websocket.idle_timeout", w.IdleTimeout)
	v.positive("websocket.pending_poll_interval", w.PendingPollInterval)
	v.positive("websocket.pending_ws_fallback", w.PendingWSFallback)
	if w.PendingPollInterval > maxPendingPollInterval {
		v.errorf("websocket.pending_poll_interval", "%s is over %s: nodes drop a filter that is not polled for a few minutes", w.PendingPollInterval, maxPendingPollInterval)
	}
	if w.PongTimeout > 0 && w.PongTimeout <= w.PingInterval {
		v.errorf("websocket.pong_timeout", "%s must be longer than websocket.ping_interval (%s): clients would be closed between two pings", w.PongTimeout, w.PingInterval)
	}
}
