package upstream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/gorilla/websocket"

	"github.com/rpcmesh/rpcmesh/internal/headerhash"
	"github.com/rpcmesh/rpcmesh/internal/upstream/transport"
)

// wsIdleTimeout is how long a newHeads subscription may stay silent before
// it is considered dead and redialled.
const wsIdleTimeout = time.Minute

// followNewHeads keeps a newHeads subscription open on the provider's WS
// endpoint and reports every head, redialling with backoff until ctx ends.
// HTTP polling goes on at a slower pace as a fallback and health check.
func (p *Provider) followNewHeads(ctx context.Context) {
	backoff := time.Second
	for ctx.Err() == nil {
		start := time.Now()
		err := p.subscribeNewHeads(ctx)
		if ctx.Err() != nil {
			return
		}
		// The feed ended: the heads it brought keep nothing fresh now, so
		// the health loop polls at its full pace again, from now on (a
		// node that went down is found by its polls at once).
		p.mu.Lock()
		p.wsHeadAt = time.Time{}
		p.mu.Unlock()
		p.Poke()
		if time.Since(start) > time.Minute {
			backoff = time.Second // it worked for a while: retry soon
		}
		p.logger.Debug("newHeads subscription ended", "err", err, "retry_in", backoff)
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		backoff = min(2*backoff, 30*time.Second)
	}
}

// subscribeNewHeads runs one subscription until it fails or ctx ends.
func (p *Provider) subscribeNewHeads(ctx context.Context) error {
	timeout := p.health.ProviderTimeout.D()
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	conn, stop, err := DialSubscription(ctx, p.cfg.WS, "newHeads", timeout)
	if err != nil {
		return fmt.Errorf("upstream %s: %w", p.name, err)
	}
	defer stop()
	_ = conn.SetReadDeadline(time.Now().Add(timeout))
	var sub string
	for sub == "" {
		var msg wsMessage
		if err := conn.ReadJSON(&msg); err != nil {
			return fmt.Errorf("upstream %s: eth_subscribe answer: %w", p.name, err)
		}
		if msg.Error != nil {
			return fmt.Errorf("upstream %s: eth_subscribe: %w", p.name, msg.Error)
		}
		if string(msg.ID) == "1" {
			if err := json.Unmarshal(msg.Result, &sub); err != nil || sub == "" {
				return fmt.Errorf("upstream %s: eth_subscribe: bad subscription id %s", p.name, msg.Result)
			}
		}
	}
	for {
		_ = conn.SetReadDeadline(time.Now().Add(wsIdleTimeout))
		var msg wsMessage
		if err := conn.ReadJSON(&msg); err != nil {
			return fmt.Errorf("upstream %s: newHeads: %w", p.name, err)
		}
		if msg.Method != "eth_subscription" || msg.Params == nil || msg.Params.Subscription != sub {
			continue
		}
		b, err := p.parseHead(msg.Params.Result)
		if errors.Is(err, headerhash.ErrMismatch) {
			continue // a lie: penalised, not a vote
		}
		if err != nil {
			return fmt.Errorf("upstream %s: newHeads: %w", p.name, err)
		}
		p.mu.Lock()
		usable := p.wrongChain == "" && p.chainChecked
		p.mu.Unlock()
		if usable { // a provider on the wrong chain must not vote on our head
			p.reportHead(ctx, b, true, false)
		}
	}
}

// wsMessage is an answer or a notification on the WS connection.
type wsMessage struct {
	ID     json.RawMessage `json:"id"`
	Result json.RawMessage `json:"result"`
	Error  *wsError        `json:"error"`
	Method string          `json:"method"`
	Params *struct {
		Subscription string          `json:"subscription"`
		Result       json.RawMessage `json:"result"`
	} `json:"params"`
}

// wsError is an error object on the WS connection.
type wsError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

// Error formats the code and message.
func (e *wsError) Error() string { return fmt.Sprintf("error %d: %s", e.Code, e.Message) }

// wsFresh reports whether a WS head arrived within d.
func (p *Provider) wsFresh(now time.Time, d time.Duration) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return !p.wsHeadAt.IsZero() && now.Sub(p.wsHeadAt) < d
}

// DialSubscription dials a provider's WS endpoint and sends
// eth_subscribe(kind) with id 1; the caller reads the answer and the
// notifications. The connection is closed when ctx ends or stop is called.
// Nothing of a client's identity is sent; no proxy is used.
func DialSubscription(ctx context.Context, url, kind string, timeout time.Duration) (conn *websocket.Conn, stop func(), err error) {
	return transport.DialSubscription(ctx, url, kind, timeout)
}
