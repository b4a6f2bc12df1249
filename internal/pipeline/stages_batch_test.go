package pipeline_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/config"
	"github.com/rpcmesh/rpcmesh/internal/jsonrpc"
	"github.com/rpcmesh/rpcmesh/internal/pipeline"
	"github.com/rpcmesh/rpcmesh/internal/pipeline/blocktag"
	"github.com/rpcmesh/rpcmesh/internal/pipeline/broadcast"
	"github.com/rpcmesh/rpcmesh/internal/pipeline/limits"
	"github.com/rpcmesh/rpcmesh/internal/pipeline/logs"
	"github.com/rpcmesh/rpcmesh/internal/pipeline/methods"
	"github.com/rpcmesh/rpcmesh/internal/txbroadcast"
	"github.com/rpcmesh/rpcmesh/internal/txwatch"
)

// nonceTarget is a broadcast target of one operator that answers every
// call "0x7" (the "pending" count it reports), counting the calls.
type nonceTarget struct {
	mu    sync.Mutex
	calls int
}

func (n *nonceTarget) Name() string          { return "p" }
func (n *nonceTarget) Labels() config.Labels { return config.Labels{Operator: "op"} }
func (n *nonceTarget) Call(context.Context, string, json.RawMessage) (json.RawMessage, error) {
	n.mu.Lock()
	n.calls++
	n.mu.Unlock()
	return json.RawMessage(`"0x7"`), nil
}

func (n *nonceTarget) count() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.calls
}

// realChain is the server's chain (internal/pipeline/assemble) without
// verification, in front of terminal: limits → methods → broadcast →
// blocktag → logs → terminal. The head is at 1000 (0x3e8).
func realChain(terminal pipeline.Handler, timeout time.Duration, maxBytes int64, target *nonceTarget) pipeline.Handler {
	tracker := trackerAt(1000)
	watch := txwatch.New(txwatch.Options{
		Chain: "test", Config: config.DefaultBroadcast(),
		Head:        func() (uint64, bool) { return 1000, true },
		Rank:        func(func(string) int) []txbroadcast.Target { return []txbroadcast.Target{target} },
		Broadcaster: txbroadcast.New(3, time.Second, nil),
	})
	return pipeline.Chain(terminal,
		limits.Stage(timeout, maxBytes),
		func(next pipeline.Handler) pipeline.Handler {
			return &methods.Methods{Next: next, Chain: "eth", ChainID: 1337, Head: tracker}
		},
		func(next pipeline.Handler) pipeline.Handler {
			return &broadcast.Broadcast{Next: next, Watch: watch, Limits: txbroadcast.Limits{ChainID: 1337, MaxTxBytes: 1024, MaxBlobTxBytes: 4096}}
		},
		func(next pipeline.Handler) pipeline.Handler { return &blocktag.BlockTag{Next: next, Head: tracker} },
		func(next pipeline.Handler) pipeline.Handler {
			return &logs.Splitter{Next: next, MaxRange: 5000, Chunk: 100, Concurrency: 2}
		},
	)
}

const (
	sender     = `"0x000000000000000000000000000000000000c0de"`
	txHash     = `"0x00000000000000000000000000000000000000000000000000000000000000ab"`
	maxBytes   = 1000
	bigBalance = `["0xaa","0x10"]` // the call whose answer is over maxBytes
)

// mixedWave is a client batch's wave touching every stage. pass lists,
// in order, the calls that must reach the terminal in the wave, as they
// must reach it.
type waveCall struct {
	method, params string
	// In the wave passed on to the terminal: the params and pin it must
	// have there.
	pass       bool
	wantParams string
	wantBlock  uint64
	wantPinned bool
	// Otherwise the error code expected (0: a result).
	wantCode int
}

