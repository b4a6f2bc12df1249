package upstream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/rpcmesh/rpcmesh/internal/bench"
	"github.com/rpcmesh/rpcmesh/internal/config"
)

// wsServer is a JSON-RPC server over WebSocket for the tests: handle gets
// every message with the connection it came on, and answers (or not).
type wsServer struct {
	srv      *httptest.Server
	accepted atomic.Int64
	pings    atomic.Int64 // keepalive pings received
	mute     atomic.Bool  // pings go unanswered
	handle   func(c *wsPeer, msg []byte)

	mu    sync.Mutex
	peers []*wsPeer
}

// wsPeer is the server's end of one connection.
type wsPeer struct {
	conn *websocket.Conn
	mu   sync.Mutex // one writer at a time
}

// send writes one message; errors mean the client has gone.
func (c *wsPeer) send(b []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	_ = c.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	_ = c.conn.WriteMessage(websocket.TextMessage, b)
}

// drop closes the connection without a close frame, as a crash would.
func (c *wsPeer) drop() { _ = c.conn.Close() }

func startWSServer(t *testing.T, handle func(c *wsPeer, msg []byte)) *wsServer {
	t.Helper()
	s := &wsServer{handle: handle}
	up := websocket.Upgrader{}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer conn.Close()
		s.accepted.Add(1)
		conn.SetPingHandler(func(data string) error {
			s.pings.Add(1)
			if s.mute.Load() {
				return nil
			}
			return conn.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(5*time.Second))
		})
		p := &wsPeer{conn: conn}
		s.mu.Lock()
		s.peers = append(s.peers, p)
		s.mu.Unlock()
		for {
			_, msg, err := conn.ReadMessage()
			if err != nil {
				return
			}
			s.handle(p, msg)
		}
	}))
	t.Cleanup(func() {
		s.srv.Close()
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, p := range s.peers {
			p.drop() // hijacked: httptest does not close them
		}
	})
	return s
}

func (s *wsServer) url() string { return "ws" + strings.TrimPrefix(s.srv.URL, "http") }

// wsReq is one call as the server sees it.
type wsReq struct {
	ID     json.RawMessage   `json:"id"`
	Method string            `json:"method"`
	Params []json.RawMessage `json:"params"`
}

// parseReqs decodes a call or a batch.
func parseReqs(t *testing.T, msg []byte) (reqs []wsReq, batch bool) {
	if len(msg) > 0 && msg[0] == '[' {
		if err := json.Unmarshal(msg, &reqs); err != nil {
			t.Errorf("server: bad batch %s: %v", msg, err)
		}
		return reqs, true
	}
	var r wsReq
	if err := json.Unmarshal(msg, &r); err != nil {
		t.Errorf("server: bad call %s: %v", msg, err)
	}
	return []wsReq{r}, false
}

// echo answers r with its first param as the result, so that every caller
// can tell its own answer.
func echo(r wsReq) string {
	res := "null"
	if len(r.Params) > 0 {
		res = string(r.Params[0])
	}
	return `{"jsonrpc":"2.0","id":` + string(r.ID) + `,"result":` + res + `}`
}

// wsProvider is a provider whose calls go over conns WebSockets to url.
func wsProvider(t *testing.T, url string, conns int, tune func(*Options)) *Provider {
	t.Helper()
	h := testHealth()
	h.BreakerFailures = 1000 // these tests fail calls on purpose
	o := Options{Chain: "test", ChainID: 7, Health: h, Provider: config.Provider{
		Name: "w", HTTP: "http://127.0.0.1:1", WS: url, MaxConcurrency: 512,
		CallTransport: config.CallTransportWS, WSConns: conns,
	}}
	if tune != nil {
		tune(&o)
	}
	p := New(o)
	if p.ws == nil {
		t.Fatal("no WebSocket call transport")
	}
	t.Cleanup(p.Close)
	return p
}

// echoCall calls method with param and returns the string the server echoed.
func echoCall(ctx context.Context, p *Provider, method, param string) (string, error) {
	res, err := p.Call(ctx, method, json.RawMessage(`["`+param+`"]`))
	if err != nil {
		return "", err
	}
	var s string
	if err := json.Unmarshal(res, &s); err != nil {
		return "", fmt.Errorf("result %s: %w", res, err)
	}
	return s, nil
}

