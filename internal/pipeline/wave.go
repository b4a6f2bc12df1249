package pipeline

import (
	"context"
	"sync"
)

// Way is what a stage does with one call of a wave.
type Way int

const (
	// PassOn sends the call to the next stage, with the rest of the wave.
	PassOn Way = iota
	// Answered means the stage answered the call itself (set its answer).
	Answered
	// Alone runs the call through the stage's own work for it, on a
	// goroutine of its own, while the wave goes on: calls that wait on
	// their own (a transaction's broadcast, a split eth_getLogs).
	Alone
)

// Runner is a stage's own work on one call: the calls HandleWave runs
// alone. (An interface, not a func: the stage itself is one, and a method
// value handed to a goroutine would cost an allocation per wave.)
type Runner interface {
	Run(ctx context.Context, c *Call)
}

// HandleWave is the body of a stage's Handle: way decides each call's way
// (and answers the calls it answers); the calls passed on go to next
// together, the ones run alone through alone.Run at the same time (alone
// may be nil when way never says Alone). A wave is at most the server's
// batch concurrency long, so the goroutines are bounded. When no call is
// passed on, the last call run alone runs on this goroutine (a wave of one
// makes no goroutine).
func HandleWave(ctx context.Context, wave []*Call, next Handler, way func(c *Call) Way, alone Runner) {
	if len(wave) == 0 {
		return
	}
	var (
		pass   []*Call         // nil while every call so far passes on
		lonely []*Call         // the calls run alone
		wg     *sync.WaitGroup // made for the second call run alone: most waves have none
	)
	for i, c := range wave {
		w := way(c)
		if w == PassOn {
			if pass != nil {
				pass = append(pass, c)
			}
			continue
		}
		if pass == nil { // the first call that leaves: copy the ones before it
			pass = make([]*Call, i, len(wave))
			copy(pass, wave[:i])
		}
		if w == Alone {
			lonely = append(lonely, c)
		}
	}
	if pass == nil {
		next.Handle(ctx, wave)
		return
	}
	last := len(lonely) - 1
	if len(pass) > 0 {
		last = -1 // the wave passed on holds this goroutine
	}
	for i, c := range lonely {
		if i == last {
			break
		}
		if wg == nil {
			wg = new(sync.WaitGroup)
		}
		wg.Go(func() { alone.Run(ctx, c) })
	}
	if len(pass) > 0 {
		next.Handle(ctx, pass)
	} else if last >= 0 {
		alone.Run(ctx, lonely[last])
	}
	if wg != nil {
		wg.Wait()
	}
}
