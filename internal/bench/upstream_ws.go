package bench

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// wsMaxInFlight bounds the messages one WebSocket session answers at once
// when Latency is set (without latency it answers them one by one).
const wsMaxInFlight = 256

var upgrader = websocket.Upgrader{
	ReadBufferSize:  4096,
	WriteBufferSize: 4096,
	CheckOrigin:     func(*http.Request) bool { return true },
}

func isWebSocketUpgrade(r *http.Request) bool { return websocket.IsWebSocketUpgrade(r) }

// wsSessions tracks open WebSocket sessions so Close can end them (an
// http.Server does not close hijacked connections).
type wsSessions struct {
	mu     sync.Mutex
	conns  map[*websocket.Conn]struct{}
	closed bool
	wg     sync.WaitGroup
}

func (s *wsSessions) init() { s.conns = make(map[*websocket.Conn]struct{}) }

func (s *wsSessions) add(c *websocket.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.conns[c] = struct{}{}
	s.wg.Add(1)
	return true
}

func (s *wsSessions) remove(c *websocket.Conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	s.wg.Done()
}

// Close ends every WebSocket session and waits for their goroutines to return.
// The HTTP side has no state to release; close the http.Server serving it.
func (u *Upstream) Close() error {
	u.stop()
	u.ws.mu.Lock()
	u.ws.closed = true
	for c := range u.ws.conns {
		_ = c.Close()
	}
	u.ws.mu.Unlock()
	u.ws.wg.Wait()
	return nil
}

// serveWS answers each text message on one connection like a POST body.
func (u *Upstream) serveWS(w http.ResponseWriter, r *http.Request) {
	c, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return // the upgrader has answered the client
	}
	if !u.ws.add(c) {
		_ = c.Close()
		return
	}
	defer u.ws.remove(c)
	defer c.Close()
	c.SetReadLimit(u.maxBody)

	ctx, cancel := context.WithCancel(u.ctx) // Close ends delayed answers at once
	defer cancel()
	var (
		writeMu  sync.Mutex
		inFlight sync.WaitGroup
		slots    = make(chan struct{}, wsMaxInFlight)
	)
	defer inFlight.Wait()
	var out []byte // the response buffer of messages answered in turn
	reply := func(resp []byte) {
		writeMu.Lock()
		defer writeMu.Unlock()
		_ = c.SetWriteDeadline(time.Now().Add(10 * time.Second))
		if err := c.WriteMessage(websocket.TextMessage, resp); err != nil {
			_ = c.Close() // the read loop sees the error and ends the session
		}
	}
	for {
		_, msg, err := c.ReadMessage()
		if err != nil {
			cancel()
			return
		}
		if u.opts.Latency <= 0 {
			out = u.appendHandle(out[:0], msg)
			reply(out)
			continue
		}
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return
		}
		inFlight.Add(1)
		go func() {
			defer inFlight.Done()
			defer func() { <-slots }()
			if sleepCtx(ctx, u.opts.Latency) {
				reply(u.Handle(msg))
			}
		}()
	}
}

// sleepCtx waits d, or less if ctx ends first; it reports whether ctx is still live.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