// timed returns a context for one call ending after d: built as routing
// builds an attempt's (attempt: without its parent's cancellation, a
// deadline, a cancel cause), or a plain one.
func timed(t *testing.T, attempt bool, d time.Duration) context.Context {
	t.Helper()
	ctx := context.Background()
	if attempt {
		ctx = context.WithoutCancel(ctx)
	}
	ctx, stop := context.WithTimeout(ctx, d)
	t.Cleanup(stop)
	if attempt {
		cctx, cancel := context.WithCancelCause(ctx)
		t.Cleanup(func() { cancel(nil) })
		return cctx
	}
	return ctx
}

// classOf returns the class of an *Error and whether it was sent.
func classOf(err error) (Class, bool) {
	var ue *Error
	if errors.As(err, &ue) {
		return ue.Class, ue.Sent
	}
	return "", false
}

// TestWSCallsConcurrent sends many calls at once, answered in a random
// order after random delays: each must get its own answer.
func TestWSCallsConcurrent(t *testing.T) {
	tests := []struct {
		name  string
		conns int
		lean  bool
	}{
		{"one connection, standard contexts", 1, false},
		{"two connections, call contexts", 2, true},
		{"four connections, call contexts", 4, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := startWSServer(t, func(c *wsPeer, msg []byte) {
				reqs, _ := parseReqs(t, msg)
				go func() {
					time.Sleep(time.Duration(rand.IntN(3000)) * time.Microsecond)
					c.send([]byte(echo(reqs[0])))
				}()
			})
			p := wsProvider(t, srv.url(), tt.conns, nil)
			const calls = 300
			var wg sync.WaitGroup
			errs := make(chan error, calls)
			for i := range calls {
				wg.Add(1)
				go func() {
					defer wg.Done()
					want := fmt.Sprintf("p-%d", i)
					got, err := echoCall(timed(t, tt.lean, 5*time.Second), p, "eth_getBalance", want)
					if err == nil && got != want {
						err = fmt.Errorf("call %d got the answer %q", i, got)
					}
					if err != nil {
						errs <- err
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			if n := srv.accepted.Load(); n > int64(tt.conns) {
				t.Errorf("%d connections accepted, want at most %d", n, tt.conns)
			}
		})
	}
}

// TestWSCallsOutOfOrder answers ten calls in the reverse order of their
// arrival, all on one connection.
func TestWSCallsOutOfOrder(t *testing.T) {
	const calls = 10
	var mu sync.Mutex
	var held []wsReq
	srv := startWSServer(t, func(c *wsPeer, msg []byte) {
		reqs, _ := parseReqs(t, msg)
		mu.Lock()
		defer mu.Unlock()
		held = append(held, reqs[0])
		if len(held) == calls {
			for i := len(held) - 1; i >= 0; i-- {
				c.send([]byte(echo(held[i])))
			}
		}
	})
	p := wsProvider(t, srv.url(), 1, nil)
	var wg sync.WaitGroup
	for i := range calls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			want := fmt.Sprintf("q-%d", i)
			if got, err := echoCall(timed(t, i%2 == 0, 5*time.Second), p, "eth_call", want); err != nil || got != want {
				t.Errorf("call %d: %q, %v", i, got, err)
			}
		}()
	}
	wg.Wait()
}

