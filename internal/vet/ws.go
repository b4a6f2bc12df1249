package vet

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/gorilla/websocket"

	"github.com/rpcmesh/rpcmesh/internal/head"
	"github.com/rpcmesh/rpcmesh/internal/verify"
)

// wsURLFor is the WebSocket URL of an HTTP endpoint on the same address.
func wsURLFor(url string) string {
	switch {
	case strings.HasPrefix(url, "https://"):
		return "wss://" + strings.TrimPrefix(url, "https://")
	case strings.HasPrefix(url, "http://"):
		return "ws://" + strings.TrimPrefix(url, "http://")
	}
	return url
}

// checkWebSocket subscribes to newHeads and waits (bounded) for the first
// header, which must hash to what it claims and, when not above the
// agreed head, be the agreed header at its number.
func checkWebSocket(ctx context.Context, url string, ref *admitted, timeout time.Duration) WSResult {
	var r WSResult
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	d := websocket.Dialer{Proxy: nil, HandshakeTimeout: timeout}
	conn, _, err := d.DialContext(ctx, url, http.Header{})
	if err != nil {
		r.Error = fmt.Sprintf("connect %s: %v", url, err)
		return r
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	defer stop()
	conn.SetReadLimit(maxAnswerBytes)
	r.Connected = true
	start := time.Now()
	if err := conn.WriteJSON(map[string]any{"jsonrpc": "2.0", "id": 1, "method": "eth_subscribe", "params": []string{"newHeads"}}); err != nil {
		r.Error = fmt.Sprintf("send eth_subscribe: %v", err)
		return r
	}
	for {
		var msg struct {
			ID     json.RawMessage `json:"id"`
			Result json.RawMessage `json:"result"`
			Error  *RPCError       `json:"error"`
			Method string          `json:"method"`
			Params struct {
				Result json.RawMessage `json:"result"`
			} `json:"params"`
		}
		if err := conn.ReadJSON(&msg); err != nil {
			if ctx.Err() != nil {
				r.Error = fmt.Sprintf("no newHeads notification within %s", timeout)
			} else {
				r.Error = fmt.Sprintf("read: %v", err)
			}
			return r
		}
		switch {
		case msg.Error != nil:
			r.Error = "eth_subscribe newHeads: " + msg.Error.Error()
			return r
		case len(msg.ID) > 0:
			r.Subscribed = true
		case msg.Method == "eth_subscription":
			if err := checkNewHead(ctx, msg.Params.Result, ref); err != nil {
				r.Error = err.Error()
				return r
			}
			r.NewHeads++
			r.FirstAfterMs = float64(time.Since(start).Microseconds()) / 1000
			return r
		}
	}
}

// checkNewHead checks one newHeads header.
func checkNewHead(ctx context.Context, raw json.RawMessage, ref *admitted) error {
	b, err := head.ParseHeader(raw)
	if err != nil {
		return fmt.Errorf("newHeads notification: %w", err)
	}
	if _, err := verify.VerifyHeader(raw, common.HexToHash(b.Hash)); err != nil {
		return fmt.Errorf("newHeads header %d: %w", b.Number, err)
	}
	if b.Number > ref.latest() {
		return nil
	}
	h, err := ref.header(ctx, b.Number)
	if err == nil && h.Hash().Hex() != b.Hash {
		return fmt.Errorf("newHeads header %d is %s, the agreed one is %s", b.Number, b.Hash, h.Hash().Hex())
	}
	return nil
}

// wsFailure is the websocket criterion's failure, or nil.
func wsFailure(r WSResult, optional bool) *Failure {
	if r.NewHeads > 0 || optional && !r.Connected {
		return nil
	}
	reason := "no WebSocket support"
	switch {
	case r.Connected && !r.Subscribed:
		reason = "eth_subscribe newHeads refused"
	case r.Subscribed:
		reason = "newHeads subscription unhealthy"
	}
	return &Failure{Criterion: CritWebSocket, Reason: reason, Evidence: []string{r.Error}}
}
