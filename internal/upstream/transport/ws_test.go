package transport

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/upstream/transport/wstest"
)

// wsClient sends calls over a WebSocket transport with ids of its own, as
// a provider does.
type wsClient struct {
	*wsTransport
	seq atomic.Uint64
}

// newWSClient is a WebSocket transport to url over conns connections
// (write timeout 1 s), closed by the test's cleanup.
func newWSClient(t *testing.T, url string, conns int, tune func(*WSOptions)) *wsClient {
	t.Helper()
	o := WSOptions{URL: url, Conns: conns, MaxConcurrency: 512, MaxResponse: 32 << 20, Timeout: time.Second}
	if tune != nil {
		tune(&o)
	}
	c := &wsClient{wsTransport: NewWS(o).(*wsTransport)}
	t.Cleanup(c.Close)
	return c
}

// echo calls method with param and returns the string the server echoed.
func (c *wsClient) echo(ctx context.Context, method, param string) (string, error) {
	req := Request{First: c.seq.Add(1), Calls: []Call{{Method: method, Params: json.RawMessage(`["` + param + `"]`)}}}
	ans, err := c.RoundTrip(ctx, req)
	if err != nil {
		return "", err
	}
	return wstest.EchoedString(ans.Messages[0].Result)
}

// echoAll makes n calls of method on c at once, the i-th with param
// prefix-i and each bounded by timeout, and fails t for every call that
// does not get its own param back.
func (c *wsClient) echoAll(t *testing.T, method, prefix string, n int, timeout time.Duration) {
	t.Helper()
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			want := fmt.Sprintf("%s-%d", prefix, i)
			if got, err := c.echo(timed(t, timeout), method, want); err != nil || got != want {
				t.Errorf("call %d: %q, %v", i, got, err)
			}
		}()
	}
	close(start)
	wg.Wait()
}

// timed returns a context for one call, ending after d.
func timed(t *testing.T, d time.Duration) context.Context { return wstest.Timed(t, d) }

// kindOf returns the kind of an *Error and whether it was sent.
func kindOf(err error) (Kind, bool) {
	var te *Error
	if errors.As(err, &te) {
		return te.Kind, te.Sent
	}
	return -1, false
}

// TestWSCallsConcurrent sends many calls at once, answered in a random
// order (each on a goroutine of its own): each must get its own answer.
func TestWSCallsConcurrent(t *testing.T) {
	for _, conns := range []int{1, 2, 4} {
		t.Run(fmt.Sprintf("%d connections", conns), func(t *testing.T) {
			srv := wstest.Start(t, func(c *wstest.Peer, msg []byte) {
				reqs, _ := wstest.ParseReqs(t, msg)
				go c.Send([]byte(wstest.Echo(reqs[0])))
			})
			w := newWSClient(t, srv.URL(), conns, nil)
			w.echoAll(t, "eth_getBalance", "p", 300, 5*time.Second)
			if n := srv.Accepted.Load(); n > int64(conns) {
				t.Errorf("%d connections accepted, want at most %d", n, conns)
			}
		})
	}
}

// TestWSCallsOutOfOrder answers ten calls in the reverse order of their
// arrival, all on one connection.
func TestWSCallsOutOfOrder(t *testing.T) {
	const calls = 10
	var mu sync.Mutex
	var held []wstest.Req
	srv := wstest.Start(t, func(c *wstest.Peer, msg []byte) {
		reqs, _ := wstest.ParseReqs(t, msg)
		mu.Lock()
		defer mu.Unlock()
		held = append(held, reqs[0])
		if len(held) == calls {
			for i := len(held) - 1; i >= 0; i-- {
				c.Send([]byte(wstest.Echo(held[i])))
			}
		}
	})
	w := newWSClient(t, srv.URL(), 1, nil)
	w.echoAll(t, "eth_call", "q", calls, 5*time.Second)
}

