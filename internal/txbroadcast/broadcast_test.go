package txbroadcast

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"

	"github.com/rpcmesh/rpcmesh/internal/config"
	"github.com/rpcmesh/rpcmesh/internal/jsonrpc"
)

// fakeTarget answers eth_sendRawTransaction as told and counts calls.
type fakeTarget struct {
	name, op, cloud string
	send            func(hash common.Hash) (json.RawMessage, error)
	inPool          bool
	delay           time.Duration
	nonce           uint64 // its eth_getTransactionCount answer
	calls           atomic.Int32
}

func (f *fakeTarget) Name() string { return f.name }
func (f *fakeTarget) Labels() config.Labels {
	return config.Labels{Operator: f.op, Cloud: f.cloud}
}

func (f *fakeTarget) Call(ctx context.Context, method string, params json.RawMessage) (json.RawMessage, error) {
	f.calls.Add(1)
	select {
	case <-time.After(f.delay):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	switch method {
	case "eth_sendRawTransaction":
		var raw []string
		_ = json.Unmarshal(params, &raw)
		tx, err := FromRaw(common.FromHex(raw[0]))
		if err != nil {
			return nil, err
		}
		return f.send(tx.Hash)
	case "eth_getTransactionByHash":
		if f.inPool {
			return json.RawMessage(`{"hash":"0x01","blockHash":null}`), nil
		}
		return json.RawMessage(`null`), nil
	case "eth_getTransactionCount":
		return json.Marshal(hexutil.Uint64(f.nonce))
	}
	return nil, errors.New("unexpected method " + method)
}

func accept(h common.Hash) (json.RawMessage, error) { b, _ := json.Marshal(h); return b, nil }

func reject(msg string) func(common.Hash) (json.RawMessage, error) {
	return func(common.Hash) (json.RawMessage, error) { return nil, &jsonrpc.Error{Code: -32000, Message: msg} }
}

func down(common.Hash) (json.RawMessage, error) { return nil, errors.New("connection refused") }

func targets(fs ...*fakeTarget) []Target {
	out := make([]Target, len(fs))
	for i, f := range fs {
		out[i] = f
	}
	return out
}

func TestDistinctPrefersNewOperatorsAndClouds(t *testing.T) {
	ranked := targets(
		&fakeTarget{name: "a1", op: "a", cloud: "aws"},
		&fakeTarget{name: "a2", op: "a", cloud: "gcp"},
		&fakeTarget{name: "b", op: "b", cloud: "aws"},
		&fakeTarget{name: "c", op: "c", cloud: "gcp"},
		&fakeTarget{name: "d", op: "d", cloud: "home"},
	)
	for _, tc := range []struct {
		k    int
		skip map[string]bool
		want []string
	}{
		{1, nil, []string{"a1"}},
		{3, nil, []string{"a1", "c", "d"}},
		{4, nil, []string{"a1", "c", "d", "b"}}, // a new operator on a used cloud, never a2
		{9, nil, []string{"a1", "c", "d", "b"}},
		{3, map[string]bool{"a1": true, "c": true}, []string{"a2", "b", "d"}},
	} {
		var got []string
		for _, x := range Distinct(ranked, tc.k, tc.skip) {
			got = append(got, x.Name())
		}
		if len(got) != len(tc.want) {
			t.Fatalf("k=%d skip=%v: got %v, want %v", tc.k, tc.skip, got, tc.want)
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Fatalf("k=%d skip=%v: got %v, want %v", tc.k, tc.skip, got, tc.want)
			}
		}
	}
}

