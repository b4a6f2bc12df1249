package statuspage

import (
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
)

// streamQueue is how many frames a live stream may fall behind by; past
// it frames are dropped for that stream (the next snapshot has the truth).
const streamQueue = 16

// streamHeader opens a live stream. The connection is taken over from the
// HTTP server (hijacked) so that each write gets its own deadline: the
// listener's write timeout would cut a long stream.
const streamHeader = "HTTP/1.1 200 OK\r\n" +
	"Content-Type: text/event-stream; charset=utf-8\r\n" +
	"Cache-Control: no-cache\r\n" +
	"X-Content-Type-Options: nosniff\r\n" +
	"Connection: close\r\n\r\n" +
	"retry: 2000\n\n"

// hub hands each frame Run publishes to every live stream.
type hub struct {
	mu   sync.Mutex
	subs map[chan []byte]struct{}
}

func (h *hub) subscribe() chan []byte {
	ch := make(chan []byte, streamQueue)
	h.mu.Lock()
	h.subs[ch] = struct{}{}
	h.mu.Unlock()
	return ch
}

func (h *hub) unsubscribe(ch chan []byte) {
	h.mu.Lock()
	delete(h.subs, ch)
	h.mu.Unlock()
}

func (h *hub) len() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs)
}

// publish queues f on every stream, dropping it for a stream whose queue
// is full rather than waiting for it.
func (h *hub) publish(f []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for ch := range h.subs {
		select {
		case ch <- f:
		default:
		}
	}
}

// serveEvents opens a live stream: the snapshot now, then what Run
// publishes, until the client goes away or Close. Everything happens on
// the taken-over connection, so that nothing is held for a stream the
// server never hands over.
func (p *Page) serveEvents(ctx *fasthttp.RequestCtx) {
	if ctx.IsHead() {
		ctx.Response.Header.SetContentType("text/event-stream; charset=utf-8")
		return
	}
	ctx.HijackSetNoResponse(true)
	ctx.Hijack(p.stream)
}

// stream runs one live stream on c.
func (p *Page) stream(c net.Conn) {
	write := func(b []byte) bool {
		if err := c.SetWriteDeadline(time.Now().Add(p.opts.WriteTimeout)); err != nil {
			return false
		}
		_, err := c.Write(b)
		return err == nil
	}
	if !p.enter(c) {
		write([]byte(refusal("the gateway is shutting down")))
		return
	}
	defer p.leave(c)
	select {
	case p.streams <- struct{}{}:
		defer func() { <-p.streams }()
	default:
		write([]byte(refusal("too many live status pages open: try again later")))
		return
	}
	// Subscribed before the first snapshot is taken: nothing published in
	// between is lost.
	sub := p.hub.subscribe()
	defer p.hub.unsubscribe(sub)
	if !write(append([]byte(streamHeader), frame("snapshot", p.src.Snapshot())...)) {
		return
	}
	for {
		select {
		case <-p.done:
			return
		case f := <-sub:
			if !write(f) {
				return
			}
		}
	}
}

// enter counts a stream on c in, unless the page is closed.
func (p *Page) enter(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.conns[c] = struct{}{}
	p.wg.Add(1)
	return true
}

// leave counts the stream on c out.
func (p *Page) leave(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
	p.wg.Done()
}

// refusal is a whole 503 answer for a stream that cannot open.
func refusal(msg string) string {
	return fmt.Sprintf("HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n"+
		"Retry-After: 10\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s\n", len(msg)+1, msg)
}