// TestWSCallBatch sends a batch over WebSocket, answered as an array in
// reverse order: the answers go back to their calls.
func TestWSCallBatch(t *testing.T) {
	srv := wstest.Start(t, func(c *wstest.Peer, msg []byte) {
		reqs, batch := wstest.ParseReqs(t, msg)
		if !batch {
			c.Send([]byte(wstest.Echo(reqs[0])))
			return
		}
		out := make([]string, 0, len(reqs))
		for i := len(reqs) - 1; i >= 0; i-- {
			out = append(out, wstest.Echo(reqs[i]))
		}
		c.Send([]byte("[" + strings.Join(out, ",") + "]"))
	})
	w := newWSClient(t, srv.URL(), 2, nil)
	for round := range 3 {
		calls := []Call{
			{Method: "eth_getBalance", Params: json.RawMessage(fmt.Sprintf(`["a%d"]`, round))},
			{Method: "eth_getCode", Params: json.RawMessage(fmt.Sprintf(`["b%d"]`, round))},
			{Method: "eth_chainId", Params: json.RawMessage(fmt.Sprintf(`["c%d"]`, round))},
		}
		first := w.seq.Add(3) - 2
		ans, err := w.RoundTrip(timed(t, 5*time.Second), Request{First: first, Calls: calls, Batch: true})
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		for i, m := range ans.Messages {
			if want := string(calls[i].Params[1 : len(calls[i].Params)-1]); m.Missing || string(m.Result) != want {
				t.Errorf("round %d, call %d: %+v; want %s", round, i, m, want)
			}
		}
	}
	if got, err := w.echo(timed(t, 5*time.Second), "eth_call", "single"); err != nil || got != "single" {
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
		bigKind   Kind
		smallOK   bool  // the call waiting beside it is answered
		connsWant int64 // connections accepted by the end
	}{
		{"id first", func(id string) string { return `{"jsonrpc":"2.0","id":` + id + `,"result":` + bulk + `}` }, KindTooLarge, true, 1},
		{"batch, id first", func(id string) string { return `[{"jsonrpc":"2.0","id":` + id + `,"result":` + bulk + `}]` }, KindTooLarge, true, 1},
		{"id after the bulk", func(id string) string { return `{"jsonrpc":"2.0","result":` + bulk + `,"id":` + id + `}` }, KindTransport, false, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			var big, small *wstest.Req
			srv := wstest.Start(t, func(c *wstest.Peer, msg []byte) {
				reqs, _ := wstest.ParseReqs(t, msg)
				r := reqs[0]
				mu.Lock()
				defer mu.Unlock()
				switch r.Method {
				case "big":
					big = &r
				case "small":
					small = &r
				default:
					c.Send([]byte(wstest.Echo(r)))
					return
				}
				if big != nil && small != nil {
					c.Send([]byte(tt.big(string(big.ID)))) // the big answer first
					c.Send([]byte(wstest.Echo(*small)))
					big, small = nil, nil
				}
			})
			w := newWSClient(t, srv.URL(), 1, func(o *WSOptions) { o.MaxResponse = limit })
			// A connection that answered is redialled at once after a failure.
			if got, err := w.echo(timed(t, 5*time.Second), "eth_call", "warm"); err != nil || got != "warm" {
				t.Fatalf("first call: %q, %v", got, err)
			}
			var wg sync.WaitGroup
			var bigErr, smallErr error
			var smallGot string
			wg.Add(2)
			go func() {
				defer wg.Done()
				_, bigErr = w.echo(timed(t, 5*time.Second), "big", "b")
			}()
			go func() {
				defer wg.Done()
				smallGot, smallErr = w.echo(timed(t, 5*time.Second), "small", "s")
			}()
			wg.Wait()
			if kind, sent := kindOf(bigErr); kind != tt.bigKind || !sent {
				t.Errorf("big answer: %v (kind %d, sent %v), want kind %d, sent", bigErr, kind, sent, tt.bigKind)
			}
			if tt.bigKind == KindTooLarge && !errors.Is(bigErr, ErrTooLarge) {
				t.Errorf("big answer: %v, want ErrTooLarge", bigErr)
			}
			if tt.smallOK && (smallErr != nil || smallGot != "s") {
				t.Errorf("the call beside it: %q, %v", smallGot, smallErr)
			}
			if kind, _ := kindOf(smallErr); !tt.smallOK && kind != KindTransport {
				t.Errorf("the call beside it on the failed connection: %v, want a transport failure", smallErr)
			}
			if got, err := w.echo(timed(t, 5*time.Second), "eth_call", "after"); err != nil || got != "after" {
				t.Errorf("a call after it: %q, %v", got, err)
			}
			if n := srv.Accepted.Load(); n != tt.connsWant {
				t.Errorf("%d connections accepted, want %d", n, tt.connsWant)
			}
		})
	}
}