// TestWSCallBatch sends a batch over WebSocket, answered as an array in
// reverse order: the answers go back to their calls.
func TestWSCallBatch(t *testing.T) {
	srv := startWSServer(t, func(c *wsPeer, msg []byte) {
		reqs, batch := parseReqs(t, msg)
		if !batch {
			c.send([]byte(echo(reqs[0])))
			return
		}
		out := make([]string, 0, len(reqs))
		for i := len(reqs) - 1; i >= 0; i-- {
			out = append(out, echo(reqs[i]))
		}
		c.send([]byte("[" + strings.Join(out, ",") + "]"))
	})
	p := wsProvider(t, srv.url(), 2, nil)
	for round := range 3 {
		calls := []BatchCall{
			{Method: "eth_getBalance", Params: json.RawMessage(fmt.Sprintf(`["a%d"]`, round))},
			{Method: "eth_getCode", Params: json.RawMessage(fmt.Sprintf(`["b%d"]`, round))},
			{Method: "eth_chainId", Params: json.RawMessage(fmt.Sprintf(`["c%d"]`, round))},
		}
		answers, err := p.CallBatch(timed(t, round%2 == 0, 5*time.Second), calls)
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		for i, a := range answers {
			if want := string(calls[i].Params[1 : len(calls[i].Params)-1]); a.Err != nil || string(a.Result) != want {
				t.Errorf("round %d, call %d: %s, %v; want %s", round, i, a.Result, a.Err, want)
			}
		}
	}
	if got, err := echoCall(timed(t, false, 5*time.Second), p, "eth_call", "single"); err != nil || got != "single" {
		t.Errorf("a call after the batches: %q, %v", got, err)
	}
}

// TestWSAnswerTooLarge: an answer over the size limit fails its call only,
// when its id comes before the bulk (as geth writes it); without an id in
// what was read, the connection fails and is redialled.
func TestWSAnswerTooLarge(t *testing.T) {
	const limit = 1000
	bulk := `"` + strings.Repeat("x", 4*limit) + `"`
	tests := []struct {
		name      string
		big       func(id string) string
		bigClass  Class
		smallOK   bool  // the call waiting beside it is answered
		connsWant int64 // connections accepted by the end
	}{
		{"id first", func(id string) string { return `{"jsonrpc":"2.0","id":` + id + `,"result":` + bulk + `}` }, ClassTooLarge, true, 1},
		{"batch, id first", func(id string) string { return `[{"jsonrpc":"2.0","id":` + id + `,"result":` + bulk + `}]` }, ClassTooLarge, true, 1},
		{"id after the bulk", func(id string) string { return `{"jsonrpc":"2.0","result":` + bulk + `,"id":` + id + `}` }, ClassTransport, false, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			var big, small *wsReq
			srv := startWSServer(t, func(c *wsPeer, msg []byte) {
				reqs, _ := parseReqs(t, msg)
				r := reqs[0]
				mu.Lock()
				defer mu.Unlock()
				switch r.Method {
				case "big":
					big = &r
				case "small":
					small = &r
				default:
					c.send([]byte(echo(r)))
					return
				}
				if big != nil && small != nil {
					c.send([]byte(tt.big(string(big.ID)))) // the big answer first
					c.send([]byte(echo(*small)))
					big, small = nil, nil
				}
			})
			p := wsProvider(t, srv.url(), 1, func(o *Options) { o.MaxResponseBytes = limit })
			// A connection that answered is redialled at once after a failure.
			if got, err := echoCall(timed(t, false, 5*time.Second), p, "eth_call", "warm"); err != nil || got != "warm" {
				t.Fatalf("first call: %q, %v", got, err)
			}
			var wg sync.WaitGroup
			var bigErr, smallErr error
			var smallGot string
			wg.Add(2)
			go func() {
				defer wg.Done()
				_, bigErr = echoCall(timed(t, true, 5*time.Second), p, "big", "b")
			}()
			go func() {
				defer wg.Done()
				smallGot, smallErr = echoCall(timed(t, true, 5*time.Second), p, "small", "s")
			}()
			wg.Wait()
			if class, sent := classOf(bigErr); class != tt.bigClass || !sent {
				t.Errorf("big answer: %v (class %q, sent %v), want class %s, sent", bigErr, class, sent, tt.bigClass)
			}
			if tt.bigClass == ClassTooLarge && !errors.Is(bigErr, ErrResponseTooLarge) {
				t.Errorf("big answer: %v, want ErrResponseTooLarge", bigErr)
			}
			if tt.smallOK && (smallErr != nil || smallGot != "s") {
				t.Errorf("the call beside it: %q, %v", smallGot, smallErr)
			}
			if !tt.smallOK {
				if class, _ := classOf(smallErr); class != ClassTransport {
					t.Errorf("the call beside it on the failed connection: %v, want a transport failure", smallErr)
				}
			}
			if got, err := echoCall(timed(t, true, 5*time.Second), p, "eth_call", "after"); err != nil || got != "after" {
				t.Errorf("a call after it: %q, %v", got, err)
			}
			if n := srv.accepted.Load(); n != tt.connsWant {
				t.Errorf("%d connections accepted, want %d", n, tt.connsWant)
			}
		})
	}
}

