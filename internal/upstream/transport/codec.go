package transport

import (
	"encoding/json"
	"strconv"

	"github.com/rpcmesh/rpcmesh/internal/jsonrpc"
)

// response is one decoded JSON-RPC answer; the result stays raw.
type response struct {
	ID     json.RawMessage `json:"id"`
	Result json.RawMessage `json:"result"`
	Error  *jsonrpc.Error  `json:"error"`
}

// decodeResponse decodes one answer object, without reflection unless it
// carries an error or has unusual member names.
func decodeResponse(data []byte) (response, error) {
	m, ok := jsonrpc.ScanResponse(data)
	if !ok {
		var r response // declared here: only this path allocates it
		err := json.Unmarshal(data, &r)
		return r, err
	}
	e, err := decodeError(m.Error)
	return response{ID: m.ID, Result: m.Result, Error: e}, err
}

// decodeBatchResponse decodes a batch answer: an array of answer objects,
// as decodeResponse does one.
func decodeBatchResponse(data []byte) ([]response, error) {
	members, ok := jsonrpc.ScanResponses(data)
	if !ok {
		var msgs []response // declared here: only this path allocates it
		err := json.Unmarshal(data, &msgs)
		return msgs, err
	}
	msgs := make([]response, len(members))
	for i, m := range members {
		e, err := decodeError(m.Error)
		if err != nil {
			return nil, err
		}
		msgs[i] = response{ID: m.ID, Result: m.Result, Error: e}
	}
	return msgs, nil
}

// decodeError decodes an answer's error member: nil when it is absent or
// null.
func decodeError(raw json.RawMessage) (*jsonrpc.Error, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var e *jsonrpc.Error // declared here: only this path allocates it
	err := json.Unmarshal(raw, &e)
	return e, err
}

// appendRequest appends req's JSON to buf: one call object, or an array.
func appendRequest(buf []byte, req *Request) []byte {
	if !req.Batch {
		c := req.Calls[0]
		return appendCall(buf, req.First, c.Method, c.Params)
	}
	buf = append(buf, '[')
	for i, c := range req.Calls {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = appendCall(buf, req.First+uint64(i), c.Method, c.Params)
	}
	return append(buf, ']')
}

// requestSize estimates the length of req's JSON, for one allocation.
func requestSize(req *Request) int {
	n := 2
	for _, c := range req.Calls {
		n += 64 + len(c.Method) + len(c.Params)
	}
	return n
}

// encode returns req's JSON in a new buffer: for transports that may still
// read it after the call has returned (net/http, a WebSocket writer).
func encode(req *Request) []byte {
	return appendRequest(make([]byte, 0, requestSize(req)), req)
}

// appendCall appends one call's JSON to buf by hand: params are forwarded raw.
func appendCall(buf []byte, id uint64, method string, params json.RawMessage) []byte {
	buf = append(buf, `{"jsonrpc":"2.0","id":`...)
	buf = strconv.AppendUint(buf, id, 10)
	buf = append(buf, `,"method":`...)
	if plainName(method) {
		buf = append(append(append(buf, '"'), method...), '"')
	} else {
		m, _ := json.Marshal(method) // a string always marshals
		buf = append(buf, m...)
	}
	buf = append(buf, `,"params":`...)
	if len(params) == 0 {
		buf = append(buf, `[]`...)
	} else {
		buf = append(buf, params...)
	}
	return append(buf, '}')
}

// plainName reports whether s needs no JSON escaping (method names do not).
func plainName(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}
