package pipeline_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/blockref"
	"github.com/rpcmesh/rpcmesh/internal/head"
	"github.com/rpcmesh/rpcmesh/internal/jsonrpc"
	"github.com/rpcmesh/rpcmesh/internal/pipeline"
	"github.com/rpcmesh/rpcmesh/internal/pipeline/blocktag"
	"github.com/rpcmesh/rpcmesh/internal/pipeline/limits"
	"github.com/rpcmesh/rpcmesh/internal/pipeline/logs"
	"github.com/rpcmesh/rpcmesh/internal/pipeline/methods"
)

// recorder is a terminal handler that remembers what reached it.
type recorder struct {
	mu     sync.Mutex
	calls  []pipeline.Call
	answer func(c *pipeline.Call) (json.RawMessage, error)
}

func (r *recorder) Handle(_ context.Context, wave []*pipeline.Call) {
	for _, c := range wave {
		r.mu.Lock()
		r.calls = append(r.calls, *c)
		r.mu.Unlock()
		if r.answer != nil {
			c.Answer(r.answer(c))
		} else {
			c.Answer(json.RawMessage(`"ok"`), nil)
		}
	}
}

// logsChain is the block-tag stage (which resolves eth_getLogs ranges)
// in front of the log splitter, at an agreed head of n.
func logsChain(next pipeline.Handler, n, maxRange, chunk uint64, concurrency int) pipeline.Handler {
	split := &logs.Splitter{Next: next, MaxRange: maxRange, Chunk: chunk, Concurrency: concurrency}
	return &blocktag.BlockTag{Next: split, Head: trackerAt(n)}
}

func trackerAt(n uint64) *head.Tracker {
	t := head.NewTracker(1, 64, nil)
	if n > 0 {
		t.Observe("p", "op", head.Block{Number: n, Hash: fmt.Sprintf("0x%d", n), Parent: fmt.Sprintf("0x%d", n-1)})
	}
	return t
}

func code(err error) int {
	var je *jsonrpc.Error
	if errors.As(err, &je) {
		return je.Code
	}
	return 0
}