// TestWSConnectionDropped: calls waiting on a connection the server drops
// fail at once as sent transport failures; the next call is answered on
// a new connection.
func TestWSConnectionDropped(t *testing.T) {
	srv, hung := hangingServer(t)
	p := wsProvider(t, srv.url(), 1, nil)
	if got, err := echoCall(timed(t, false, 5*time.Second), p, "eth_call", "warm"); err != nil || got != "warm" {
		t.Fatalf("first call: %q, %v", got, err)
	}
	const hangs = 3
	errs := make(chan error, hangs)
	for range hangs {
		go func() {
			_, err := echoCall(timed(t, true, 10*time.Second), p, "hang", "h")
			errs <- err
		}()
	}
	var peer *wsPeer
	for range hangs {
		select {
		case peer = <-hung:
		case <-time.After(5 * time.Second):
			t.Fatal("the hanging calls did not reach the server")
		}
	}
	start := time.Now()
	peer.drop()
	for range hangs {
		select {
		case err := <-errs:
			if class, sent := classOf(err); class != ClassTransport || !sent {
				t.Errorf("pending call: %v (class %q, sent %v), want a sent transport failure", err, class, sent)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("pending calls still waiting after the connection dropped")
		}
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("pending calls failed %s after the drop", d)
	}
	if st := p.Transport(); st.Kind != "ws" || st.WS == nil || st.WS.Live != 0 || st.WS.Failures != 1 {
		t.Errorf("after the drop: transport %+v (ws %+v), want ws, 0 live, 1 failure", st, st.WS)
	}
	p.mu.Lock()
	failures, breaker := p.failures, p.br.failures
	p.mu.Unlock()
	if failures != 1 || breaker != 1 {
		t.Errorf("one dropped connection with %d calls counted as %d failures (breaker %d), want 1", hangs, failures, breaker)
	}
	if got, err := echoCall(timed(t, true, 5*time.Second), p, "eth_call", "again"); err != nil || got != "again" {
		t.Fatalf("call after the drop: %q, %v", got, err)
	}
	if n := srv.accepted.Load(); n != 2 {
		t.Errorf("%d connections accepted, want 2 (one redial)", n)
	}
	if st := p.Transport(); st.WS == nil || st.WS.Live != 1 || st.WS.Connections != 1 {
		t.Errorf("after the redial: transport %+v, want 1 of 1 live", st.WS)
	}
}

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
	if c.gate.Load() {
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
	}
	if c.stall.Load() {
		d := time.Duration(c.wdl.Load() - time.Now().UnixNano())
		if c.wdl.Load() == 0 {
			d = 10 * time.Second
		}
		select {
		case <-time.After(d):
			return 0, os.ErrDeadlineExceeded
		case <-c.closed:
			return 0, net.ErrClosed
		}
	}
	time.Sleep(c.delay)
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

// hookDial makes p's WebSocket connections testConns, sent on conns.
func hookDial(p *Provider, delay time.Duration) chan *testConn {
	conns := make(chan *testConn, 8)
	var d net.Dialer
	p.ws.dialTCP = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		tc := &testConn{Conn: c, delay: delay, blocked: make(chan struct{}, 1), release: make(chan struct{}), closed: make(chan struct{})}
		conns <- tc
		return tc, nil
	}
	return conns
}