// TestWSConnectionDropped: calls waiting on a connection the server drops
// fail at once as sent transport failures, all but one marked
// ErrLostWithConn (one failure of the provider); the next call is answered
// on a new connection.
func TestWSConnectionDropped(t *testing.T) {
	srv, hung := wstest.HangingServer(t)
	w := newWSClient(t, srv.URL(), 1, nil)
	if got, err := w.echo(timed(t, 5*time.Second), "eth_call", "warm"); err != nil || got != "warm" {
		t.Fatalf("first call: %q, %v", got, err)
	}
	const hangs = 3
	lost := 0
	for _, err := range wstest.DropHung(t, hung, hangs, func() error {
		_, err := w.echo(timed(t, 10*time.Second), "hang", "h")
		return err
	}) {
		if kind, sent := kindOf(err); kind != KindTransport || !sent {
			t.Errorf("pending call: %v (kind %d, sent %v), want a sent transport failure", err, kind, sent)
		}
		if errors.Is(err, ErrLostWithConn) {
			lost++
		}
	}
	if lost != hangs-1 {
		t.Errorf("%d of %d failed calls marked lost with the connection, want %d", lost, hangs, hangs-1)
	}
	if st := w.Status(); st.Kind != "ws" || st.WS == nil || st.WS.Live != 0 || st.WS.Failures != 1 {
		t.Errorf("after the drop: status %+v (ws %+v), want ws, 0 live, 1 failure", st, st.WS)
	}
	if got, err := w.echo(timed(t, 5*time.Second), "eth_call", "again"); err != nil || got != "again" {
		t.Fatalf("call after the drop: %q, %v", got, err)
	}
	if n := srv.Accepted.Load(); n != 2 {
		t.Errorf("%d connections accepted, want 2 (one redial)", n)
	}
	if st := w.Status(); st.WS == nil || st.WS.Live != 1 || st.WS.Connections != 1 {
		t.Errorf("after the redial: status %+v, want 1 of 1 live", st.WS)
	}
}

// TestWSClose: Close fails waiting calls, ends the goroutines, and later
// calls fail unsent.
func TestWSClose(t *testing.T) {
	got := make(chan struct{}, 1)
	srv := wstest.Start(t, func(c *wstest.Peer, msg []byte) { got <- struct{}{} })
	w := newWSClient(t, srv.URL(), 2, nil)
	errc := make(chan error, 1)
	go func() {
		_, err := w.echo(timed(t, 10*time.Second), "hang", "x")
		errc <- err
	}()
	select {
	case <-got:
	case <-time.After(5 * time.Second):
		t.Fatal("the call did not reach the server")
	}
	closed := make(chan struct{})
	go func() {
		w.Close()
		close(closed)
	}()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return")
	}
	select {
	case err := <-errc:
		if kind, sent := kindOf(err); kind != KindTransport || !sent {
			t.Errorf("waiting call: %v (kind %d, sent %v)", err, kind, sent)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the waiting call did not end")
	}
	_, err := w.echo(timed(t, 5*time.Second), "eth_call", "y")
	if kind, sent := kindOf(err); kind != KindTransport || sent || !errors.Is(err, errWSClosed) {
		t.Errorf("call after Close: %v (kind %d, sent %v)", err, kind, sent)
	}
}
