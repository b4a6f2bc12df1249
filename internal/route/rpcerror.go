package route

import (
	"context"
	"errors"

	"github.com/rpcmesh/rpcmesh/internal/jsonrpc"
	"github.com/rpcmesh/rpcmesh/internal/upstream"
)

// ToRPC maps a routing error to the JSON-RPC error the client sees. It never
// names a provider's URL.
func ToRPC(err error) *jsonrpc.Error {
	var je *jsonrpc.Error
	var ue *upstream.Error
	switch {
	case errors.As(err, &je):
		return je // the node's own answer
	case errors.Is(err, ErrNoProvider):
		return &jsonrpc.Error{Code: jsonrpc.CodeNoProvider, Message: err.Error()}
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, upstream.ErrStalled):
		return jsonrpc.Errorf(jsonrpc.CodeTimeout, "timeout waiting for providers")
	case errors.Is(err, context.Canceled):
		return jsonrpc.Errorf(jsonrpc.CodeTimeout, "request cancelled")
	case errors.As(err, &ue):
		if ue.Class == upstream.ClassTimeout {
			return jsonrpc.Errorf(jsonrpc.CodeTimeout, "timeout: providers did not answer %s in time", ue.Method)
		}
		return jsonrpc.Errorf(jsonrpc.CodeUpstreamError, "upstream error: every attempt failed (last: %s)", ue.Class)
	}
	return jsonrpc.Errorf(jsonrpc.CodeInternalError, "internal error")
}
