package transport

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/upstream/transport/wstest"
)

// testConn wraps the client's TCP connection: it counts the writes after
// the handshake, may slow them, and may hold them until the test says.
type testConn struct {
	net.Conn
	writes  atomic.Int64  // after the handshake
	delay   time.Duration // each write after the handshake
	gate    atomic.Bool   // hold writes until release or Close
	stall   atomic.Bool   // hold writes until their deadline
	wdl     atomic.Int64  // the write deadline, unix nanoseconds (0: none)
	blocked chan struct{} // receives when a write is held
	release chan struct{}
	closed  chan struct{}
	once    sync.Once
	shaken  atomic.Bool
}

func (c *testConn) Write(b []byte) (int, error) {
	if !c.shaken.Load() {
		c.shaken.Store(true) // the first write is the handshake request
		return c.Conn.Write(b)
	}
	c.writes.Add(1)
	var hold <-chan time.Time
	switch {
	case c.gate.Load():
		select {
		case c.blocked <- struct{}{}:
		default:
		}
		select {
		case <-c.release:
		case <-c.closed:
			return 0, net.ErrClosed
		case <-time.After(10 * time.Second):
			return 0, errors.New("test gate: held too long")
		}
	case c.stall.Load():
		d := 10 * time.Second
		if dl := c.wdl.Load(); dl != 0 {
			d = time.Duration(dl - time.Now().UnixNano())
		}
		select {
		case <-time.After(d):
			return 0, os.ErrDeadlineExceeded
		case <-c.closed:
			return 0, net.ErrClosed
		}
	case c.delay > 0:
		hold = time.After(c.delay) // a slow socket
	}
	if hold != nil {
		select {
		case <-hold:
		case <-c.closed:
			return 0, net.ErrClosed
		}
	}
	return c.Conn.Write(b)
}

func (c *testConn) SetWriteDeadline(t time.Time) error {
	var n int64
	if !t.IsZero() {
		n = t.UnixNano()
	}
	c.wdl.Store(n)
	return c.Conn.SetWriteDeadline(t)
}

func (c *testConn) Close() error {
	c.once.Do(func() { close(c.closed) })
	return c.Conn.Close()
}

// hookDial makes a transport's connections testConns, sent on the channel.
func hookDial(delay time.Duration) (func(*WSOptions), chan *testConn) {
	conns := make(chan *testConn, 8)
	var d net.Dialer
	return func(o *WSOptions) {
		o.DialTCP = func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := d.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			tc := &testConn{Conn: c, delay: delay, blocked: make(chan struct{}, 1), release: make(chan struct{}), closed: make(chan struct{})}
			conns <- tc
			return tc, nil
		}
	}, conns
}

// countingEchoServer answers every call with its echo and counts the
// frames it received.
func countingEchoServer(t *testing.T) (*wstest.Server, *atomic.Int64) {
	frames := new(atomic.Int64)
	srv := wstest.Start(t, func(c *wstest.Peer, msg []byte) {
		frames.Add(1)
		reqs, _ := wstest.ParseReqs(t, msg)
		c.Send([]byte(wstest.Echo(reqs[0])))
	})
	return srv, frames
}

// TestWSCoalescedWrites checks that concurrent calls leave in far fewer
// write syscalls than calls: every frame queued while the writer was
// writing goes out with the next single write.
func TestWSCoalescedWrites(t *testing.T) {
	srv, frames := countingEchoServer(t)
	hook, conns := hookDial(5 * time.Millisecond) // a slow socket: calls queue up meanwhile
	w := newWSClient(t, srv.URL(), 1, hook)
	if _, err := w.echo(timed(t, 5*time.Second), "eth_call", "warm"); err != nil {
		t.Fatal(err)
	}
	tc := <-conns
	before := tc.writes.Load()
	const calls = 200
	w.echoAll(t, "eth_call", "c", calls, 10*time.Second)
	writes := tc.writes.Load() - before
	t.Logf("%d calls in %d writes", calls, writes)
	if writes*4 > calls {
		t.Errorf("%d calls took %d writes; want at most a quarter as many", calls, writes)
	}
	if got := frames.Load(); got != calls+1 {
		t.Errorf("server got %d frames, want %d", got, calls+1)
	}
}

