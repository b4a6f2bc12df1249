package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"strconv"
	"syscall"

	"github.com/gorilla/websocket"

	"github.com/rpcmesh/rpcmesh/internal/jsonrpc"
)

// Error kinds are the keys of Report.Errors: "transport: <cause>",
// "http <status>", "rpc <code>" or "bad response: <what>". Each counts calls,
// so OKCalls plus all errors equals Calls.
const (
	kindTimeout   = "transport: timeout"
	kindRefused   = "transport: connection refused"
	kindReset     = "transport: connection reset"
	kindEOF       = "transport: connection closed"
	kindTooLarge  = "transport: response too large"
	kindHandshake = "transport: websocket handshake"
	kindOther     = "transport: other"
	kindBadJSON   = "bad response: not JSON-RPC"
	kindBadID     = "bad response: id mismatch"
	kindMissing   = "bad response: missing from batch"
)

// outcome is what one request came to: how many of its calls succeeded and,
// per error kind, how many failed.
type outcome struct {
	ok   int
	errs []kindCount
}

// kindCount is how many calls failed with one kind of error, with the
// message of the first as an example.
type kindCount struct {
	kind   string
	n      int
	sample string
}

func (o *outcome) reset() {
	o.ok = 0
	o.errs = o.errs[:0]
}

func (o *outcome) fail(kind string, n int, sample string) {
	for i := range o.errs {
		if o.errs[i].kind == kind {
			o.errs[i].n += n
			return
		}
	}
	o.errs = append(o.errs, kindCount{kind, n, sample})
}

// transportKind names the cause of a transport error.
func transportKind(err error) string {
	var (
		ne net.Error
		ce *websocket.CloseError
	)
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return kindTimeout
	case errors.Is(err, syscall.ECONNREFUSED):
		return kindRefused
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return kindReset
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed), errors.As(err, &ce):
		return kindEOF
	case errors.Is(err, websocket.ErrBadHandshake):
		return kindHandshake
	case errors.Is(err, errResponseTooLarge):
		return kindTooLarge
	}
	return kindOther
}

// httpKind names an HTTP status other than 200.
func httpKind(status int) string { return "http " + strconv.Itoa(status) }

// rpcKind names a JSON-RPC error code.
func rpcKind(code int) string {
	switch code { // the common ones without an allocation
	case jsonrpc.CodeParseError:
		return "rpc -32700"
	case jsonrpc.CodeInvalidRequest:
		return "rpc -32600"
	case jsonrpc.CodeMethodNotFound:
		return "rpc -32601"
	case jsonrpc.CodeInvalidParams:
		return "rpc -32602"
	case jsonrpc.CodeInternalError:
		return "rpc -32603"
	case -32000:
		return "rpc -32000"
	case jsonrpc.CodeLimitExceeded:
		return "rpc -32005"
	case jsonrpc.CodeNoProvider:
		return "rpc -32002"
	case jsonrpc.CodeTimeout:
		return "rpc -32010"
	case jsonrpc.CodeUpstreamError:
		return "rpc -32011"
	}
	return "rpc " + strconv.Itoa(code)
}

// rpcResponse is the part of a JSON-RPC response the checker reads; the
// result is kept raw and never decoded.
type rpcResponse struct {
	ID     json.RawMessage `json:"id"`
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// checkResponse classifies the response to a request whose calls have ids
// first..first+n-1 (n == 0: a single call sent as an object) into o.
func checkResponse(body []byte, first uint64, n int, o *outcome) {
	if n == 0 {
		var r rpcResponse
		if err := json.Unmarshal(body, &r); err != nil {
			o.fail(kindBadJSON, 1, snippet(body))
			return
		}
		if id, ok := parseID(r.ID); !ok || id != first {
			// A JSON-RPC error for the whole request (e.g. a parse error) has id null.
			if r.Error != nil && string(r.ID) == "null" {
				o.fail(rpcKind(r.Error.Code), 1, r.Error.Message)
				return
			}
			o.fail(kindBadID, 1, "id "+string(r.ID)+", want "+strconv.FormatUint(first, 10))
			return
		}
		classifyOne(&r, o)
		return
	}
	var rs []rpcResponse
	if err := json.Unmarshal(body, &rs); err != nil {
		// A gateway may answer a whole batch with one error object.
		var r rpcResponse
		if json.Unmarshal(body, &r) == nil && r.Error != nil {
			o.fail(rpcKind(r.Error.Code), n, r.Error.Message)
			return
		}
		o.fail(kindBadJSON, n, snippet(body))
		return
	}
	// seen marks answered ids. Unknown or repeated ids are not counted on
	// their own, so OK plus errors stays n: they explain unanswered calls.
	var seenBuf [64]bool
	var seen []bool
	if n <= len(seenBuf) {
		seen = seenBuf[:n]
	} else {
		seen = make([]bool, n)
	}
	badIDs, answered := 0, 0
	badSample := ""
	for i := range rs {
		id, ok := parseID(rs[i].ID)
		if !ok || id < first || id >= first+uint64(n) || seen[id-first] {
			if badIDs == 0 {
				badSample = "id " + string(rs[i].ID) + " not in batch"
			}
			badIDs++
			continue
		}
		seen[id-first] = true
		answered++
		classifyOne(&rs[i], o)
	}
	if missing := n - answered; missing > 0 {
		wrong := min(badIDs, missing)
		if wrong > 0 {
			o.fail(kindBadID, wrong, badSample)
		}
		if missing > wrong {
			o.fail(kindMissing, missing-wrong, strconv.Itoa(missing)+" of "+strconv.Itoa(n)+" calls unanswered")
		}
	}
}

func classifyOne(r *rpcResponse, o *outcome) {
	switch {
	case r.Error != nil:
		o.fail(rpcKind(r.Error.Code), 1, r.Error.Message)
	case len(r.Result) == 0:
		o.fail(kindBadJSON, 1, "neither result nor error")
	default:
		o.ok++
	}
}

// parseID reads a numeric id, or a string holding one.
func parseID(raw json.RawMessage) (uint64, bool) {
	raw = bytes.Trim(raw, `"`)
	id, err := strconv.ParseUint(string(raw), 10, 64)
	return id, err == nil
}

func snippet(b []byte) string {
	const max = 120
	if len(b) > max {
		return string(b[:max]) + "..."
	}
	return string(b)
}
