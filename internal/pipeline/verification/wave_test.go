package verification

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/rpcmesh/rpcmesh/internal/devnet"
	"github.com/rpcmesh/rpcmesh/internal/jsonrpc"
	"github.com/rpcmesh/rpcmesh/internal/pipeline"
	"github.com/rpcmesh/rpcmesh/internal/testwait"
	"github.com/rpcmesh/rpcmesh/internal/verify"
)

// batchNext is the stage behind the verifier in the wave tests: it
// answers each call of a wave from one node, as forwarding would.
type batchNext struct{ a Asker }

func (b batchNext) Handle(ctx context.Context, wave []*pipeline.Call) {
	for _, c := range wave {
		a := b.a.Ask(ctx, Request{Method: c.Method, Params: c.Params}, nil)
		c.Provider = a.Provider
		c.Answer(a.Value, a.Err)
	}
}

// answer is what a wave's call was answered.
type answer struct {
	Result json.RawMessage
	Err    error
}

// tamperBatch lies in one answer of every batch it sends (the balance of
// the proof at index at), and counts the calls asked outside a batch.
type tamperBatch struct {
	*nodeAsker
	at   int
	asks atomic.Int32
}

func (tb *tamperBatch) AskBatch(ctx context.Context, reqs []Request, out []Answer) {
	tb.nodeAsker.AskBatch(ctx, reqs, out)
	var m map[string]json.RawMessage
	if tb.at < len(out) && json.Unmarshal(out[tb.at].Value, &m) == nil {
		m["balance"] = json.RawMessage(`"0x1"`)
		out[tb.at].Value, _ = json.Marshal(m)
	}
}

func (tb *tamperBatch) Ask(ctx context.Context, req Request, avoid map[string]bool) Answer {
	tb.asks.Add(1)
	return tb.nodeAsker.Ask(ctx, req, avoid)
}

// countingTrust counts the trusted headers looked up by number.
type countingTrust struct {
	verify.TrustSource
	byNumber atomic.Int32
}

func (c *countingTrust) HeaderByNumber(ctx context.Context, n uint64) (*types.Header, error) {
	c.byNumber.Add(1)
	return c.TrustSource.HeaderByNumber(ctx, n)
}

// waveHarness is the devnet harness with a next stage that takes waves.
func waveHarness(t *testing.T, d *devnet.Devnet) *harness {
	h := newHarness(t, d)
	h.v.next = batchNext{h.asker}
	h.v.o.CheckPlain = false // the default
	return h
}

// runWave sends reqs through the stage as one wave (their block params
// resolved as the block-tag stage does) and returns each call's answer
// and report.
func runWave(ctx context.Context, v *Verifier, reqs []request) ([]answer, []*pipeline.Report) {
	calls := make([]*pipeline.Call, len(reqs))
	for i, r := range reqs {
		calls[i] = newCall(r.method, r.params)
	}
	v.Handle(ctx, calls)
	out := make([]answer, len(calls))
	reports := make([]*pipeline.Report, len(calls))
	for i, c := range calls {
		out[i], reports[i] = answer{Result: c.Result, Err: c.Err}, c.Report
	}
	return out, reports
}

// checkWave compares every answer of a wave with the honest node's, and
// a node's error with the node's error code.
func checkWave(t *testing.T, ctx context.Context, h *harness, reqs []request, out []answer) {
	t.Helper()
	for i, r := range reqs {
		want, werr := h.direct.call(ctx, r.method, r.params)
		var wje, gje *jsonrpc.Error
		switch {
		case werr != nil && errors.As(werr, &wje):
			if !errors.As(out[i].Err, &gje) || gje.Code != wje.Code {
				t.Errorf("call %d %s %s: %v, want the node's error %d", i, r.method, r.params, out[i].Err, wje.Code)
			}
		case werr != nil:
			t.Fatalf("truth for %s: %v", r.method, werr)
		case out[i].Err != nil:
			t.Errorf("call %d %s %s: %v", i, r.method, r.params, out[i].Err)
		case !sameAnswer(out[i].Result, want):
			t.Errorf("WRONG ANSWER call %d %s %s\n got  %.300s\n want %.300s", i, r.method, r.params, out[i].Result, want)
		}
	}
}

func balances(act *devnet.Activity, block string) []request {
	var reqs []request
	for _, a := range act.Accounts() {
		reqs = append(reqs, request{"eth_getBalance", verify.Params(a, block)})
	}
	return reqs
}