func TestBlockTag(t *testing.T) {
	tests := []struct {
		method, params string
		wantParams     string
		wantBlock      uint64
		wantPinned     bool
		wantCode       int
	}{
		{"eth_getBalance", `["0xaa","latest"]`, `["0xaa","0x3e8"]`, 1000, true, 0},
		{"eth_getBalance", `["0xaa"]`, `["0xaa","0x3e8"]`, 1000, true, 0},
		{"eth_getBalance", `["0xaa","0x10"]`, `["0xaa","0x10"]`, 16, true, 0},
		{"eth_getBalance", `["0xaa","0x99999"]`, `["0xaa","0x99999"]`, 0x99999, false, 0},
		{"eth_getBalance", `["0xaa","finalized"]`, `["0xaa","0x3a8"]`, 936, true, 0},
		{"eth_getBalance", `["0xaa","safe"]`, `["0xaa","0x3c8"]`, 968, true, 0},
		{"eth_getBalance", `["0xaa","pending"]`, `["0xaa","pending"]`, 1000, true, 0},
		{"eth_getBalance", `["0xaa","earliest"]`, `["0xaa","earliest"]`, 0, true, 0},
		{"eth_getBalance", `["0xaa","tomorrow"]`, ``, 0, false, jsonrpc.CodeInvalidParams},
		{"eth_getBalance", `["0xaa",{"blockNumber":"latest"}]`, `["0xaa",{"blockNumber":"0x3e8"}]`, 1000, true, 0},
		{"eth_getBalance", `["0xaa",{"blockHash":"0xbb"}]`, ``, 0, false, jsonrpc.CodeInvalidParams},
		// Every form of the spec's BlockNumberOrTagOrHash, as a node takes it.
		{"eth_getBalance", `["0xaa",{"blockHash":"HASH"}]`, `["0xaa",{"blockHash":"HASH"}]`, 0, false, 0},
		{"eth_getBalance", `["0xaa",{"blockHash":"HASH","requireCanonical":true}]`, `["0xaa",{"blockHash":"HASH","requireCanonical":true}]`, 0, false, 0},
		{"eth_getBalance", `["0xaa","HASH"]`, `["0xaa","HASH"]`, 0, false, 0},
		{"eth_getProof", `["0xaa",[],"HASH"]`, `["0xaa",[],"HASH"]`, 0, false, 0},
		{"eth_getBalance", `["0xaa",{"blockNumber":"0x10"}]`, `["0xaa",{"blockNumber":"0x10"}]`, 16, true, 0},
		{"eth_getBalance", `["0xaa",{"blockNumber":"finalized"}]`, `["0xaa",{"blockNumber":"0x3a8"}]`, 936, true, 0},
		{"eth_getBalance", `["0xaa",{"blockHash":"HASH","blockNumber":"0x1"}]`, ``, 0, false, jsonrpc.CodeInvalidParams},
		{"eth_getBalance", `["0xaa",{}]`, ``, 0, false, jsonrpc.CodeInvalidParams},
		{"eth_getBalance", `["0xaa",null]`, `["0xaa","0x3e8"]`, 1000, true, 0},
		{"eth_call", `[{},null]`, `[{},"0x3e8"]`, 1000, true, 0},
		{"eth_getBalance", `["0xaa","0x01"]`, ``, 0, false, jsonrpc.CodeInvalidParams},
		// A number or tag only where the node takes rpc.BlockNumber.
		{"eth_getBlockByNumber", `["HASH",false]`, ``, 0, false, jsonrpc.CodeInvalidParams},
		{"eth_getBlockByNumber", `[{"blockNumber":"0x1"},false]`, ``, 0, false, jsonrpc.CodeInvalidParams},
		{"eth_getBlockByNumber", `["pending",false]`, `["pending",false]`, 1000, true, 0},
		{"eth_getBlockByNumber", `["earliest",false]`, `["earliest",false]`, 0, true, 0},
		{"eth_getBlockByNumber", `["latest",false]`, `["0x3e8",false]`, 1000, true, 0},
		{"eth_getTransactionReceipt", `["0xcc"]`, `["0xcc"]`, 0, false, 0},
		{"eth_estimateGas", `[{}]`, `[{}]`, 0, false, 0},
	}
	for _, tt := range tests {
		const hash = "0xabababababababababababababababababababababababababababababababab"
		tt.params, tt.wantParams = strings.ReplaceAll(tt.params, "HASH", hash), strings.ReplaceAll(tt.wantParams, "HASH", hash)
		t.Run(tt.method+tt.params, func(t *testing.T) {
			rec := &recorder{}
			h := &blocktag.BlockTag{Next: rec, Head: trackerAt(1000)}
			_, err := pipeline.Do(context.Background(), h, pipeline.NewCall(tt.method, json.RawMessage(tt.params)))
			if code(err) != tt.wantCode {
				t.Fatalf("err %v, want code %d", err, tt.wantCode)
			}
			if tt.wantCode != 0 {
				return
			}
			got := rec.calls[0]
			if string(got.Params) != tt.wantParams || got.Block != tt.wantBlock || got.HasBlock != tt.wantPinned {
				t.Fatalf("forwarded %s block %d pinned %v; want %s %d %v", got.Params, got.Block, got.HasBlock, tt.wantParams, tt.wantBlock, tt.wantPinned)
			}
		})
	}
}

