package verification

import (
	"context"
	"encoding/json"
	"errors"
	"sync"

	"github.com/ethereum/go-ethereum/core/types"

	"github.com/rpcmesh/rpcmesh/internal/blockref"
	"github.com/rpcmesh/rpcmesh/internal/pipeline"
)

// wave is one wave of calls on its way through the stage.
type wave struct {
	v     *Verifier
	ctx   context.Context
	reads []waveRead // the proven state reads to ask together
	// here are the calls the wave answers itself (asked together, or
	// answered without asking); the others pass on or run alone.
	here map[*pipeline.Call]bool
	// headers are the trusted headers of the wave's block params, looked
	// up once each (the params of a wave's calls are mostly one block).
	headers map[headerKey]waveHeader
	// trusted are the calls passed on to one provider, with the note their
	// report gets: decided once, though the providers may change meanwhile.
	trusted map[*pipeline.Call]string
}

// waveRead is a proven state read of a wave, ready to ask.
type waveRead struct {
	c    *pipeline.Call
	read *stateRead
}

// headerKey is a call's resolved block param, as the block-tag stage left it.
type headerKey struct {
	ref    blockref.Ref
	hasRef bool
}

// waveHeader is a block param's trusted header, or why there is none.
type waveHeader struct {
	h   *types.Header
	err error
}

// newWave prepares a wave's proven state reads to be asked together
// (answered here at once when they need no asking: bad params, a kept
// proof). A read that cannot be proven (pending state) runs alone, as the
// calls of every other policy but trust-one do. A wave of one is not
// prepared: its call goes the single call's way.
func (v *Verifier) newWave(ctx context.Context, calls []*pipeline.Call) *wave {
	w := &wave{v: v, ctx: ctx}
	if len(calls) < 2 {
		return w
	}
	for _, c := range calls {
		if v.Policy(c.Method) == Proof && stateMethod(c.Method) {
			w.prepareRead(c)
		}
	}
	return w
}

// way is what becomes of c: answered by the wave, passed on (trust-one),
// or verified alone (Verifier.Run).
func (w *wave) way(c *pipeline.Call) pipeline.Way {
	if w.here[c] {
		return pipeline.Answered
	}
	if trust, note := w.v.trusts(c.Method); trust {
		if w.trusted == nil {
			w.trusted = make(map[*pipeline.Call]string)
		}
		w.trusted[c] = note
		return pipeline.PassOn
	}
	return pipeline.Alone
}

// prepareRead prepares c, a proven state read: to be asked with the wave,
// answered at once, or (pending state) left to run alone.
func (w *wave) prepareRead(c *pipeline.Call) {
	r, res, err := w.v.stateRead(w.ctx, c, w.header)
	var fb *fallback
	if r == nil && errors.As(err, &fb) {
		return // pending state: quorum, as the single call settles it
	}
	if w.here == nil {
		w.here = make(map[*pipeline.Call]bool)
	}
	w.here[c] = true
	if r != nil {
		w.reads = append(w.reads, waveRead{c: c, read: r})
		return
	}
	w.finish(c, res, err)
}

// header is Verifier.header, once per distinct block param of the wave.
// A call that shares a header trusted by operator agreement is labelled so
// in its own report, as the trust source labels the first.
func (w *wave) header(ctx context.Context, c *pipeline.Call) (*types.Header, error) {
	key := headerKey{ref: c.Ref, hasRef: c.HasRef}
	if wh, ok := w.headers[key]; ok {
		if wh.h != nil && w.v.byAgreement(wh.h) {
			c.Report.MarkAgreedHeader()
		}
		return wh.h, wh.err
	}
	h, err := w.v.header(ctx, c)
	if w.headers == nil {
		w.headers = make(map[headerKey]waveHeader, 1)
	}
	w.headers[key] = waveHeader{h: h, err: err}
	return h, err
}

// prove asks the wave's state reads as one upstream batch and checks each
// answer. A read whose answer passes is answered here; the others, and
// reads whose check asks the provider again (code, CheckPlain), go on
// from that answer as Handle's would, each on its own goroutine.
func (w *wave) prove() {
	if len(w.reads) == 0 {
		return
	}
	reqs := make([]Request, len(w.reads))
	for k, r := range w.reads {
		reqs[k] = r.read.first
	}
	answers := make([]Answer, len(w.reads))
	w.v.o.Asker.AskBatch(w.ctx, reqs, answers)
	var wg sync.WaitGroup
	for k, r := range w.reads {
		c, a := r.c, &answers[k]
		if a.Err == nil && !w.v.asksAgain(c.Method) {
			// nil: no follow-up call (asksAgain)
			if res, err := r.read.check(w.ctx, *a, nil); err == nil {
				c.Report.Set(pipeline.ClassProof, "", a.Operator)
				c.Provider = a.Provider // served by, as attempts records it
				w.finish(c, res, nil)
				continue
			}
		}
		wg.Go(func() {
			res, err := w.v.attemptsFrom(w.ctx, c, r.read.first, r.read.check, a)
			w.finish(c, res, err)
		})
	}
	wg.Wait()
}

// asksAgain reports whether checking a proof of method asks its provider
// a further call (the code, or the plain method with CheckPlain).
func (v *Verifier) asksAgain(method string) bool {
	return method == "eth_getCode" || (v.o.CheckPlain && method != "eth_getProof")
}

// finish answers c, a proof-policy call of the wave, as the single call
// is answered: settled by quorum after a fallback, counted when answered.
func (w *wave) finish(c *pipeline.Call, res json.RawMessage, err error) {
	res, class, err := w.v.proven(w.ctx, c, res, err)
	w.v.finish(c, res, class, err)
}

// stateMethod reports whether method is a state read proven by eth_getProof.
func stateMethod(method string) bool {
	switch method {
	case "eth_getBalance", "eth_getTransactionCount", "eth_getCode", "eth_getStorageAt", "eth_getProof":
		return true
	}
	return false
}
