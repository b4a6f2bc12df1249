package stage

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"sync"

	"github.com/ethereum/go-ethereum/core/types"

	"github.com/rpcmesh/rpcmesh/internal/pipeline"
)

// Batches reports whether the stages behind take waves whole.
func (v *Verifier) Batches() bool { return pipeline.CanBatch(v.next) }

// HandleBatch answers a wave of a client's batch, each call by its
// method's policy, as Handle would. The wave's proven state reads go out
// together: one upstream batch of eth_getProof calls, against trusted
// headers looked up once per block for the wave, each proof checked on its
// own; a read whose answer fails its check goes on as Handle's would (to
// other providers, the liar penalised and recorded). Trust-one calls pass
// on to the next stage together; the others (quorum, blocks, receipts,
// logs, pending state) run each as Handle runs it, at the same time.
func (v *Verifier) HandleBatch(ctx context.Context, calls []*pipeline.Call, out []pipeline.Answer) {
	if len(calls) == 1 {
		c := calls[0]
		res, err := v.Handle(callContext(ctx, c), c)
		out[0] = pipeline.Answer{Result: res, Err: err}
		return
	}
	w := wave{v: v, ctx: ctx, calls: calls, out: out, ways: make([]pipeline.Way, len(calls))}
	w.prepare()
	next, _ := v.next.(pipeline.BatchHandler)
	if w.passOn == 0 && w.alone == 0 {
		w.prove()
		return
	}
	var proofs sync.WaitGroup
	if len(w.reads) > 0 {
		proofs.Go(w.prove)
	}
	self := pipeline.HandlerFunc(func(ctx context.Context, c *pipeline.Call) (json.RawMessage, error) {
		return v.Handle(callContext(ctx, c), c)
	})
	pipeline.HandleWave(ctx, self, next, calls, out, func(i int, _ *pipeline.Call) pipeline.Way { return w.ways[i] })
	for i, c := range calls {
		if w.ways[i] == pipeline.PassOn && out[i].Err == nil {
			v.trusted(callContext(ctx, c), c)
			v.answered(c, ClassTrusted)
		}
	}
	proofs.Wait()
}

// wave is one wave of calls on its way through the stage.
type wave struct {
	v     *Verifier
	ctx   context.Context
	calls []*pipeline.Call
	out   []pipeline.Answer
	ways  []pipeline.Way // what becomes of calls[i]: Answered (here), PassOn, Alone
	reads []waveRead     // the proven state reads to ask together
	// passOn and alone count the calls of each way.
	passOn, alone int
	// headers are the trusted headers of the wave's block params, looked
	// up once each (the params of a wave's calls are mostly one block).
	headers map[string]waveHeader
}

// waveRead is a proven state read of a wave, ready to ask.
type waveRead struct {
	i    int             // calls[i]
	ctx  context.Context // the call's own (its report)
	read *stateRead
}

// waveHeader is a block param's trusted header, or why there is none.
type waveHeader struct {
	h   *types.Header
	err error
}

// prepare decides each call's way. State reads are prepared to be asked
// together (answered here at once when they need no asking: bad params, a
// kept proof); a read that cannot be proven (pending state) runs alone.
func (w *wave) prepare() {
	for i, c := range w.calls {
		switch w.v.Policy(c.Method) {
		case TrustOne:
			w.ways[i] = pipeline.PassOn
			w.passOn++
			continue
		case Proof:
			if stateMethod(c.Method) {
				if w.prepareRead(i, c) {
					w.ways[i] = pipeline.Answered
					continue
				}
			}
		}
		w.ways[i] = pipeline.Alone
		w.alone++
	}
}

// prepareRead prepares the state read calls[i] and reports whether the
// wave answers it here (false: it runs alone, as Handle runs it).
func (w *wave) prepareRead(i int, c *pipeline.Call) bool {
	ctx := callContext(w.ctx, c)
	r, res, err := w.v.stateRead(ctx, c, w.header)
	if r != nil {
		w.reads = append(w.reads, waveRead{i: i, ctx: ctx, read: r})
		return true
	}
	var fb *fallback
	if errors.As(err, &fb) {
		return false // pending state: quorum, as Handle settles it
	}
	w.out[i] = w.v.finish(ctx, c, res, err)
	return true
}

// header is Verifier.header, once per distinct block param of the wave.
// A call that shares a header trusted by operator agreement is labelled so
// in its own report, as the trust source labels the first.
func (w *wave) header(ctx context.Context, raw json.RawMessage) (*types.Header, error) {
	key := string(bytes.TrimSpace(raw))
	if wh, ok := w.headers[key]; ok {
		if wh.h != nil && w.v.byAgreement(wh.h) {
			ReportFrom(ctx).agreedHeader()
		}
		return wh.h, wh.err
	}
	h, err := w.v.header(ctx, raw)
	if w.headers == nil {
		w.headers = make(map[string]waveHeader, 1)
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
		c, a := w.calls[r.i], &answers[k]
		if a.Err == nil && !w.v.asksAgain(c.Method) {
			// nil: no follow-up call (asksAgain)
			if res, err := r.read.check(r.ctx, *a, nil); err == nil {
				ReportFrom(r.ctx).set(ClassProof, "", a.Operator)
				w.out[r.i] = w.v.finish(r.ctx, c, res, nil)
				continue
			}
		}
		wg.Go(func() {
			res, err := w.v.attemptsFrom(r.ctx, c, r.read.first, r.read.check, a)
			w.out[r.i] = w.v.finish(r.ctx, c, res, err)
		})
	}
	wg.Wait()
}

// asksAgain reports whether checking a proof of method asks its provider
// a further call (the code, or the plain method with CheckPlain).
func (v *Verifier) asksAgain(method string) bool {
	return method == "eth_getCode" || (v.o.CheckPlain && method != "eth_getProof")
}

// finish is the answer to a proof-policy call of a wave, as Handle gives
// it: settled by quorum after a fallback, counted when answered.
func (v *Verifier) finish(ctx context.Context, c *pipeline.Call, res json.RawMessage, err error) pipeline.Answer {
	res, class, err := v.proven(ctx, c, res, err)
	if err != nil {
		return pipeline.Answer{Err: err}
	}
	v.answered(c, class)
	return pipeline.Answer{Result: res}
}

// stateMethod reports whether method is a state read proven by eth_getProof.
func stateMethod(method string) bool {
	switch method {
	case "eth_getBalance", "eth_getTransactionCount", "eth_getCode", "eth_getStorageAt", "eth_getProof":
		return true
	}
	return false
}
