package transport

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// scriptServer answers the i-th request it reads, over all its
// connections, with the bytes of script[i] as they are (any later request
// with a 503), one request per connection: after its bytes it closes its
// side of the connection and reads whatever still comes, so a client reads
// exactly what was written and then EOF, with no timing in between.
// Cleanup resets its connections: no TIME_WAIT left behind, which a fuzz
// run's many connections would pile up.
func scriptServer(tb testing.TB, script ...string) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	var (
		next  atomic.Int64
		mu    sync.Mutex
		conns []net.Conn
		wg    sync.WaitGroup
	)
	serve := func(c net.Conn) {
		defer wg.Done()
		defer c.Close()
		br := bufio.NewReader(c)
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		_, _ = io.Copy(io.Discard, req.Body)
		out := "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
		if i := next.Add(1) - 1; i < int64(len(script)) {
			out = script[i]
		}
		_, _ = io.WriteString(c, out)
		_ = c.(*net.TCPConn).CloseWrite()
		_, _ = io.Copy(io.Discard, br)
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go serve(c)
		}
	}()
	tb.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			_ = c.(*net.TCPConn).SetLinger(0)
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return "http://" + ln.Addr().String()
}

// callOutcome is what one call returned: its result, or that it failed.
type callOutcome struct {
	result string
	failed bool
	err    error
}

// diffTransport is an HTTP transport to url: the hand-written client
// (lean) or net/http's Transport as NewHTTP builds it for https.
func diffTransport(url string, lean bool) *httpTransport {
	o := HTTPOptions{URL: url, MaxConns: 4, MaxResponse: 32 << 20}
	if !lean {
		tr := DefaultHTTPTransport(4)
		tr.DialContext = (&net.Dialer{Control: lingerZero}).DialContext
		o.Transport = tr
	}
	t := NewHTTP(o).(*httpTransport)
	if t.h1 != nil {
		t.h1.dialer.Control = lingerZero
	}
	return t
}

// lingerZero makes closing a connection reset it: a fuzz run's many
// connections leave no TIME_WAIT behind to use up the machine's ports.
func lingerZero(_, _ string, c syscall.RawConn) error {
	var err error
	if cerr := c.Control(func(fd uintptr) {
		err = syscall.SetsockoptLinger(int(fd), syscall.SOL_SOCKET, syscall.SO_LINGER, &syscall.Linger{Onoff: 1, Linger: 0})
	}); cerr != nil {
		return cerr
	}
	return err
}

// callOnce sends one call with id through t, as a provider does.
func callOnce(t *httpTransport, id uint64) callOutcome {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ans, err := t.RoundTrip(ctx, Request{First: id, Calls: []Call{{Method: "eth_getBalance"}}, Resend: true})
	if err != nil {
		return callOutcome{failed: true, err: err}
	}
	m := ans.Messages[0]
	if m.Error != nil || m.Result == nil {
		return callOutcome{failed: true, err: fmt.Errorf("answer without result: %v", m.Error)}
	}
	return callOutcome{result: string(m.Result)}
}

// h1Differential sends two calls, one after the other, through the
// hand-written client to a server that answers its first request with a
// and its second with b, and checks each call's outcome against net/http's
// reading of the bytes written for that very request (on a connection of
// its own, to a provider whose call has the same id): the same result, or
// the hand-written client refuses. It returns the two outcomes.
//
// The reference reads each request's bytes alone, not the same exchange:
// net/http's Transport itself may, depending on timing, read bytes that
// followed one answer as the next request's answer.
func h1Differential(t *testing.T, a, b string) [2]callOutcome {
	t.Helper()
	// The providers' connections are closed after the servers reset theirs
	// (cleanups run last first): no TIME_WAIT on either side.
	var transports []*httpTransport
	t.Cleanup(func() {
		for _, tr := range transports {
			tr.Close()
		}
	})
	lean := diffTransport(scriptServer(t, a, b), true)
	if lean.h1 == nil {
		t.Fatal("the transport does not use the hand-written client")
	}
	transports = append(transports, lean)
	got := [2]callOutcome{callOnce(lean, 1), callOnce(lean, 2)}
	for i, script := range []string{a, b} {
		if got[i].failed {
			continue // refusing is always allowed
		}
		ref := diffTransport(scriptServer(t, script), false)
		transports = append(transports, ref)
		want := callOnce(ref, uint64(i+1)) // the same id as the lean client's call

		if want.failed || want.result != got[i].result {
			t.Fatalf("call %d: hand-written client answered %q, net/http reads the bytes written for it as %+v\nanswers: %q, %q",
				i+1, got[i].result, want, a, b)
		}
	}
	return got
}

// plainAnswer is an HTTP/1.1 answer with a Content-Length.
func plainAnswer(body string) string {
	return fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
}

