package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"reflect"
	"syscall"
	"testing"

	"github.com/gorilla/websocket"
)

func TestCheckResponse(t *testing.T) {
	for _, c := range []struct {
		name  string
		body  string
		first uint64
		n     int
		ok    int
		errs  map[string]int
	}{
		{name: "ok", body: `{"jsonrpc":"2.0","id":5,"result":"0x1"}`, first: 5, ok: 1},
		{name: "null result is ok", body: `{"jsonrpc":"2.0","id":5,"result":null}`, first: 5, ok: 1},
		{name: "string id", body: `{"jsonrpc":"2.0","id":"5","result":"0x1"}`, first: 5, ok: 1},
		{name: "rpc error", body: `{"jsonrpc":"2.0","id":5,"error":{"code":-32005,"message":"limit"}}`, first: 5, errs: map[string]int{"rpc -32005": 1}},
		{name: "parse error id null", body: `{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"x"}}`, first: 5, errs: map[string]int{"rpc -32700": 1}},
		{name: "wrong id", body: `{"jsonrpc":"2.0","id":6,"result":"0x1"}`, first: 5, errs: map[string]int{kindBadID: 1}},
		{name: "no result", body: `{"jsonrpc":"2.0","id":5}`, first: 5, errs: map[string]int{kindBadJSON: 1}},
		{name: "not JSON", body: `<html>`, first: 5, errs: map[string]int{kindBadJSON: 1}},
		{name: "batch ok out of order", body: `[{"id":11,"result":1},{"id":10,"result":2},{"id":12,"result":3}]`, first: 10, n: 3, ok: 3},
		{name: "batch mixed", body: `[{"id":10,"result":1},{"id":11,"error":{"code":-32601,"message":"m"}},{"id":12,"error":{"code":429,"message":"m"}}]`,
			first: 10, n: 3, ok: 1, errs: map[string]int{"rpc -32601": 1, "rpc 429": 1}},
		{name: "batch missing", body: `[{"id":10,"result":1}]`, first: 10, n: 3, ok: 1, errs: map[string]int{kindMissing: 2}},
		{name: "batch wrong and duplicate ids", body: `[{"id":10,"result":1},{"id":10,"result":1},{"id":99,"result":1}]`,
			first: 10, n: 3, ok: 1, errs: map[string]int{kindBadID: 2}},
		{name: "batch extra answers", body: `[{"id":10,"result":1},{"id":11,"result":1},{"id":99,"result":1}]`,
			first: 10, n: 2, ok: 2},
		{name: "batch answered by one error", body: `{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"too big"}}`,
			first: 10, n: 4, errs: map[string]int{"rpc -32600": 4}},
		{name: "batch not JSON", body: `nope`, first: 10, n: 2, errs: map[string]int{kindBadJSON: 2}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var o outcome
			checkResponse([]byte(c.body), c.first, c.n, &o)
			got := map[string]int{}
			for _, e := range o.errs {
				got[e.kind] += e.n
			}
			if c.errs == nil {
				c.errs = map[string]int{}
			}
			if o.ok != c.ok || !reflect.DeepEqual(got, c.errs) {
				t.Fatalf("ok %d errs %v, want ok %d errs %v", o.ok, got, c.ok, c.errs)
			}
		})
	}
}

func TestTransportKind(t *testing.T) {
	for _, c := range []struct {
		err  error
		want string
	}{
		{context.DeadlineExceeded, kindTimeout},
		{fmt.Errorf("post: %w", &net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}), kindRefused},
		{&net.OpError{Op: "read", Err: syscall.ECONNRESET}, kindReset},
		{io.ErrUnexpectedEOF, kindEOF},
		{errResponseTooLarge, kindTooLarge},
		{&websocket.CloseError{Code: websocket.CloseGoingAway}, kindEOF},
		{websocket.ErrBadHandshake, kindHandshake},
		{errors.New("weird"), kindOther},
	} {
		if got := transportKind(c.err); got != c.want {
			t.Errorf("%v: %q, want %q", c.err, got, c.want)
		}
	}
}

// FuzzCheckResponse: any response body is classified without panicking, and
// every call is counted exactly once.
func FuzzCheckResponse(f *testing.F) {
	f.Add([]byte(`{"id":1,"result":1}`), uint8(0))
	f.Add([]byte(`[{"id":1,"result":1},{"id":2,"error":{"code":1}}]`), uint8(2))
	f.Add([]byte(`[{"id":1},{"id":1},{"id":"x"}]`), uint8(3))
	f.Fuzz(func(t *testing.T, body []byte, n uint8) {
		var o outcome
		checkResponse(body, 1, int(n), &o)
		total := o.ok
		for _, e := range o.errs {
			total += e.n
		}
		if want := max(int(n), 1); total != want {
			t.Fatalf("%q as %d calls: counted %d (ok %d, %+v)", body, n, total, o.ok, o.errs)
		}
	})
}
