// Package limits is the pipeline stage that bounds what one call may cost:
// its time and the size of its answer.
package limits

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/jsonrpc"
	"github.com/rpcmesh/rpcmesh/internal/pipeline"
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

// Handle runs the call under the limits.
func (l *Limits) Handle(ctx context.Context, c *pipeline.Call) (json.RawMessage, error) {
	ctx, cancel := l.bound(ctx)
	defer cancel()
	res, err := l.Next.Handle(ctx, c)
	return l.check(ctx, c, res, err)
}

// HandleBatch bounds a wave's calls by one timeout and checks each answer.
func (l *Limits) HandleBatch(ctx context.Context, calls []*pipeline.Call, out []pipeline.Answer) {
	ctx, cancel := l.bound(ctx)
	defer cancel()
	l.Next.(pipeline.BatchHandler).HandleBatch(ctx, calls, out)
	for i, c := range calls {
		out[i].Result, out[i].Err = l.check(ctx, c, out[i].Result, out[i].Err)
	}
}

// Batches reports whether the stages behind take waves whole.
func (l *Limits) Batches() bool { return pipeline.CanBatch(l.Next) }

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

// check turns a deadline into the timeout error and refuses answers over
// the size limit.
func (l *Limits) check(ctx context.Context, c *pipeline.Call, res json.RawMessage, err error) (json.RawMessage, error) {
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) || (ctx.Err() != nil && !isRPC(err)) {
			return nil, jsonrpc.Errorf(jsonrpc.CodeTimeout, "timeout: %s did not finish within %s", c.Method, l.Timeout)
		}
		return nil, err
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