// TestWaveLiarInBatch: one answer of the wave's eth_getProof batch lies.
// That call is caught (evidence, penalty), answered right by another
// provider, and the rest of the wave is answered from the batch alone.
func TestWaveLiarInBatch(t *testing.T) {
	d, act := sharedDevnet(t)
	ctx := testwait.Context(t, 2*time.Minute)
	h := waveHarness(t, d)
	h.asker.first = []string{"node2"} // the batch, and any call not told to avoid it
	tb := &tamperBatch{nodeAsker: h.asker, at: 2}
	h.v.o.Asker = tb
	reqs := balances(act, hexutil.EncodeUint64(act.Blocks[len(act.Blocks)-1]))
	out, reports := runWave(ctx, h.v, reqs)
	checkWave(t, ctx, h, reqs, out)
	liarOp := h.asker.operators["node2"]
	for i, r := range reports {
		if r.Class() != pipeline.ClassProof {
			t.Errorf("call %d: report %q, want proof", i, r.Header())
		}
		byLiar := strings.Join(r.Operators(), ",") == liarOp
		if byLiar != (i != tb.at) {
			t.Errorf("call %d rests on %v (the batch's provider is node2 of %s)", i, r.Operators(), liarOp)
		}
	}
	if got := tb.asks.Load(); got != 1 {
		t.Errorf("%d calls asked outside the batch, want 1 (the one that lied)", got)
	}
	ev := h.evidence.Recent(0)
	if len(ev) != 1 || ev[0].Provider != "node2" || ev[0].Method != "eth_getBalance" {
		t.Errorf("evidence %+v, want one eth_getBalance of node2", ev)
	}
	if h.asker.penalised("node2") != 1 {
		t.Errorf("node2 penalised %d times, want 1", h.asker.penalised("node2"))
	}
}

// TestWaveBatchFromLiar: the devnet's node2 lies in every proof, and the
// wave's batch goes to it: every call is answered right by the others,
// and node2 alone is blamed, once per call.
func TestWaveBatchFromLiar(t *testing.T) {
	d, act := sharedDevnet(t)
	ctx := testwait.Context(t, 2*time.Minute)
	h := waveHarness(t, d)
	h.asker.first = []string{"node2"}
	d.Stage(t, devnet.FaultSpec{Target: "node2", Kind: devnet.FaultLie, Params: json.RawMessage(`{"what":["proof"]}`)})
	n := hexutil.EncodeUint64(act.Blocks[len(act.Blocks)-1])
	reqs := append(balances(act, n), request{"eth_getStorageAt", verify.Params(act.Contract, "0x0", n)},
		request{"eth_getTransactionCount", verify.Params(act.Payer, n)})
	out, _ := runWave(ctx, h.v, reqs)
	checkWave(t, ctx, h, reqs, out)
	blamed := map[string]int{}
	for _, e := range h.evidence.Recent(0) {
		blamed[e.Provider]++
	}
	if len(blamed) != 1 || blamed["node2"] != len(reqs) || h.asker.penalised("node2") != len(reqs) {
		t.Errorf("evidence %v, node2 penalised %d times; want node2 alone, %d times", blamed, h.asker.penalised("node2"), len(reqs))
	}
	if h.asker.batches != 1 {
		t.Errorf("%d batches, want 1", h.asker.batches)
	}
}