func TestMethods(t *testing.T) {
	rec := &recorder{}
	h := &methods.Methods{Next: rec, Chain: "eth", ChainID: 1337, Head: trackerAt(255), Capabilities: map[string]bool{"debug": true}}
	tests := []struct {
		method, params, want string
		code                 int
		forwarded            bool
	}{
		{"eth_chainId", ``, `"0x539"`, 0, false},
		{"net_version", `[]`, `"1337"`, 0, false},
		{"eth_blockNumber", `null`, `"0xff"`, 0, false},
		{"admin_peers", ``, ``, jsonrpc.CodeMethodNotFound, false},
		{"eth_subscribe", ``, ``, jsonrpc.CodeMethodNotFound, false},
		{"eth_newFilter", `[{}]`, `"ok"`, 0, true}, // passed on to the filters stage
		{"trace_block", ``, ``, jsonrpc.CodeMethodNotFound, false},
		{"debug_traceTransaction", `["0x01"]`, `"ok"`, 0, true},
		{"eth_gasPrice", ``, `"ok"`, 0, true},
		// Argument counts as a node checks them.
		{"eth_chainId", `[1]`, ``, jsonrpc.CodeInvalidParams, false},
		{"eth_getBalance", `["0x01","latest","extra"]`, ``, jsonrpc.CodeInvalidParams, false},
		{"eth_getBalance", `[]`, ``, jsonrpc.CodeInvalidParams, false},
		{"eth_getBalance", `[null]`, ``, jsonrpc.CodeInvalidParams, false},
		{"eth_getBalance", `{"a":1}`, ``, jsonrpc.CodeInvalidParams, false},
		{"eth_getBalance", `["0x01"]`, `"ok"`, 0, true},
		{"eth_getBlockByNumber", `["latest"]`, ``, jsonrpc.CodeInvalidParams, false},
		{"eth_call", `[{},"latest",null,null]`, `"ok"`, 0, true},
		{"eth_call", `[{},"latest",null,null,null]`, ``, jsonrpc.CodeInvalidParams, false},
		{"rpcmesh_unknown", `[1,2,3,4,5,6,7,8,9,10]`, `"ok"`, 0, true},
	}
	for _, tt := range tests {
		rec.calls = nil
		var params json.RawMessage
		if tt.params != "" {
			params = json.RawMessage(tt.params)
		}
		res, err := pipeline.Do(context.Background(), h, pipeline.NewCall(tt.method, params))
		if code(err) != tt.code || string(res) != tt.want || (len(rec.calls) == 1) != tt.forwarded {
			t.Errorf("%s %s: got %s %v forwarded=%v", tt.method, tt.params, res, err, len(rec.calls) == 1)
		}
	}
	empty := &methods.Methods{Next: rec, Head: trackerAt(0)}
	if _, err := pipeline.Do(context.Background(), empty, pipeline.NewCall("eth_blockNumber", nil)); code(err) != jsonrpc.CodeNoProvider {
		t.Fatalf("eth_blockNumber without a head: %v", err)
	}
}

func TestLogsSplit(t *testing.T) {
	rec := &recorder{answer: func(c *pipeline.Call) (json.RawMessage, error) {
		var f []struct{ FromBlock, ToBlock string }
		_ = json.Unmarshal(c.Params, &f)
		if f[0].FromBlock == "0x64" { // an empty chunk
			return json.RawMessage(`[]`), nil
		}
		return json.RawMessage(fmt.Sprintf(`[{"from":%q},{"to":%q}]`, f[0].FromBlock, f[0].ToBlock)), nil
	}}
	h := logsChain(rec, 1000, 500, 100, 3)
	res, err := pipeline.Do(context.Background(), h, pipeline.NewCall("eth_getLogs", json.RawMessage(`[{"fromBlock":"0x0","toBlock":"0xfa","address":"0x01"}]`)))
	if err != nil {
		t.Fatal(err)
	}
	want := `[{"from":"0x0"},{"to":"0x63"},{"from":"0xc8"},{"to":"0xfa"}]`
	if string(res) != want {
		t.Fatalf("got %s\nwant %s", res, want)
	}
	if len(rec.calls) != 3 {
		t.Fatalf("%d chunks, want 3", len(rec.calls))
	}
	for _, c := range rec.calls {
		if !strings.Contains(string(c.Params), `"address":"0x01"`) {
			t.Fatalf("chunk lost the filter: %s", c.Params)
		}
	}

	tests := []struct {
		params string
		code   int
	}{
		{`[{"fromBlock":"0x0","toBlock":"0x1f4"}]`, jsonrpc.CodeInvalidParams}, // 501 blocks
		{`[{"fromBlock":"0x10","toBlock":"0x1"}]`, jsonrpc.CodeInvalidParams},
		{`[{"fromBlock":"earliest"}]`, jsonrpc.CodeInvalidParams}, // 0..latest(1000)
		{`["x"]`, jsonrpc.CodeInvalidParams},
		{`[{"fromBlock":"latest"}]`, 0},
		{`[{"blockHash":"0xab"}]`, 0},
		// As a node: a range past the (agreed) head is refused, never cut.
		{`[{"fromBlock":"0x3e0","toBlock":"0x3e9"}]`, jsonrpc.CodeInvalidParams},
		{`[{"fromBlock":"0x3e0","toBlock":"0x3e8"}]`, 0},
		{`[{"fromBlock":"0x3e9"}]`, jsonrpc.CodeInvalidParams}, // after latest
		{`[{"fromBlock":"pending"}]`, jsonrpc.CodeInvalidParams},
		{`[{"blockHash":"0xab","fromBlock":"0x1"}]`, jsonrpc.CodeInvalidParams},
		{`[{"blockHash":null,"fromBlock":"0x3e0","toBlock":null}]`, 0},
		{`[{"FromBlock":"0x3e0","ToBlock":"0x3e9"}]`, jsonrpc.CodeInvalidParams}, // names matched as a node does
		{`[{"fromBlock":"0x3e0","toBlock":"0xffffffffffffffff"}]`, jsonrpc.CodeInvalidParams},
	}
	for _, tt := range tests {
		_, err := pipeline.Do(context.Background(), h, pipeline.NewCall("eth_getLogs", json.RawMessage(tt.params)))
		if code(err) != tt.code {
			t.Errorf("%s: %v, want code %d", tt.params, err, tt.code)
		}
	}
}

