package route

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/rpcmesh/rpcmesh/internal/jsonrpc"
	"github.com/rpcmesh/rpcmesh/internal/upstream"
)

// TestToRPC: every routing failure becomes the JSON-RPC error a client
// reads, in plain words, never naming a provider's URL; a node's own
// answer passes unchanged.
func TestToRPC(t *testing.T) {
	node := jsonrpc.Errorf(3, "execution reverted")
	secret := "https://node.example/key123"
	tests := []struct {
		err  error
		code int
		msg  string
	}{
		{node, 3, "execution reverted"},
		{fmt.Errorf("attempt: %w", node), 3, "execution reverted"},
		{fmt.Errorf("eth_call: %w", ErrNoProvider), jsonrpc.CodeNoProvider, "no provider"},
		{context.DeadlineExceeded, jsonrpc.CodeTimeout, "timeout waiting for providers"},
		{fmt.Errorf("x: %w", upstream.ErrStalled), jsonrpc.CodeTimeout, "timeout waiting for providers"},
		{context.Canceled, jsonrpc.CodeTimeout, "request cancelled"},
		{&upstream.Error{Provider: secret, Method: "eth_call", Class: upstream.ClassTimeout, Err: errors.New(secret)}, jsonrpc.CodeTimeout, "did not answer eth_call in time"},
		{&upstream.Error{Provider: secret, Method: "eth_call", Class: upstream.ClassTransport, Err: errors.New(secret)}, jsonrpc.CodeUpstreamError, "every attempt failed (last: transport)"},
		{errors.New(secret), jsonrpc.CodeInternalError, "internal error"},
	}
	for _, tt := range tests {
		je := ToRPC(tt.err)
		if je.Code != tt.code || !strings.Contains(je.Message, tt.msg) || strings.Contains(je.Message, "key123") {
			t.Errorf("%v: %d %q, want %d with %q", tt.err, je.Code, je.Message, tt.code, tt.msg)
		}
	}
}