// TestWaveMixed: a wave of every kind of call (proven state reads, one
// with a follow-up call, a proven block, pending state, quorum, trust-one,
// bad params) is
// answered as the node answers each, with each call's own report.
func TestWaveMixed(t *testing.T) {
	d, act := sharedDevnet(t)
	ctx := testwait.Context(t, 2*time.Minute)
	h := waveHarness(t, d)
	p := verify.Params
	n := hexutil.EncodeUint64(act.Blocks[len(act.Blocks)-1])
	cases := []struct {
		req   request
		class pipeline.Class
	}{
		{request{"eth_getBalance", p(act.Payer, n)}, pipeline.ClassProof},
		{request{"eth_chainId", nil}, pipeline.ClassTrusted},
		{request{"eth_getCode", p(act.Contract, n)}, pipeline.ClassProof},
		{request{"eth_call", p(map[string]any{"to": act.Contract, "data": "0x"}, n)}, pipeline.ClassQuorum},
		{request{"eth_getBalance", json.RawMessage(`["0x12","` + n + `"]`)}, ""},
		{request{"eth_getProof", p(act.Contract, []string{"0x0", "0x1"}, n)}, pipeline.ClassProof},
		{request{"eth_getBlockByNumber", p(n, false)}, pipeline.ClassProof},
		{request{"eth_getTransactionCount", p(act.Payer, n)}, pipeline.ClassProof},
		{request{"eth_getTransactionCount", p(act.Payer, "pending")}, pipeline.ClassQuorum}, // cannot be proven
		{request{"eth_blockNumber", nil}, pipeline.ClassTrusted},
	}
	reqs := make([]request, len(cases))
	for i, tc := range cases {
		reqs[i] = tc.req
	}
	out, reports := runWave(ctx, h.v, reqs)
	for i, tc := range cases {
		if tc.req.method == "eth_blockNumber" {
			if out[i].Err != nil || reports[i].Class() != pipeline.ClassTrusted {
				t.Errorf("eth_blockNumber: %s %v %q", out[i].Result, out[i].Err, reports[i].Header())
			}
			reqs[i] = request{"eth_chainId", nil} // the head moves: compare something that does not
			out[i] = out[1]
		}
		if got := reports[i].Class(); got != tc.class {
			t.Errorf("call %d %s: class %q, want %q", i, tc.req.method, got, tc.class)
		}
	}
	checkWave(t, ctx, h, reqs, out)
}

// TestWaveBlocks: the calls of a wave pin different blocks (by number and
// by hash); each is proven against its own block's header, and each
// distinct block's header is looked up once for the wave.
func TestWaveBlocks(t *testing.T) {
	d, act := sharedDevnet(t)
	ctx := testwait.Context(t, 2*time.Minute)
	h := waveHarness(t, d)
	ct := &countingTrust{TrustSource: h.v.o.Trust}
	h.v.o.Trust = ct
	var reqs []request
	blocks := act.Blocks[max(0, len(act.Blocks)-3):]
	for _, b := range blocks {
		n := hexutil.EncodeUint64(b)
		reqs = append(reqs, request{"eth_getBalance", verify.Params(act.Payer, n)},
			request{"eth_getTransactionCount", verify.Params(act.Payer, n)},
			request{"eth_getBalance", verify.Params(act.Recipient, n)})
	}
	raw, err := h.direct.call(ctx, "eth_getBlockByNumber", verify.Params(hexutil.EncodeUint64(blocks[0]), false))
	if err != nil {
		t.Fatal(err)
	}
	hd, err := verify.DecodeHeader(raw)
	if err != nil {
		t.Fatal(err)
	}
	reqs = append(reqs, request{"eth_getBalance", verify.Params(act.Payer, map[string]any{"blockHash": hd.Hash()})})
	out, reports := runWave(ctx, h.v, reqs)
	checkWave(t, ctx, h, reqs, out)
	for i, r := range reports {
		if r.Class() != pipeline.ClassProof {
			t.Errorf("call %d: %q, want proof", i, r.Header())
		}
	}
	if got := int(ct.byNumber.Load()); got != len(blocks) {
		t.Errorf("%d headers looked up by number for %d blocks", got, len(blocks))
	}
}

// TestWaveOfOne: a wave of one is a call as the single call is answered.
func TestWaveOfOne(t *testing.T) {
	v := New(batchNext{a: askFunc(func() Answer { return Answer{Provider: "p", Value: json.RawMessage(`"0x7"`)} })}, Options{Asker: newFake()})
	out, reports := runWave(context.Background(), v, []request{{"eth_chainId", nil}})
	if string(out[0].Result) != `"0x7"` || out[0].Err != nil || reports[0].Class() != pipeline.ClassTrusted {
		t.Errorf("wave of one: %s %v %q", out[0].Result, out[0].Err, reports[0].Header())
	}
}

// askFunc is an Asker whose every ask is f's answer.
type askFunc func() Answer

func (f askFunc) Ask(context.Context, Request, map[string]bool) Answer     { return f() }
func (f askFunc) AskProvider(context.Context, string, Request) Answer      { return f() }
func (f askFunc) AskDistinct(context.Context, Request, int, Skip) []Answer { return []Answer{f()} }
func (f askFunc) AskBatch(_ context.Context, _ []Request, out []Answer) {
	for i := range out {
		out[i] = f()
	}
}
func (askFunc) Penalise(string, string) {}