// TestWSWriteDeadline: a write that cannot finish fails the connection at
// the write timeout (1 s), not at the call's deadline.
func TestWSWriteDeadline(t *testing.T) {
	hook, conns := hookDial(0)
	w := newWSClient(t, wstest.EchoServer(t).URL(), 1, hook)
	if _, err := w.echo(timed(t, 5*time.Second), "eth_call", "warm"); err != nil {
		t.Fatal(err)
	}
	(<-conns).stall.Store(true)
	start := time.Now()
	_, err := w.echo(timed(t, 10*time.Second), "eth_call", "x")
	if kind, sent := kindOf(err); kind != KindTransport || !sent || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("stalled write: %v (kind %d, sent %v), want a sent transport failure past the write deadline", err, kind, sent)
	}
	if d := time.Since(start); d < 900*time.Millisecond || d > 3*time.Second {
		t.Errorf("stalled write failed after %s, want the 1s write timeout", d)
	}
}

// pendingCalls counts the calls waiting on w's live connections.
func pendingCalls(w *wsClient) int {
	n := 0
	for _, s := range w.slots {
		if c := s.live(); c != nil {
			c.mu.Lock()
			n += len(c.pending)
			c.mu.Unlock()
		}
	}
	return n
}

// TestWSUnsentCalls: when a connection fails, a call whose frame was
// written is a sent failure; one still queued is not sent (routing may try
// it elsewhere, even a write).
func TestWSUnsentCalls(t *testing.T) {
	hook, conns := hookDial(0)
	w := newWSClient(t, wstest.EchoServer(t).URL(), 1, hook)
	if _, err := w.echo(timed(t, 5*time.Second), "eth_call", "warm"); err != nil {
		t.Fatal(err)
	}
	tc := <-conns
	tc.gate.Store(true)
	errA, errB := make(chan error, 1), make(chan error, 1)
	go func() {
		_, err := w.echo(timed(t, 10*time.Second), "eth_sendRawTransaction", "a")
		errA <- err
	}()
	select {
	case <-tc.blocked: // a's frame is being written
	case <-time.After(5 * time.Second):
		t.Fatal("the first call was not written")
	}
	go func() {
		_, err := w.echo(timed(t, 10*time.Second), "eth_sendRawTransaction", "b")
		errB <- err
	}()
	wstest.WaitFor(t, "two calls pending", func() bool { return pendingCalls(w) == 2 })
	_ = tc.Close()
	for _, tt := range []struct {
		name     string
		errc     chan error
		wantSent bool
	}{{"written", errA, true}, {"queued", errB, false}} {
		select {
		case err := <-tt.errc:
			if kind, sent := kindOf(err); kind != KindTransport || sent != tt.wantSent {
				t.Errorf("%s call: %v (kind %d, sent %v), want transport, sent %v", tt.name, err, kind, sent, tt.wantSent)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s call still waiting", tt.name)
		}
	}
}

// TestWSContextEnds: a call ends when its context does, promptly, on a
// connection that stays up; its late answer is dropped. A timeout on a
// connection silent since the call was sent fails the connection.
func TestWSContextEnds(t *testing.T) {
	tests := []struct {
		name      string
		cancel    bool // cancel the context after the call reached the server, instead of its deadline
		traffic   bool // another call is answered while the slow one waits
		wantConns int64
	}{
		{"deadline", false, true, 1},
		{"cancelled", true, false, 1},
		{"silent connection: redialled", false, false, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			slowGot := make(chan struct{}, 1)
			var mu sync.Mutex
			var slow *wstest.Req
			srv := wstest.Start(t, func(c *wstest.Peer, msg []byte) {
				reqs, _ := wstest.ParseReqs(t, msg)
				mu.Lock()
				defer mu.Unlock()
				switch {
				case reqs[0].Method == "slow":
					slow = &reqs[0]
					slowGot <- struct{}{}
					return
				case reqs[0].Method == "next" && slow != nil:
					// The slow call's late answer, just before this one's.
					c.Send([]byte(`{"jsonrpc":"2.0","id":` + string(slow.ID) + `,"result":"late"}`))
				}
				c.Send([]byte(wstest.Echo(reqs[0])))
			})
			w := newWSClient(t, srv.URL(), 1, nil)
			if _, err := w.echo(timed(t, 5*time.Second), "eth_call", "warm"); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			if tt.cancel {
				ctx, cancel = context.WithTimeout(context.Background(), time.Minute)
			}
			defer cancel()
			errc := make(chan error, 1)
			go func() {
				_, err := w.echo(ctx, "slow", "x")
				errc <- err
			}()
			select {
			case <-slowGot:
			case <-time.After(5 * time.Second):
				t.Fatal("the slow call did not reach the server")
			}
			if tt.traffic {
				if got, err := w.echo(timed(t, 5*time.Second), "eth_call", "beside"); err != nil || got != "beside" {
					t.Fatalf("the call beside: %q, %v", got, err)
				}
			}
			ended := time.Now()
			if tt.cancel {
				cancel()
			} else if dl, _ := ctx.Deadline(); dl.After(ended) {
				ended = dl
			}
			select {
			case err := <-errc:
				if kind, sent := kindOf(err); kind != KindTransport || !sent || !errors.Is(err, errCallEnded) {
					t.Errorf("slow call: %v (kind %d, sent %v), want a sent call ended with its context", err, kind, sent)
				}
				if d := time.Since(ended); d > 300*time.Millisecond {
					t.Errorf("slow call ended %s after its context", d)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("slow call did not end with its context")
			}
			// Messages are read in order: once next is answered, the late
			// answer before it has been read and dropped.
			if got, err := w.echo(timed(t, 5*time.Second), "next", "next"); err != nil || got != "next" {
				t.Errorf("the next call: %q, %v", got, err)
			}
			if n := srv.Accepted.Load(); n != tt.wantConns {
				t.Errorf("%d connections accepted, want %d", n, tt.wantConns)
			}
			if n := pendingCalls(w); n != 0 {
				t.Errorf("%d calls still pending", n)
			}
		})
	}
}

// TestWSEndedContext: a call on a context that has ended already is not sent.
func TestWSEndedContext(t *testing.T) {
	srv, frames := countingEchoServer(t)
	w := newWSClient(t, srv.URL(), 1, nil)
	if _, err := w.echo(timed(t, 5*time.Second), "eth_call", "warm"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := w.echo(ctx, "eth_call", "x"); !errors.Is(err, errCallEnded) {
		t.Errorf("call on a cancelled context: %v", err)
	} else if _, sent := kindOf(err); sent {
		t.Errorf("call on a cancelled context: sent")
	}
	if got, err := w.echo(timed(t, 5*time.Second), "eth_call", "y"); err != nil || got != "y" {
		t.Errorf("next call: %q, %v", got, err)
	}
	if n := frames.Load(); n != 2 {
		t.Errorf("server got %d frames, want 2 (the cancelled call unsent)", n)
	}
}

// TestWSDialFailure: a call that cannot connect is an unsent transport
// failure, and the dial is not retried at once (backoff).
func TestWSDialFailure(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedURL := "ws://" + ln.Addr().String()
	ln.Close()
	notWS := httptest.NewServer(http.NotFoundHandler())
	defer notWS.Close()
	tests := []struct{ name, url string }{
		{"connection refused", closedURL},
		{"no WebSocket there", "ws" + strings.TrimPrefix(notWS.URL, "http")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var dials atomic.Int64
			var d net.Dialer
			w := newWSClient(t, tt.url, 1, func(o *WSOptions) {
				o.DialTCP = func(ctx context.Context, network, addr string) (net.Conn, error) {
					dials.Add(1)
					return d.DialContext(ctx, network, addr)
				}
			})
			for i := range 3 {
				start := time.Now()
				_, err := w.echo(timed(t, 5*time.Second), "eth_sendRawTransaction", "x")
				if kind, sent := kindOf(err); kind != KindTransport || sent {
					t.Errorf("call %d: %v (kind %d, sent %v), want an unsent transport failure", i, err, kind, sent)
				}
				if d := time.Since(start); d > time.Second {
					t.Errorf("call %d failed after %s", i, d)
				}
			}
			if n := dials.Load(); n != 1 {
				t.Errorf("%d dials for 3 calls within the backoff, want 1", n)
			}
		})
	}
}

// TestWSKeepalive: an idle connection is pinged and, while pongs come
// back, kept; once they stop, it is failed and the next call redials.
func TestWSKeepalive(t *testing.T) {
	srv, _ := countingEchoServer(t)
	w := newWSClient(t, srv.URL(), 1, func(o *WSOptions) { o.PingEvery = 20 * time.Millisecond })
	if _, err := w.echo(timed(t, 5*time.Second), "eth_call", "a"); err != nil {
		t.Fatal(err)
	}
	wstest.WaitFor(t, "three pings", func() bool { return srv.Pings.Load() >= 3 })
	if live := w.Status().WS.Live; live != 1 || srv.Accepted.Load() != 1 {
		t.Fatalf("answered pings: %d connections live, %d dialled, want 1 and 1", live, srv.Accepted.Load())
	}
	srv.Mute.Store(true)
	wstest.WaitFor(t, "the unanswered connection to fail", func() bool { return w.Status().WS.Live == 0 })
	if _, err := w.echo(timed(t, 5*time.Second), "eth_call", "b"); err != nil {
		t.Fatalf("call after the keepalive failure: %v", err)
	}
	if n := srv.Accepted.Load(); n != 2 {
		t.Errorf("%d connections, want 2 (one redial)", n)
	}
}