// TestWSCoalescedWrites checks that concurrent calls leave in far fewer
// write syscalls than calls: every frame queued while the writer was
// writing goes out with the next single write.
func TestWSCoalescedWrites(t *testing.T) {
	srv, frames := countingEchoServer(t)
	p := wsProvider(t, srv.url(), 1, nil)
	conns := hookDial(p, 5*time.Millisecond) // a slow socket: calls queue up meanwhile
	if _, err := echoCall(timed(t, false, 5*time.Second), p, "eth_call", "warm"); err != nil {
		t.Fatal(err)
	}
	tc := <-conns
	before := tc.writes.Load()
	const calls = 200
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range calls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			want := fmt.Sprintf("c-%d", i)
			if got, err := echoCall(timed(t, true, 10*time.Second), p, "eth_call", want); err != nil || got != want {
				t.Errorf("call %d: %q, %v", i, got, err)
			}
		}()
	}
	close(start)
	wg.Wait()
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
// the write timeout (the provider timeout), not at the call's deadline.
func TestWSWriteDeadline(t *testing.T) {
	srv := startWSServer(t, func(c *wsPeer, msg []byte) {
		reqs, _ := parseReqs(t, msg)
		c.send([]byte(echo(reqs[0])))
	})
	p := wsProvider(t, srv.url(), 1, nil) // provider timeout 1s
	conns := hookDial(p, 0)
	if _, err := echoCall(timed(t, false, 5*time.Second), p, "eth_call", "warm"); err != nil {
		t.Fatal(err)
	}
	(<-conns).stall.Store(true)
	start := time.Now()
	_, err := echoCall(timed(t, true, 10*time.Second), p, "eth_call", "x")
	if class, sent := classOf(err); class != ClassTransport || !sent || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("stalled write: %v (class %q, sent %v), want a sent transport failure past the write deadline", err, class, sent)
	}
	if d := time.Since(start); d < 900*time.Millisecond || d > 3*time.Second {
		t.Errorf("stalled write failed after %s, want the 1s write timeout", d)
	}
}

// TestWSUnsentCalls: when a connection fails, a call whose frame was
// written is a sent failure; one still queued is not sent (routing may try
// it elsewhere, even a write).
func TestWSUnsentCalls(t *testing.T) {
	srv := startWSServer(t, func(c *wsPeer, msg []byte) {
		reqs, _ := parseReqs(t, msg)
		c.send([]byte(echo(reqs[0])))
	})
	p := wsProvider(t, srv.url(), 1, nil)
	conns := hookDial(p, 0)
	if _, err := echoCall(timed(t, false, 5*time.Second), p, "eth_call", "warm"); err != nil {
		t.Fatal(err)
	}
	tc := <-conns
	tc.gate.Store(true)
	errA, errB := make(chan error, 1), make(chan error, 1)
	go func() {
		_, err := echoCall(timed(t, true, 10*time.Second), p, "eth_sendRawTransaction", "a")
		errA <- err
	}()
	select {
	case <-tc.blocked: // a's frame is being written
	case <-time.After(5 * time.Second):
		t.Fatal("the first call was not written")
	}
	go func() {
		_, err := echoCall(timed(t, true, 10*time.Second), p, "eth_sendRawTransaction", "b")
		errB <- err
	}()
	c := p.ws.slots[0].live()
	deadline := time.Now().Add(5 * time.Second)
	for {
		c.mu.Lock()
		n := len(c.pending)
		c.mu.Unlock()
		if n == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d calls pending, want 2", n)
		}
		time.Sleep(time.Millisecond)
	}
	_ = tc.Close()
	for _, tt := range []struct {
		name     string
		errc     chan error
		wantSent bool
	}{{"written", errA, true}, {"queued", errB, false}} {
		select {
		case err := <-tt.errc:
			if class, sent := classOf(err); class != ClassTransport || sent != tt.wantSent {
				t.Errorf("%s call: %v (class %q, sent %v), want transport, sent %v", tt.name, err, class, sent, tt.wantSent)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s call still waiting", tt.name)
		}
	}
}