func TestSend(t *testing.T) {
	tx, err := Decode(rawParams(t, signed(t, testChainID, dynamicTx(testChainID))), testLimits)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name      string
		targets   []*fakeTarget
		wantFrom  string // provider whose acceptance answers
		wantCode  int
		wantMsg   string
		wantCalls map[string]int32 // eth_sendRawTransaction + pool checks
	}{
		{name: "first acceptance answers without waiting for the slow",
			targets: []*fakeTarget{
				{name: "slow", op: "a", cloud: "aws", send: accept, delay: 300 * time.Millisecond, inPool: true},
				{name: "fast", op: "b", cloud: "gcp", send: accept, inPool: true},
			}, wantFrom: "fast"},
		{name: "already known is accepted",
			targets: []*fakeTarget{{name: "k", op: "a", cloud: "aws", send: reject("already known"), inPool: true}}, wantFrom: "k"},
		{name: "most specific rejection wins",
			targets: []*fakeTarget{
				{name: "u", op: "a", cloud: "aws", send: reject("transaction underpriced")},
				{name: "n", op: "b", cloud: "gcp", send: reject("nonce too low: next nonce 7, tx nonce 3")},
				{name: "x", op: "c", cloud: "home", send: reject("something odd")},
			}, wantCode: CodeTxRejected, wantMsg: "nonce too low"},
		{name: "a provider that is down is replaced by another operator",
			targets: []*fakeTarget{
				{name: "d1", op: "a", cloud: "aws", send: down},
				{name: "d2", op: "b", cloud: "aws", send: down},
				{name: "spare", op: "c", cloud: "gcp", send: accept, inPool: true},
			}, wantFrom: "spare"},
		{name: "nobody answers",
			targets:  []*fakeTarget{{name: "d1", op: "a", send: down}, {name: "d2", op: "b", send: down}},
			wantCode: jsonrpc.CodeUpstreamError},
		{name: "a wrong hash is not an acceptance",
			targets:  []*fakeTarget{{name: "liar", op: "a", send: func(common.Hash) (json.RawMessage, error) { return accept(common.Hash{1}) }}},
			wantCode: CodeTxRejected},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := New(2, time.Second, nil)
			var mu sync.Mutex
			var all []Outcome
			o, err := b.Send(context.Background(), tx, targets(tc.targets...), nil, func(os []Outcome) {
				mu.Lock()
				all = os
				mu.Unlock()
			})
			if tc.wantCode != 0 {
				var je *jsonrpc.Error
				if !errors.As(err, &je) || je.Code != tc.wantCode || tc.wantMsg != "" && je.Message != tc.wantMsg {
					t.Fatalf("err = %v, want code %d %q", err, tc.wantCode, tc.wantMsg)
				}
			} else if err != nil || o.Provider != tc.wantFrom {
				t.Fatalf("outcome %+v err %v, want acceptance by %s", o, err, tc.wantFrom)
			}
			b.Close()
			mu.Lock()
			defer mu.Unlock()
			if len(all) == 0 {
				t.Fatal("done got no outcomes")
			}
		})
	}
}

func TestSendChecksPoolOfAcceptors(t *testing.T) {
	tx, _ := Decode(rawParams(t, signed(t, testChainID, dynamicTx(testChainID))), testLimits)
	censor := &fakeTarget{name: "censor", op: "a", cloud: "aws", send: accept}
	honest := &fakeTarget{name: "honest", op: "b", cloud: "gcp", send: accept, inPool: true, delay: 20 * time.Millisecond}
	b := New(3, time.Second, nil)
	done := make(chan []Outcome, 1)
	if _, err := b.Send(context.Background(), tx, targets(censor, honest), nil, func(o []Outcome) { done <- o }); err != nil {
		t.Fatal(err)
	}
	all := <-done
	b.Close()
	for _, o := range all {
		want := o.Provider == "honest"
		if o.InPool == nil || *o.InPool != want {
			t.Fatalf("%s: inPool %v, want %v", o.Provider, o.InPool, want)
		}
	}
}

func TestPendingNonce(t *testing.T) {
	params := json.RawMessage(`["0x000000000000000000000000000000000000c0de","pending"]`)
	if !IsPendingNonce(params) || IsPendingNonce(json.RawMessage(`["0x00","latest"]`)) {
		t.Fatal("IsPendingNonce")
	}
	tests := []struct {
		name   string
		counts map[string]uint64 // operator → its count; each a target of its own
		floor  uint64
		want   string
	}{
		{"highest two operators reach", map[string]uint64{"a": 3, "b": 7, "c": 7}, 0, `"0x7"`},
		{"one operator alone is not believed", map[string]uint64{"a": 3, "b": 10, "c": 5}, 0, `"0x5"`},
		{"only one answered", map[string]uint64{"a": 4}, 0, `"0x4"`},
		{"never below the floor", map[string]uint64{"a": 3, "b": 3}, 6, `"0x6"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ts []*fakeTarget
			for op, n := range tt.counts {
				ts = append(ts, &fakeTarget{name: "p-" + op, op: op, nonce: n})
			}
			res, err := PendingNonce(context.Background(), targets(ts...), params, tt.floor)
			if err != nil || string(res) != tt.want {
				t.Fatalf("got %s %v, want %s", res, err, tt.want)
			}
		})
	}
}

func TestClassify(t *testing.T) {
	for msg, want := range map[string]Reason{
		"nonce too low: address 0x1, tx: 1 state: 2":             ReasonNonceTooLow,
		"insufficient funds for gas * price + value: balance 0":  ReasonInsufficient,
		"replacement transaction underpriced":                    ReasonReplacementPrice,
		"transaction underpriced: tip needed 1, tip permitted 0": ReasonUnderpriced,
		"already known":                 ReasonAlreadyKnown,
		"ALREADY_EXISTS: already known": ReasonAlreadyKnown,
		"max fee per gas less than block base fee: address 0x1": ReasonFeeCapTooLow,
		"intrinsic gas too low: gas 0, minimum needed 21000":    ReasonIntrinsicGas,
		"exceeds block gas limit":                               ReasonGasLimit,
		"txpool is full":                                        ReasonPoolFull,
		"execution reverted":                                    ReasonOther,
	} {
		if got := classify(msg); got != want {
			t.Errorf("classify(%q) = %s, want %s", msg, got, want)
		}
	}
}
