package jsonrpc

import (
	"encoding/json"
	"fmt"
)

// JSON-RPC 2.0 error codes, defined once for the whole gateway.
//
// The first five are the specification's. The rest are rpcmesh's server
// codes; the first two follow EIP-1474 ("resource unavailable", "limit
// exceeded") so wallets already understand them.
const (
	CodeParseError     = -32700 // invalid JSON
	CodeInvalidRequest = -32600 // not a valid request object (also: empty batch)
	CodeMethodNotFound = -32601 // method unknown or not served by this gateway
	CodeInvalidParams  = -32602 // params of the wrong shape or out of bounds
	CodeInternalError  = -32603 // a bug in the gateway

	CodeNoProvider    = -32002 // no provider of the chain can serve the call right now
	CodeLimitExceeded = -32005 // a gateway limit (batch, response size, concurrency, log range)
	CodeTimeout       = -32010 // the call did not finish within the request timeout
	CodeUpstreamError = -32011 // every attempt at a provider failed at the transport level
	CodeTxRejected    = -32003 // every provider rejected the transaction (EIP-1474 "transaction rejected")
	CodeUnverified    = -32012 // no answer could be verified (proof or quorum) for the call
)

// Error is a JSON-RPC error object. It is also a Go error, so an upstream's
// error answer travels through the pipeline unchanged.
type Error struct {
	Code    int             `json:"code"`
	Message string          `json:"message"`
	Data    json.RawMessage `json:"data,omitempty"`
}

// Error formats the error as "code: message".
func (e *Error) Error() string { return fmt.Sprintf("json-rpc error %d: %s", e.Code, e.Message) }

// Errorf builds an *Error with a formatted message. Errors among args are
// rendered in plain words (Plain): the message goes to a client.
func Errorf(code int, format string, args ...any) *Error {
	copied := false
	for i, a := range args {
		err, ok := a.(error)
		if _, rpc := a.(*Error); !ok || rpc {
			continue
		}
		if !copied { // the caller's slice stays as it was
			args, copied = append([]any(nil), args...), true
		}
		args[i] = Plain(err)
	}
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Common errors with fixed messages.
var (
	errEmptyBatch = &Error{Code: CodeInvalidRequest, Message: "invalid request: empty batch"}
)

// ErrParse returns the error for a body that is not valid JSON.
func ErrParse(detail string) *Error {
	return &Error{Code: CodeParseError, Message: "parse error: " + detail}
}