func TestLimitsAndChain(t *testing.T) {
	slow := pipeline.HandlerFunc(func(ctx context.Context, wave []*pipeline.Call) {
		for _, c := range wave {
			if c.Method == "big" {
				c.Answer(json.RawMessage(`"`+strings.Repeat("x", 100)+`"`), nil)
				continue
			}
			<-ctx.Done()
			c.Answer(nil, ctx.Err())
		}
	})
	var order []string
	mark := func(name string) pipeline.Stage {
		return func(next pipeline.Handler) pipeline.Handler {
			return pipeline.HandlerFunc(func(ctx context.Context, wave []*pipeline.Call) {
				order = append(order, name)
				next.Handle(ctx, wave)
			})
		}
	}
	h := pipeline.Chain(slow, mark("first"), limits.Stage(30*time.Millisecond, 50), mark("second"))
	if _, err := pipeline.Do(context.Background(), h, pipeline.NewCall("hang", nil)); code(err) != jsonrpc.CodeTimeout {
		t.Fatalf("timeout: %v", err)
	}
	if strings.Join(order, ",") != "first,second" {
		t.Fatalf("order %v", order)
	}
	if _, err := pipeline.Do(context.Background(), h, pipeline.NewCall("big", nil)); code(err) != jsonrpc.CodeLimitExceeded {
		t.Fatalf("size: %v", err)
	}
}

func TestLogsHugeRangeWithoutLimit(t *testing.T) {
	rec := &recorder{answer: func(*pipeline.Call) (json.RawMessage, error) { return json.RawMessage(`[]`), nil }}
	h := logsChain(rec, 1000, 0, 100, 2)
	// Up to the head: 11 chunks.
	if _, err := pipeline.Do(context.Background(), h, pipeline.NewCall("eth_getLogs", json.RawMessage(`[{"fromBlock":"0x0","toBlock":"latest"}]`))); err != nil {
		t.Fatal(err)
	}
	if len(rec.calls) != 11 {
		t.Fatalf("%d chunks, want 11", len(rec.calls))
	}
	// Beyond the head: refused as a node refuses it, nothing sent upstream.
	rec.calls = nil
	_, err := pipeline.Do(context.Background(), h, pipeline.NewCall("eth_getLogs", json.RawMessage(`[{"fromBlock":"0x0","toBlock":"0x7fffffffffffffff"}]`)))
	var je *jsonrpc.Error
	if !errors.As(err, &je) || je.Code != jsonrpc.CodeInvalidParams || je.Message != "block range extends beyond current head block" || len(rec.calls) != 0 {
		t.Fatalf("range past the head: %v, %d upstream calls", err, len(rec.calls))
	}
	// A long chain: too many chunks, refused rather than looping.
	h = logsChain(rec, 500_000, 0, 100, 2)
	_, err = pipeline.Do(context.Background(), h, pipeline.NewCall("eth_getLogs", json.RawMessage(`[{"fromBlock":"0x0","toBlock":"latest"}]`)))
	if code(err) != jsonrpc.CodeInvalidParams || len(rec.calls) != 0 {
		t.Fatalf("huge range: %v", err)
	}
}

