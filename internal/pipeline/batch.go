package pipeline

import (
	"context"
	"encoding/json"
	"sync"
)

// Answer is a handler's answer to one call of a wave: the raw result, or an
// error as Handle would return it.
type Answer struct {
	Result json.RawMessage
	Err    error
}

// BatchHandler is a Handler that also takes the calls of one wave of a
// client's batch together: HandleBatch answers calls[i] in out[i] as Handle
// would, all at once, without a goroutine per call. A wave walks the
// pipeline as a whole (one pass of each stage over its calls) and reaches
// routing at once, as one upstream batch. HandleBatch may be called only
// when Batches reports true: a stage hands the wave to its Next whole.
type BatchHandler interface {
	Handler
	HandleBatch(ctx context.Context, calls []*Call, out []Answer)
	// Batches reports whether this stage and every one behind it take
	// waves whole (a stage that does not, such as verification, makes the
	// server run each call of a wave on its own).
	Batches() bool
}

// CanBatch reports whether h takes waves whole, all the way down.
func CanBatch(h Handler) bool {
	bh, ok := h.(BatchHandler)
	return ok && bh.Batches()
}

// Way is what a stage does with one call of a wave.
type Way int

const (
	// PassOn sends the call to the next stage, with the rest of the wave.
	PassOn Way = iota
	// Answered means the stage answered the call itself (out[i] is set).
	Answered
	// Alone runs the call through the stage's own Handle, on a goroutine
	// of its own, while the wave goes on: calls that wait on their own
	// (a transaction's broadcast, a split eth_getLogs).
	Alone
)

// HandleWave is the body of a stage's HandleBatch: way decides each call's
// way (and fills out[i] for the calls it answers); the calls passed on go
// to next together, the ones run alone through self.Handle at the same
// time. A wave is at most the server's batch concurrency long, so the
// goroutines are bounded.
func HandleWave(ctx context.Context, self Handler, next BatchHandler, calls []*Call, out []Answer, way func(i int, c *Call) Way) {
	if len(calls) == 0 {
		return
	}
	var (
		pass []*Call         // nil while every call so far passes on
		at   []int           // pass[j] is calls[at[j]]
		wg   *sync.WaitGroup // made for the first call run alone: most waves have none
	)
	for i, c := range calls {
		w := way(i, c)
		if w == PassOn {
			if pass != nil {
				pass, at = append(pass, c), append(at, i)
			}
			continue
		}
		if pass == nil { // the first call that leaves: copy the ones before it
			pass, at = make([]*Call, i, len(calls)), make([]int, i, len(calls))
			copy(pass, calls[:i])
			for j := range i {
				at[j] = j
			}
		}
		if w == Alone {
			if wg == nil {
				wg = new(sync.WaitGroup)
			}
			wg.Go(func() {
				res, err := self.Handle(ctx, c)
				out[i] = Answer{Result: res, Err: err}
			})
		}
	}
	switch {
	case pass == nil:
		next.HandleBatch(ctx, calls, out)
	case len(pass) > 0:
		sub := make([]Answer, len(pass))
		next.HandleBatch(ctx, pass, sub)
		for j, i := range at {
			out[i] = sub[j]
		}
	}
	if wg != nil {
		wg.Wait()
	}
}
