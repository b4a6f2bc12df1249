package jsonrpc

import (
	"bytes"
	"encoding/json"
)

// Call is one item of a decoded body: a valid request, or the error to
// answer it with (Err set, Req.ID as far as it could be read).
type Call struct {
	Req Request
	Err *Error
}

// wireRequest keeps every member raw so that type errors are ours to report.
type wireRequest struct {
	Version json.RawMessage `json:"jsonrpc"`
	ID      json.RawMessage `json:"id"`
	Method  json.RawMessage `json:"method"`
	Params  json.RawMessage `json:"params"`
}

// Decode parses a request body into its calls. batch tells whether the body
// was a JSON array. A non-nil *Error means the whole body is rejected with
// a single response (parse error, empty batch, not an object or array).
// Errors of single items are reported in their Call.Err instead. The
// calls' raw members point into body: body must not be reused while they
// are in use.
func Decode(body []byte) (calls []Call, batch bool, err *Error) {
	switch firstByte(body) {
	case '[':
		items, ok := []json.RawMessage(nil), json.Valid(body)
		if ok {
			items, ok = splitArray(body)
		}
		if !ok {
			var all []json.RawMessage // declared here: only this path allocates it
			if e := json.Unmarshal(body, &all); e != nil {
				return nil, true, ErrParse(Plain(e))
			}
			items = all
		}
		if len(items) == 0 {
			return nil, true, errEmptyBatch
		}
		calls = make([]Call, len(items))
		for i, it := range items {
			calls[i] = decodeOne(it)
		}
		return calls, true, nil
	case '{':
		if !json.Valid(body) {
			return nil, false, ErrParse("body is not valid JSON")
		}
		return []Call{decodeOne(body)}, false, nil
	default:
		if !json.Valid(body) {
			return nil, false, ErrParse("body is not valid JSON")
		}
		return nil, false, Errorf(CodeInvalidRequest, "invalid request: body must be an object or an array")
	}
}

// decodeOne validates one request object (already known to be valid JSON).
func decodeOne(raw json.RawMessage) Call {
	if firstByte(raw) != '{' {
		return Call{Err: Errorf(CodeInvalidRequest, "invalid request: batch item must be an object")}
	}
	var w wireRequest
	if !scanRequest(raw, &w) {
		var fw wireRequest // declared here: only this path allocates it
		if err := json.Unmarshal(raw, &fw); err != nil {
			return Call{Err: Errorf(CodeInvalidRequest, "invalid request: %v", err)}
		}
		w = fw
	}
	c := Call{}
	if w.ID != nil {
		switch firstByte(w.ID) {
		case '"', 'n', '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
			c.Req.ID = w.ID
		default:
			c.Req.ID = nullID
			c.Err = Errorf(CodeInvalidRequest, "invalid request: id must be a string, number or null")
			return c
		}
	}
	if string(w.Version) != `"2.0"` {
		if c.Req.ID == nil {
			c.Req.ID = nullID // an invalid request is answered even without an id
		}
		c.Err = Errorf(CodeInvalidRequest, `invalid request: "jsonrpc" must be "2.0"`)
		return c
	}
	method, ok := StringValue(w.Method)
	if !ok || firstByte(w.Method) != '"' || method == "" {
		if c.Req.ID == nil {
			c.Req.ID = nullID
		}
		c.Err = Errorf(CodeInvalidRequest, `invalid request: "method" must be a non-empty string`)
		return c
	}
	c.Req.Method = method
	if w.Params != nil {
		switch firstByte(w.Params) {
		case '[', '{':
			c.Req.Params = w.Params
		case 'n': // "params": null is treated as absent
		default:
			if c.Req.ID == nil {
				c.Req.ID = nullID
			}
			c.Err = Errorf(CodeInvalidParams, `invalid params: "params" must be an array or an object`)
			return c
		}
	}
	return c
}

// ParamsArray splits a params array into its raw elements. Absent params
// are an empty array; an object or anything else is an error. The elements
// point into params.
func ParamsArray(params json.RawMessage) ([]json.RawMessage, *Error) {
	if p := bytes.TrimSpace(params); len(p) == 0 || string(p) == "null" {
		return nil, nil
	}
	out, err := AppendParamsArray(make([]json.RawMessage, 0, 4), params)
	if err != nil {
		return nil, err
	}
	return out, nil
}

// AppendParamsArray is ParamsArray appending the elements to dst, so that
// a caller can split params into an array of its own (on its stack). Absent
// params append nothing.
func AppendParamsArray(dst []json.RawMessage, params json.RawMessage) ([]json.RawMessage, *Error) {
	params = bytes.TrimSpace(params)
	if len(params) == 0 || string(params) == "null" {
		return dst, nil
	}
	if params[0] != '[' {
		return dst, Errorf(CodeInvalidParams, "invalid params: expected an array")
	}
	if json.Valid(params) {
		if out, ok := appendArray(dst, params); ok {
			return out, nil
		}
	}
	var out []json.RawMessage // declared here: only this path allocates it
	if err := json.Unmarshal(params, &out); err != nil {
		return dst, Errorf(CodeInvalidParams, "invalid params: %v", err)
	}
	return append(dst, out...), nil
}

// AppendValidParamsArray is AppendParamsArray for params already known to
// be valid JSON (a decoded body's members, or params built from them): it
// skips the validation pass, the larger part of splitting.
func AppendValidParamsArray(dst []json.RawMessage, params json.RawMessage) ([]json.RawMessage, *Error) {
	if out, ok := appendArray(dst, params); ok {
		return out, nil
	}
	return AppendParamsArray(dst, params) // absent, null, not an array: its own answer
}

// EncodeParams builds a params array from raw elements.
func EncodeParams(items []json.RawMessage) json.RawMessage { return EncodeParamsWith(items, -1, nil) }

// EncodeParamsWith is EncodeParams with items[i] replaced by v (i < 0:
// none), leaving items as they are: v may then live on the caller's stack.
func EncodeParamsWith(items []json.RawMessage, i int, v json.RawMessage) json.RawMessage {
	n := 2 + len(items)
	for j, it := range items {
		if j == i {
			it = v
		}
		n += len(it)
	}
	b := make([]byte, 0, n)
	b = append(b, '[')
	for j, it := range items {
		if j > 0 {
			b = append(b, ',')
		}
		if j == i {
			it = v
		}
		b = append(b, it...)
	}
	return append(b, ']')
}
