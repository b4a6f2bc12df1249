// Package jsonrpc is the JSON-RPC 2.0 envelope: decoding single and batch
// requests, encoding responses, and the error codes of the gateway.
//
// Params and results are kept as json.RawMessage: the gateway forwards them
// and never decodes what it only passes on.
package jsonrpc

import (
	"bytes"
	"encoding/json"
)

// Version is the only protocol version accepted.
const Version = "2.0"

// Request is one decoded JSON-RPC call.
type Request struct {
	// ID is the raw id: a JSON string, number or null. Nil (absent) means a
	// notification, which gets no response.
	ID     json.RawMessage
	Method string
	// Params is the raw params array or object; nil when absent.
	Params json.RawMessage
}

// IsNotification reports whether the request has no id and so no response.
func (r *Request) IsNotification() bool { return len(r.ID) == 0 }

// Response is one JSON-RPC response: exactly one of Result and Error is set.
type Response struct {
	ID     json.RawMessage
	Result json.RawMessage
	Error  *Error
}

var nullID = json.RawMessage("null")

// NewResult builds a success response for id.
func NewResult(id, result json.RawMessage) Response {
	if len(result) == 0 {
		result = nullID
	}
	return Response{ID: id, Result: result}
}

// NewError builds an error response for id (null when id is empty).
func NewError(id json.RawMessage, err *Error) Response {
	return Response{ID: id, Error: err}
}

// AppendJSON appends the response's JSON encoding to buf. The result is
// copied verbatim (it was validated when it was decoded).
func (r *Response) AppendJSON(buf []byte) []byte {
	buf = append(buf, `{"jsonrpc":"2.0","id":`...)
	if len(r.ID) == 0 {
		buf = append(buf, nullID...)
	} else {
		buf = append(buf, r.ID...)
	}
	if r.Error != nil {
		buf = append(buf, `,"error":`...)
		b, err := json.Marshal(r.Error)
		if err != nil { // only Data can fail, and it was validated; drop it
			b, _ = json.Marshal(&Error{Code: r.Error.Code, Message: r.Error.Message})
		}
		buf = append(buf, b...)
	} else {
		buf = append(buf, `,"result":`...)
		if len(r.Result) == 0 {
			buf = append(buf, nullID...)
		} else {
			buf = append(buf, r.Result...)
		}
	}
	return append(buf, '}')
}

// EncodeLimited is EncodeBatch with the answers past a total of limit result
// bytes (0: no limit) replaced by a limit-exceeded error, as both front
// doors (HTTP and WebSocket) answer.
func EncodeLimited(responses []Response, batch bool, limit int64) []byte {
	if limit > 0 {
		var total int64
		for i := range responses {
			total += int64(len(responses[i].Result))
			if total > limit && responses[i].Error == nil {
				responses[i] = NewError(responses[i].ID,
					Errorf(CodeLimitExceeded, "limit exceeded: batch response over %d bytes", limit))
			}
		}
	}
	return EncodeBatch(responses, batch)
}

// EncodeBatch encodes responses as a JSON array (batch) or, when batch is
// false, the single response. It returns nil when there is nothing to send
// (only notifications).
func EncodeBatch(responses []Response, batch bool) []byte {
	if len(responses) == 0 {
		return nil
	}
	if !batch {
		return responses[0].AppendJSON(make([]byte, 0, 64+len(responses[0].Result)))
	}
	n := 2
	for i := range responses {
		n += 64 + len(responses[i].Result)
	}
	buf := make([]byte, 0, n)
	buf = append(buf, '[')
	for i := range responses {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = responses[i].AppendJSON(buf)
	}
	return append(buf, ']')
}

// trimSpace reports the first non-whitespace byte of b, or 0.
func firstByte(b []byte) byte {
	b = bytes.TrimLeft(b, " \t\r\n")
	if len(b) == 0 {
		return 0
	}
	return b[0]
}