// TestBlockTagRef: the block-tag stage records the block it resolved on
// the call, once, for the stages behind (verification reads it and parses
// nothing): safe and finalized are the agreed safe and finalized blocks,
// never the head; a tag the head has no number for stays a tag.
func TestBlockTagRef(t *testing.T) {
	const hash = "0xabababababababababababababababababababababababababababababababab"
	tests := []struct {
		method, params string
		head           uint64
		want           blockref.Ref
		hasRef         bool
		wantRange      pipeline.BlockRange
		hasRange       bool
	}{
		{"eth_getBalance", `["0xaa","latest"]`, 1000, blockref.Ref{Kind: blockref.Number, Number: 1000}, true, pipeline.BlockRange{}, false},
		{"eth_getBalance", `["0xaa"]`, 1000, blockref.Ref{Kind: blockref.Number, Number: 1000}, true, pipeline.BlockRange{}, false},
		{"eth_getBalance", `["0xaa","safe"]`, 1000, blockref.Ref{Kind: blockref.Number, Number: 968}, true, pipeline.BlockRange{}, false},
		{"eth_getBalance", `["0xaa","finalized"]`, 1000, blockref.Ref{Kind: blockref.Number, Number: 936}, true, pipeline.BlockRange{}, false},
		{"eth_getBalance", `["0xaa","safe"]`, 0, blockref.Ref{Kind: blockref.Safe}, true, pipeline.BlockRange{}, false},
		{"eth_getBalance", `["0xaa"]`, 0, blockref.Ref{Kind: blockref.Latest}, true, pipeline.BlockRange{}, false},
		{"eth_getBalance", `["0xaa","pending"]`, 1000, blockref.Ref{Kind: blockref.Pending, Number: 1000}, true, pipeline.BlockRange{}, false},
		{"eth_getBalance", `["0xaa",{"blockHash":"` + hash + `","requireCanonical":true}]`, 1000,
			blockref.Ref{Kind: blockref.Hash, Hash: [32]byte{0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab,
				0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab}, RequireCanonical: true, Object: true}, true, pipeline.BlockRange{}, false},
		{"eth_getTransactionReceipt", `["0xcc"]`, 1000, blockref.Ref{}, false, pipeline.BlockRange{}, false},
		{"eth_getLogs", `[{"fromBlock":"safe","toBlock":"latest"}]`, 1000, blockref.Ref{}, false, pipeline.BlockRange{From: 968, To: 1000}, true},
		{"eth_getLogs", `[{"fromBlock":"earliest","toBlock":"0x10"}]`, 1000, blockref.Ref{}, false, pipeline.BlockRange{From: 0, To: 16}, true},
		{"eth_getLogs", `[{"blockHash":"` + hash + `"}]`, 1000, blockref.Ref{}, false, pipeline.BlockRange{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.method+tt.params, func(t *testing.T) {
			rec := &recorder{}
			h := &blocktag.BlockTag{Next: rec, Head: trackerAt(tt.head)}
			if _, err := pipeline.Do(context.Background(), h, pipeline.NewCall(tt.method, json.RawMessage(tt.params))); err != nil {
				t.Fatal(err)
			}
			got := rec.calls[0]
			if got.Ref != tt.want || got.HasRef != tt.hasRef || got.Range != tt.wantRange || got.HasRange != tt.hasRange {
				t.Fatalf("ref %+v (%v) range %+v (%v); want %+v (%v) %+v (%v)", got.Ref, got.HasRef, got.Range, got.HasRange,
					tt.want, tt.hasRef, tt.wantRange, tt.hasRange)
			}
		})
	}
}

// TestLogsSplitReport: a split eth_getLogs is reported as established the
// weakest way any of its chunks was.
func TestLogsSplitReport(t *testing.T) {
	rec := &recorder{answer: func(c *pipeline.Call) (json.RawMessage, error) {
		c.Report = &pipeline.Report{}
		class := pipeline.ClassProof
		if strings.Contains(string(c.Params), `"fromBlock":"0x64"`) {
			class = pipeline.ClassQuorum
		}
		c.Report.Set(class, "", "op")
		return json.RawMessage(`[]`), nil
	}}
	c := pipeline.NewCall("eth_getLogs", json.RawMessage(`[{"fromBlock":"0x0","toBlock":"0xfa"}]`))
	if _, err := pipeline.Do(context.Background(), logsChain(rec, 1000, 0, 100, 2), c); err != nil {
		t.Fatal(err)
	}
	if len(rec.calls) != 3 || c.Report == nil || c.Report.Class() != pipeline.ClassQuorum {
		t.Fatalf("%d chunks, report %v; want 3 and quorum", len(rec.calls), c.Report)
	}
}
