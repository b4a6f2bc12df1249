package chain

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/jsonrpc"
	"github.com/rpcmesh/rpcmesh/internal/pipeline"
	"github.com/rpcmesh/rpcmesh/internal/status"
)

// answerCounter is the chain's outermost handler: it counts every answer
// the chain gives clients, failed and slowed, once, where the chain's
// handler returns. Incidents measure their user impact by these counts.
type answerCounter struct {
	next                   pipeline.Handler
	slow                   time.Duration
	now                    func() time.Time // time.Now; tests set it
	served, failed, slowed atomic.Uint64
}

// Handle passes the wave on and counts its answers.
func (a *answerCounter) Handle(ctx context.Context, wave []*pipeline.Call) {
	now := a.now
	if now == nil {
		now = time.Now
	}
	start := now()
	a.next.Handle(ctx, wave)
	slow := a.slow > 0 && now().Sub(start) > a.slow
	for _, c := range wave {
		a.served.Add(1)
		switch {
		case failedAnswer(c.Err):
			a.failed.Add(1)
		case slow:
			a.slowed.Add(1)
		}
	}
}

// failedAnswer reports whether err is an answer the client did not cause:
// no provider could serve, a timeout, nothing verifiable, a gateway fault.
// Errors about the call itself (bad params, reverts, limits) and node
// answers are the client's.
func failedAnswer(err error) bool {
	var je *jsonrpc.Error
	if err == nil || !errors.As(err, &je) {
		return err != nil
	}
	switch je.Code {
	case jsonrpc.CodeNoProvider, jsonrpc.CodeTimeout, jsonrpc.CodeUpstreamError, jsonrpc.CodeUnverified, jsonrpc.CodeInternalError:
		return true
	}
	return false
}

// counts are the answers so far.
func (a *answerCounter) counts() status.Answers {
	return status.Answers{Served: a.served.Load(), Failed: a.failed.Load(), Slowed: a.slowed.Load()}
}