var mixedWave = []waveCall{
	{method: "eth_chainId", params: `[]`},
	{method: "eth_subscribe", params: `["newHeads"]`, wantCode: jsonrpc.CodeMethodNotFound},
	{method: "eth_getBalance", params: `["0xaa","latest"]`, pass: true, wantParams: `["0xaa","0x3e8"]`, wantBlock: 1000, wantPinned: true},
	{method: "eth_getBalance", params: bigBalance, pass: true, wantParams: bigBalance, wantBlock: 16, wantPinned: true, wantCode: jsonrpc.CodeLimitExceeded},
	{method: "eth_getLogs", params: `[{"fromBlock":"0x0","toBlock":"0xc7","address":"0x01"}]`},
	{method: "eth_blockNumber", params: `[]`},
	{method: "eth_getBalance", params: `["0xaa","nope"]`, wantCode: jsonrpc.CodeInvalidParams},
	{method: "rpcmesh_transactionStatus", params: `[` + txHash + `]`},
	{method: "eth_getTransactionCount", params: `[` + sender + `,"pending"]`},
	{method: "eth_sendRawTransaction", params: `["0xdeadbeef"]`, wantCode: jsonrpc.CodeInvalidParams},
	{method: "eth_gasPrice", params: `[]`, pass: true, wantParams: `[]`},
	{method: "eth_getTransactionCount", params: `[` + sender + `,"latest"]`, pass: true, wantParams: `[` + sender + `,"0x3e8"]`, wantBlock: 1000, wantPinned: true},
	{method: "eth_getBalance", params: `["0xaa"]`, pass: true, wantParams: `["0xaa","0x3e8"]`, wantBlock: 1000, wantPinned: true},
	{method: "eth_getBalance", params: `["0xaa","0x99999"]`, pass: true, wantParams: `["0xaa","0x99999"]`, wantBlock: 0x99999},
}

// stageAnswer is the terminal's answer to a call: arrays for eth_getLogs
// chunks, a count for eth_getTransactionCount (the "latest" floor of a
// "pending" count), a big answer for bigBalance, else the call described.
func stageAnswer(_ context.Context, c *pipeline.Call) (json.RawMessage, error) {
	switch {
	case c.Method == "eth_getLogs":
		return json.RawMessage(fmt.Sprintf(`[%s]`, describe(c))), nil
	case c.Method == "eth_getTransactionCount":
		return json.RawMessage(`"0x9"`), nil
	case c.Method == "eth_getBalance" && string(c.Params) == bigBalance:
		return json.RawMessage(`"` + strings.Repeat("f", maxBytes) + `"`), nil
	}
	return describe(c), nil
}

// answer is a call's answer, as the server reads it.
type answer struct {
	Result json.RawMessage
	Err    error
}

