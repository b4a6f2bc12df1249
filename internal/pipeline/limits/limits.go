// Package limits is the pipeline stage that bounds what one call may cost:
// its time and the size of its answer. Being the first stage, it is also
// where every error becomes the JSON-RPC error the client sees.
package limits

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/jsonrpc"
	"github.com/rpcmesh/rpcmesh/internal/pipeline"
	"github.com/rpcmesh/rpcmesh/internal/route"
)

// Limits bounds each call by Timeout and MaxResponseBytes (0 = no bound).
type Limits struct {
	Next             pipeline.Handler
	Timeout          time.Duration
	MaxResponseBytes int64
}

// Stage returns the stage constructor.
func Stage(timeout time.Duration, maxResponseBytes int64) pipeline.Stage {
	return func(next pipeline.Handler) pipeline.Handler {
		return &Limits{Next: next, Timeout: timeout, MaxResponseBytes: maxResponseBytes}
	}
}

// Handle runs a wave's calls under one timeout and checks each answer.
func (l *Limits) Handle(ctx context.Context, wave []*pipeline.Call) {
	ctx, cancel := l.bound(ctx)
	defer cancel()
	l.Next.Handle(ctx, wave)
	for _, c := range wave {
		c.Result, c.Err = l.check(ctx, c, c.Result, c.Err)
	}
}

// bound gives ctx the call's timeout.
func (l *Limits) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	if l.Timeout > 0 {
		// The HTTP front door already bounds the request by the same
		// timeout: a second timer for the same moment would only cost.
		if deadline, ok := ctx.Deadline(); !ok || time.Until(deadline) > l.Timeout {
			return context.WithTimeout(ctx, l.Timeout)
		}
	}
	return ctx, func() {}
}

// check turns a deadline into the timeout error, any other failure the
// stages behind left unmapped (routing's, from the verification stage) into
// the JSON-RPC error the client sees, and refuses answers over the size
// limit: past this stage, the first, an error is always a *jsonrpc.Error.
func (l *Limits) check(ctx context.Context, c *pipeline.Call, res json.RawMessage, err error) (json.RawMessage, error) {
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) || (ctx.Err() != nil && !isRPC(err)) {
			return nil, jsonrpc.Errorf(jsonrpc.CodeTimeout, "timeout: %s did not finish within %s", c.Method, l.Timeout)
		}
		return nil, route.ToRPC(err)
	}
	if l.MaxResponseBytes > 0 && int64(len(res)) > l.MaxResponseBytes {
		return nil, jsonrpc.Errorf(jsonrpc.CodeLimitExceeded, "limit exceeded: response of %d bytes is over the limit of %d", len(res), l.MaxResponseBytes)
	}
	return res, nil
}

func isRPC(err error) bool {
	var je *jsonrpc.Error
	return errors.As(err, &je)
}