// TestWSCallContextEnds: a call ends when its context does, promptly, on a
// connection that stays up; its late answer is dropped. A timeout on a
// connection silent since the call was sent fails the connection.
func TestWSCallContextEnds(t *testing.T) {
	tests := []struct {
		name      string
		attempt   bool  // a context built as routing's attempts build theirs
		cancel    error // cancel the context with this cause after 50ms, instead of a deadline
		traffic   bool  // another call is answered while the slow one waits
		wantClass Class
		wantConns int64
	}{
		{"attempt context deadline", true, nil, true, ClassTimeout, 1},
		{"plain context deadline", false, nil, true, ClassTimeout, 1},
		{"attempt context cancelled as stalled", true, ErrStalled, false, ClassStalled, 1},
		{"silent connection: redialled", true, nil, false, ClassTimeout, 2},
		{"silent connection, plain context: redialled", false, nil, false, ClassTimeout, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			slowGot := make(chan struct{}, 1)
			lateSent := make(chan struct{})
			srv := startWSServer(t, func(c *wsPeer, msg []byte) {
				reqs, _ := parseReqs(t, msg)
				if reqs[0].Method == "slow" {
					slowGot <- struct{}{}
					go func() {
						defer close(lateSent)
						time.Sleep(600 * time.Millisecond)
						c.send([]byte(`{"jsonrpc":"2.0","id":` + string(reqs[0].ID) + `,"result":"late"}`))
					}()
					return
				}
				c.send([]byte(echo(reqs[0])))
			})
			p := wsProvider(t, srv.url(), 1, nil)
			if _, err := echoCall(timed(t, false, 5*time.Second), p, "eth_call", "warm"); err != nil {
				t.Fatal(err)
			}
			var ctx context.Context
			if tt.cancel != nil {
				cctx, cancel := context.WithCancelCause(timed(t, tt.attempt, time.Minute))
				t.Cleanup(func() { cancel(nil) })
				time.AfterFunc(50*time.Millisecond, func() { cancel(tt.cancel) })
				ctx = cctx
			} else {
				ctx = timed(t, tt.attempt, 200*time.Millisecond)
			}
			errc := make(chan error, 1)
			start := time.Now()
			go func() {
				_, err := echoCall(ctx, p, "slow", "x")
				errc <- err
			}()
			select {
			case <-slowGot:
			case <-time.After(5 * time.Second):
				t.Fatal("the slow call did not reach the server")
			}
			if tt.traffic {
				if got, err := echoCall(timed(t, false, 5*time.Second), p, "eth_call", "beside"); err != nil || got != "beside" {
					t.Fatalf("the call beside: %q, %v", got, err)
				}
			}
			select {
			case err := <-errc:
				if class, _ := classOf(err); class != tt.wantClass {
					t.Errorf("slow call: %v, want class %s", err, tt.wantClass)
				}
				if d := time.Since(start); d > 500*time.Millisecond {
					t.Errorf("slow call ended after %s", d)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("slow call did not end with its context")
			}
			select {
			case <-lateSent:
			case <-time.After(5 * time.Second):
				t.Fatal("the late answer was not sent")
			}
			time.Sleep(20 * time.Millisecond) // let the reader see the late answer
			if got, err := echoCall(timed(t, true, 5*time.Second), p, "eth_call", "next"); err != nil || got != "next" {
				t.Errorf("the next call: %q, %v", got, err)
			}
			if n := srv.accepted.Load(); n != tt.wantConns {
				t.Errorf("%d connections accepted, want %d", n, tt.wantConns)
			}
			for _, s := range p.ws.slots {
				if c := s.live(); c != nil {
					c.mu.Lock()
					n := len(c.pending)
					c.mu.Unlock()
					if n != 0 {
						t.Errorf("%d calls still pending", n)
					}
				}
			}
		})
	}
}