// rpcAnswer is a JSON-RPC answer with id and result.
func rpcAnswer(id int, result string) string {
	return fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"result":"%s"}`, id, result)
}

// chunked is an HTTP/1.1 answer whose body is sent in one chunk.
func chunked(body string) string {
	return fmt.Sprintf("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n", len(body), body)
}

// h1Cases are answers a provider may write, plain and hostile, with what
// each call must get ("" for a refusal). On 82001cf the hand-written client
// handed the interim answer's follower and the bytes after an answer to
// the next call, and took any id.
var h1Cases = []struct {
	name string
	a, b string
	want [2]string
}{
	{"plain", plainAnswer(rpcAnswer(1, "0x1")), plainAnswer(rpcAnswer(2, "0x2")), [2]string{`"0x1"`, `"0x2"`}},
	{"chunked", chunked(rpcAnswer(1, "0x1")), chunked(rpcAnswer(2, "0x2")), [2]string{`"0x1"`, `"0x2"`}},
	{"until close", "HTTP/1.1 200 OK\r\n\r\n" + rpcAnswer(1, "0x1"), plainAnswer(rpcAnswer(2, "0x2")), [2]string{`"0x1"`, `"0x2"`}},
	{"interim answers skipped",
		"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\n" + plainAnswer(rpcAnswer(1, "0x1")),
		plainAnswer(rpcAnswer(2, "0x2")), [2]string{`"0x1"`, `"0x2"`}},
	{"an answer after the answer is not the next call's",
		plainAnswer(rpcAnswer(1, "0x1")) + plainAnswer(rpcAnswer(2, "0xbad")),
		plainAnswer(rpcAnswer(2, "0x2")), [2]string{`"0x1"`, `"0x2"`}},
	{"an answer after a chunked answer is not the next call's",
		chunked(rpcAnswer(1, "0x1")) + plainAnswer(rpcAnswer(2, "0xbad")),
		plainAnswer(rpcAnswer(2, "0x2")), [2]string{`"0x1"`, `"0x2"`}},
	{"a body longer than its Content-Length",
		strings.Replace(plainAnswer(rpcAnswer(1, "0x1")), "Content-Length: 39", "Content-Length: 38", 1) + "}",
		plainAnswer(rpcAnswer(2, "0x2")), [2]string{"", `"0x2"`}},
	{"another call's id", plainAnswer(rpcAnswer(7, "0x7")), plainAnswer(rpcAnswer(2, "0x2")), [2]string{"", `"0x2"`}},
	{"the previous call's id", plainAnswer(rpcAnswer(1, "0x1")), plainAnswer(rpcAnswer(1, "0x1")), [2]string{`"0x1"`, ""}},
	{"id as a string", plainAnswer(`{"jsonrpc":"2.0","id":"1","result":"0x1"}`), plainAnswer(rpcAnswer(2, "0x2")), [2]string{"", `"0x2"`}},
	{"no id", plainAnswer(`{"jsonrpc":"2.0","result":"0x1"}`), plainAnswer(rpcAnswer(2, "0x2")), [2]string{"", `"0x2"`}},
	{"protocol switch", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n" + plainAnswer(rpcAnswer(1, "0x1")),
		plainAnswer(rpcAnswer(2, "0x2")), [2]string{"", `"0x2"`}},
}

// TestH1NeverHandsOverAnotherAnswer: each call of the hand-written client
// gets the answer written for it, as net/http reads it, or fails.
func TestH1NeverHandsOverAnotherAnswer(t *testing.T) {
	for _, tc := range h1Cases {
		t.Run(tc.name, func(t *testing.T) {
			got := h1Differential(t, tc.a, tc.b)
			for i, want := range tc.want {
				if got[i].result != want || got[i].failed != (want == "") {
					t.Errorf("call %d: got %q (%v), want %q", i+1, got[i].result, got[i].err, want)
				}
			}
		})
	}
}

// FuzzH1AgainstNetHTTP feeds the hand-written client and net/http the same
// answers (status lines, 1xx, headers, chunked or Content-Length bodies,
// bytes after them, wrong ids): each call gets what net/http reads from the
// bytes written for it, or fails. The seeds run in every go test.
func FuzzH1AgainstNetHTTP(f *testing.F) {
	for _, tc := range h1Cases {
		f.Add(tc.a, tc.b)
	}
	f.Add("HTTP/1.0 200 OK\r\nContent-Length: 39\r\n\r\n"+rpcAnswer(1, "0x1"), plainAnswer(rpcAnswer(2, "0x2")))
	f.Add("HTTP/1.1 200 OK\r\nContent-Length: 39\r\nContent-Length: 39\r\n\r\n"+rpcAnswer(1, "0x1"), "")
	f.Add("HTTP/1.1 429 Too Many Requests\r\nRetry-After: 1\r\nContent-Length: 0\r\n\r\n"+plainAnswer(rpcAnswer(2, "0x2")), "")
	f.Add("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n2\r\nhi\r\n0\r\n\r\n", "")
	f.Fuzz(func(t *testing.T, a, b string) {
		if len(a) > 4<<10 || len(b) > 4<<10 {
			return // one read on loopback: a longer script could arrive in parts
		}
		h1Differential(t, a, b)
	})
}