func newCalls(wave []waveCall) []*pipeline.Call {
	calls := make([]*pipeline.Call, len(wave))
	for i, w := range wave {
		calls[i] = pipeline.NewCall(w.method, json.RawMessage(w.params))
	}
	return calls
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// TestStagesBatchMatchesHandle: a mixed wave through the real stages gets
// the answers each call gets as a wave of one; the calls the stages do not
// answer reach the terminal as one wave, rewritten and pinned; the ones
// that wait on their own (a split eth_getLogs, the transaction calls)
// reach it as their own sub-calls, waves of one.
func TestStagesBatchMatchesHandle(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	// Each call alone, through Handle, on a chain of its own.
	single := &waveRecorder{answer: stageAnswer}
	singleTarget := &nonceTarget{}
	h := realChain(single, 5*time.Second, maxBytes, singleTarget)
	want := make([]answer, len(mixedWave))
	for i, c := range newCalls(mixedWave) {
		want[i].Result, want[i].Err = pipeline.Do(ctx, h, c)
	}
	if n := len(single.many()); n != 0 {
		t.Fatalf("single calls reached the terminal in %d waves of more than one", n)
	}

	// The wave whole.
	term := &waveRecorder{answer: stageAnswer}
	target := &nonceTarget{}
	calls := newCalls(mixedWave)
	realChain(term, 5*time.Second, maxBytes, target).Handle(ctx, calls)
	out := answers(calls)

	for i, w := range mixedWave {
		got := out[i]
		if string(got.Result) != string(want[i].Result) || code(got.Err) != code(want[i].Err) || errText(got.Err) != errText(want[i].Err) {
			t.Errorf("%d %s%s: batch %s %v; Handle %s %v", i, w.method, w.params, got.Result, got.Err, want[i].Result, want[i].Err)
		}
		if code(got.Err) != w.wantCode {
			t.Errorf("%d %s%s: %s %v, want code %d", i, w.method, w.params, got.Result, got.Err, w.wantCode)
		}
		if got.Err == nil && len(got.Result) == 0 {
			t.Errorf("%d %s%s: neither result nor error", i, w.method, w.params)
		}
		if got.Err != nil && got.Result != nil {
			t.Errorf("%d %s%s: both result %s and error %v", i, w.method, w.params, got.Result, got.Err)
		}
	}
	// Some answers checked by value, not only against Handle.
	for i, res := range map[int]string{
		0: `"0x539"`, 5: `"0x3e8"`, 8: `"0x9"`,
		2:  `"eth_getBalance[\"0xaa\",\"0x3e8\"]@1000/true"`,
		13: `"eth_getBalance[\"0xaa\",\"0x99999\"]@629145/false"`,
		4:  `["eth_getLogs[{\"address\":\"0x01\",\"fromBlock\":\"0x0\",\"toBlock\":\"0x63\"}]@99/true","eth_getLogs[{\"address\":\"0x01\",\"fromBlock\":\"0x64\",\"toBlock\":\"0xc7\"}]@199/true"]`,
	} {
		if string(out[i].Result) != res {
			t.Errorf("%d %s: %s, want %s", i, mixedWave[i].method, out[i].Result, res)
		}
	}
	var status txwatch.Entry
	if err := json.Unmarshal(out[7].Result, &status); err != nil || status.State != txwatch.StateUnknown {
		t.Errorf("transaction status %s (%v), want unknown", out[7].Result, err)
	}

	// Exactly one wave of more than one reached the terminal: the calls
	// passed on, in order, rewritten and pinned.
	many := term.many()
	if len(many) != 1 {
		t.Fatalf("terminal got %d waves of more than one, want 1", len(many))
	}
	var wantWave []string
	for _, w := range mixedWave {
		if w.pass {
			wantWave = append(wantWave, fmt.Sprintf("%s%s@%d/%v", w.method, w.wantParams, w.wantBlock, w.wantPinned))
		}
	}
	var gotWave []string
	for _, c := range many[0] {
		gotWave = append(gotWave, fmt.Sprintf("%s%s@%d/%v", c.Method, c.Params, c.Block, c.HasBlock))
	}
	if !slices.Equal(gotWave, wantWave) {
		t.Errorf("terminal's wave:\n%s\nwant:\n%s", strings.Join(gotWave, "\n"), strings.Join(wantWave, "\n"))
	}
	// The wave holds the client's calls themselves (the server reads
	// what routing fills in from them), not copies.
	var wave []*pipeline.Call
	for _, w := range term.waves {
		if len(w) > 1 {
			wave = w
		}
	}
	j := 0
	for i, w := range mixedWave {
		if w.pass {
			if j < len(wave) && wave[j] != calls[i] {
				t.Errorf("wave item %d is not the client's call %d", j, i)
			}
			j++
		}
	}

	// As sub-calls of their own: the two eth_getLogs chunks and the
	// "latest" floor of the "pending" count, nothing else; and the same
	// for the calls one by one.
	wantAlone := []string{"eth_getLogs", "eth_getLogs", "eth_getTransactionCount"}
	if got := term.ones(); !slices.Equal(got, wantAlone) {
		t.Errorf("terminal's waves of one %v, want %v", got, wantAlone)
	}
	if got := single.ones(); len(got) != len(wantAlone)+len(wantWave) {
		t.Errorf("one by one the terminal got %d calls, want %d", len(got), len(wantAlone)+len(wantWave))
	}
	for _, w := range term.seen {
		if len(w) == 1 && w[0].Method == "eth_getTransactionCount" && string(w[0].Params) != `[`+sender+`,"0x3e8"]` {
			t.Errorf("the pending count's floor asked %s", w[0].Params)
		}
	}
	// The operators were asked for the pending count once per path.
	if target.count() != 1 || singleTarget.count() != 1 {
		t.Errorf("operators asked %d (wave) and %d (one by one) times, want 1 each", target.count(), singleTarget.count())
	}
	// Who served the calls the stages answered themselves.
	if calls[7].Provider != "gateway" || calls[8].Provider != "operators" {
		t.Errorf("providers %q %q, want gateway, operators", calls[7].Provider, calls[8].Provider)
	}
}

// TestStagesBatchLimitSizeOnly: an answer over MaxResponseBytes is refused
// for its call only, whether it came in the wave or alone.
func TestStagesBatchLimitSizeOnly(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	term := &waveRecorder{answer: func(ctx context.Context, c *pipeline.Call) (json.RawMessage, error) {
		if c.Method == "eth_getLogs" && strings.Contains(string(c.Params), `"big"`) {
			return json.RawMessage(`["` + strings.Repeat("0", 200) + `"]`), nil
		}
		return stageAnswer(ctx, c)
	}}
	calls := newCalls([]waveCall{
		{method: "eth_gasPrice", params: `[]`},
		{method: "eth_getBalance", params: bigBalance},
		{method: "eth_getLogs", params: `[{"blockHash":"0x01","address":"big"}]`},
		{method: "eth_getLogs", params: `[{"blockHash":"0x01"}]`},
		{method: "eth_chainId", params: `[]`},
	})
	realChain(term, 5*time.Second, 200, &nonceTarget{}).Handle(ctx, calls)
	out := answers(calls)
	wantCodes := []int{0, jsonrpc.CodeLimitExceeded, jsonrpc.CodeLimitExceeded, 0, 0}
	for i, c := range calls {
		if code(out[i].Err) != wantCodes[i] {
			t.Errorf("%d %s%s: %s %v, want code %d", i, c.Method, c.Params, out[i].Result, out[i].Err, wantCodes[i])
		}
		if wantCodes[i] != 0 && out[i].Result != nil {
			t.Errorf("%d %s: result %s kept with the error", i, c.Method, out[i].Result)
		}
		if wantCodes[i] == 0 && len(out[i].Result) == 0 {
			t.Errorf("%d %s: no result", i, c.Method)
		}
	}
	// An eth_getLogs by block hash is one block: it goes with the wave.
	if len(term.waves) != 1 || len(term.waves[0]) != 4 {
		t.Errorf("terminal got %d waves, want 1 of 4 calls", len(term.waves))
	}
}

// answers are the calls' answers.
func answers(calls []*pipeline.Call) []answer {
	out := make([]answer, len(calls))
	for i, c := range calls {
		out[i] = answer{c.Result, c.Err}
	}
	return out
}

// TestStagesBatchTimeout: a wave whose terminal does not answer within
// the limits' timeout gets timeout errors for the calls that waited on it,
// and keeps the answers the stages gave themselves.
func TestStagesBatchTimeout(t *testing.T) {
	const timeout = 50 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var deadlines []time.Duration
	var mu sync.Mutex
	term := &waveRecorder{
		waveAnswer: func(ctx context.Context, wave []*pipeline.Call) {
			if d, ok := ctx.Deadline(); ok && len(wave) > 1 {
				mu.Lock()
				deadlines = append(deadlines, time.Until(d))
				mu.Unlock()
			}
			<-ctx.Done()
			for _, c := range wave {
				c.Answer(nil, ctx.Err())
			}
		},
	}
	calls := newCalls([]waveCall{
		{method: "eth_chainId", params: `[]`},
		{method: "eth_getBalance", params: `["0xaa","latest"]`},
		{method: "eth_getLogs", params: `[{"fromBlock":"0x0","toBlock":"0xc7"}]`},
		{method: "eth_getBalance", params: `["0xaa","nope"]`},
		{method: "eth_gasPrice", params: `[]`},
	})
	start := time.Now()
	realChain(term, timeout, maxBytes, &nonceTarget{}).Handle(ctx, calls)
	out := answers(calls)
	if d := time.Since(start); d < timeout || d > 5*time.Second {
		t.Errorf("the wave took %s, want about %s", d, timeout)
	}
	if len(deadlines) != 1 || deadlines[0] > timeout {
		t.Errorf("terminal's deadlines %v, want one within %s", deadlines, timeout)
	}
	if string(out[0].Result) != `"0x539"` || out[0].Err != nil {
		t.Errorf("eth_chainId: %s %v, want its answer", out[0].Result, out[0].Err)
	}
	wantCodes := []int{0, jsonrpc.CodeTimeout, jsonrpc.CodeTimeout, jsonrpc.CodeInvalidParams, jsonrpc.CodeTimeout}
	for i, c := range calls {
		if code(out[i].Err) != wantCodes[i] {
			t.Errorf("%d %s%s: %s %v, want code %d", i, c.Method, c.Params, out[i].Result, out[i].Err, wantCodes[i])
		}
		if errors.Is(out[i].Err, context.DeadlineExceeded) {
			t.Errorf("%d %s: the context's error leaked out: %v", i, c.Method, out[i].Err)
		}
	}
	if many := term.many(); len(many) != 1 || len(many[0]) != 2 {
		t.Errorf("terminal got %d waves of more than one, want 1 of 2 calls", len(many))
	}
	if got := term.ones(); len(got) == 0 || got[0] != "eth_getLogs" {
		t.Errorf("terminal's waves of one %v, want eth_getLogs chunks", got)
	}
}