// TestWSEndedContext: a call on a context that has ended already is not sent.
func TestWSEndedContext(t *testing.T) {
	srv, frames := countingEchoServer(t)
	p := wsProvider(t, srv.url(), 1, nil)
	if _, err := echoCall(timed(t, false, 5*time.Second), p, "eth_call", "warm"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := echoCall(ctx, p, "eth_call", "x"); !errors.Is(err, context.Canceled) {
		t.Errorf("call on a cancelled context: %v", err)
	}
	if got, err := echoCall(timed(t, false, 5*time.Second), p, "eth_call", "y"); err != nil || got != "y" {
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
			p := wsProvider(t, tt.url, 1, nil)
			var dials atomic.Int64
			var d net.Dialer
			p.ws.dialTCP = func(ctx context.Context, network, addr string) (net.Conn, error) {
				dials.Add(1)
				return d.DialContext(ctx, network, addr)
			}
			for i := range 3 {
				start := time.Now()
				_, err := echoCall(timed(t, true, 5*time.Second), p, "eth_sendRawTransaction", "x")
				if class, sent := classOf(err); class != ClassTransport || sent {
					t.Errorf("call %d: %v (class %q, sent %v), want an unsent transport failure", i, err, class, sent)
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

// TestWSClose: Close fails waiting calls, ends the goroutines, and later
// calls fail unsent.
func TestWSClose(t *testing.T) {
	got := make(chan struct{}, 1)
	srv := startWSServer(t, func(c *wsPeer, msg []byte) { got <- struct{}{} })
	p := wsProvider(t, srv.url(), 2, nil)
	errc := make(chan error, 1)
	go func() {
		_, err := echoCall(timed(t, true, 10*time.Second), p, "hang", "x")
		errc <- err
	}()
	select {
	case <-got:
	case <-time.After(5 * time.Second):
		t.Fatal("the call did not reach the server")
	}
	closed := make(chan struct{})
	go func() {
		p.Close()
		close(closed)
	}()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return")
	}
	select {
	case err := <-errc:
		if class, sent := classOf(err); class != ClassTransport || !sent {
			t.Errorf("waiting call: %v (class %q, sent %v)", err, class, sent)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the waiting call did not end")
	}
	_, err := echoCall(timed(t, true, 5*time.Second), p, "eth_call", "y")
	if class, sent := classOf(err); class != ClassTransport || sent || !errors.Is(err, errWSClosed) {
		t.Errorf("call after Close: %v (class %q, sent %v)", err, class, sent)
	}
}

func TestAnswerID(t *testing.T) {
	tests := []struct {
		name string
		msg  string
		ids  []uint64 // the ids found, in order, for a batch every element's
		ok   []bool
	}{
		{"object", `{"jsonrpc":"2.0","id":42,"result":"0x1"}`, []uint64{42}, []bool{true}},
		{"id last", `{"jsonrpc":"2.0","result":{"id":7,"a":[1,"]"]},"id":43}`, []uint64{43}, []bool{true}},
		{"spaces", " { \"id\" : 44 , \"result\" : null } ", []uint64{44}, []bool{true}},
		{"batch", `[{"jsonrpc":"2.0","id":5,"result":"a"}, {"id":6,"result":"b"} ,{"id":7,"result":"c"}]`, []uint64{5, 6, 7}, []bool{true, true, true}},
		{"batch of one", `[{"id":8,"error":{"code":-32600,"message":"batch too large"}}]`, []uint64{8}, []bool{true}},
		{"null id", `{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"parse error"}}`, []uint64{0}, []bool{false}},
		{"string id", `{"id":"9","result":1}`, []uint64{0}, []bool{false}},
		{"negative id", `{"id":-9,"result":1}`, []uint64{0}, []bool{false}},
		{"huge id", `{"id":184467440737095516160,"result":1}`, []uint64{0}, []bool{false}},
		{"notification", `{"jsonrpc":"2.0","method":"eth_subscription","params":{"subscription":"0x1","result":{}}}`, []uint64{0}, []bool{false}},
		{"prefix with id", `{"jsonrpc":"2.0","id":10,"result":"xxxxxxx`, []uint64{10}, []bool{true}},
		{"prefix cut in the id", `{"jsonrpc":"2.0","id":10`, []uint64{0}, []bool{false}},
		{"prefix without id", `{"jsonrpc":"2.0","result":"xxxxxxx`, []uint64{0}, []bool{false}},
		{"not json", `hello`, []uint64{0}, []bool{false}},
		{"empty", ``, []uint64{0}, []bool{false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg := []byte(tt.msg)
			pos := 0
			for i := range tt.ids {
				id, next, ok := answerID(msg, pos)
				if id != tt.ids[i] || ok != tt.ok[i] {
					t.Fatalf("answer %d: id %d, ok %v; want %d, %v", i, id, ok, tt.ids[i], tt.ok[i])
				}
				if last := i == len(tt.ids)-1; last != (next < 0) {
					t.Fatalf("answer %d: next %d", i, next)
				}
				pos = next
			}
		})
	}
}

// FuzzAnswerID: the scan of outside input never panics, always moves on
// through a batch, and finds the id of a plain answer object.
func FuzzAnswerID(f *testing.F) {
	for _, s := range []string{`{"id":1,"result":2}`, `[{"id":1},{"id":2}]`, `{"a":"\"}","id":3}`, `[`, `{"id":`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		for pos, n := 0, 0; pos >= 0; n++ {
			if n > len(msg)+1 {
				t.Fatalf("no end to the elements of %q", msg)
			}
			_, next, _ := answerID(msg, pos)
			if next >= 0 && next <= pos {
				t.Fatalf("next %d after %d in %q", next, pos, msg)
			}
			pos = next
		}
		// The answer object as a provider writes it, with msg as its result.
		if !json.Valid(msg) {
			return
		}
		obj := []byte(`{"jsonrpc":"2.0","result":` + string(msg) + `,"id":12345}`)
		if id, _, ok := answerID(obj, 0); !ok || id != 12345 {
			t.Fatalf("id %d, %v in %q", id, ok, obj)
		}
	})
}

// BenchmarkCallTransport compares calls over HTTP and over WebSocket to
// the trivial upstream (in the same process, so the time includes its
// side), many at once as in the gateway, with routing's call contexts.
func BenchmarkCallTransport(b *testing.B) {
	up := bench.NewUpstream(bench.UpstreamOptions{})
	srv := httptest.NewServer(up)
	defer srv.Close()
	defer up.Close()
	// "http" is the hand-written client (h1.go); "http-nethttp" the same
	// calls over net/http's Transport as New builds it for https.
	for _, name := range []string{config.CallTransportHTTP, "http-nethttp", config.CallTransportWS} {
		b.Run(name, func(b *testing.B) {
			transport, rt := name, http.RoundTripper(nil)
			if name == "http-nethttp" {
				transport, rt = config.CallTransportHTTP, defaultTransport(256)
			}
			p := New(Options{Chain: "bench", ChainID: 1337, Health: testHealth(), Provider: config.Provider{
				Name: "b", HTTP: srv.URL, WS: "ws" + strings.TrimPrefix(srv.URL, "http"), MaxConcurrency: 256,
				CallTransport: transport, WSConns: 2,
			}, Transport: rt})
			defer p.Close()
			b.SetParallelism(16)
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
					_, err := p.Call(ctx, "eth_chainId", nil)
					cancel()
					if err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// countingEchoServer answers every call with its echo and counts the
// frames it received.
func countingEchoServer(t *testing.T) (*wsServer, *atomic.Int64) {
	frames := new(atomic.Int64)
	srv := startWSServer(t, func(c *wsPeer, msg []byte) {
		frames.Add(1)
		reqs, _ := parseReqs(t, msg)
		c.send([]byte(echo(reqs[0])))
	})
	return srv, frames
}

// TestWSKeepalive: an idle connection is pinged and, while pongs come
// back, kept; once they stop, it is failed and the next call redials.
func TestWSKeepalive(t *testing.T) {
	srv, _ := countingEchoServer(t)
	p := wsProvider(t, srv.url(), 1, nil)
	p.ws.pingEvery = 20 * time.Millisecond
	if _, err := echoCall(timed(t, false, 5*time.Second), p, "eth_call", "a"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "three pings", func() bool { return srv.pings.Load() >= 3 })
	if p.ws.slots[0].live() == nil || srv.accepted.Load() != 1 {
		t.Fatalf("answered pings: connection live %v, %d dialled, want live and 1", p.ws.slots[0].live() != nil, srv.accepted.Load())
	}

	srv.mute.Store(true)
	waitFor(t, "the unanswered connection to fail", func() bool { return p.ws.slots[0].live() == nil })
	if _, err := echoCall(timed(t, false, 5*time.Second), p, "eth_call", "b"); err != nil {
		t.Fatalf("call after the keepalive failure: %v", err)
	}
	if n := srv.accepted.Load(); n != 2 {
		t.Errorf("%d connections, want 2 (one redial)", n)
	}
}

// waitFor polls cond for up to 5 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// hangingServer echoes every call but "hang", which it never answers: it
// reports the connection such a call came on instead.
func hangingServer(t *testing.T) (*wsServer, chan *wsPeer) {
	hung := make(chan *wsPeer, 16)
	srv := startWSServer(t, func(c *wsPeer, msg []byte) {
		reqs, _ := parseReqs(t, msg)
		if reqs[0].Method == "hang" {
			hung <- c
			return
		}
		c.send([]byte(echo(reqs[0])))
	})
	return srv, hung
}
