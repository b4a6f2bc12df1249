package verification

import (
	"context"
	"encoding/json"
	"errors"
	"math/big"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/core/types"

	"github.com/rpcmesh/rpcmesh/internal/jsonrpc"
	"github.com/rpcmesh/rpcmesh/internal/verify"
)

// TestUnverifiedData: -32012 says in plain words what could not be
// verified, and its data names the method, the providers tried and why.
func TestUnverifiedData(t *testing.T) {
	tests := []struct {
		name, method, params, reason string
		asker                        *fakeAsker
	}{
		{"no trusted header", "eth_getBalance", `["0x0000000000000000000000000000000000000001","0x10"]`, "no_trust", newFake()},
		{"no quorum", "eth_call", `[{"to":"0x0000000000000000000000000000000000000001"},"0x10"]`, "no_quorum", newFake(ok(`"0x1"`), ok(`"0x2"`))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := New(nil, Options{Asker: tt.asker, Trust: verify.NewStaticTrust(), Latest: func() (uint64, bool) { return 0x20, true }})
			_, err := handle(context.Background(), v, newCall(tt.method, json.RawMessage(tt.params)))
			var je *jsonrpc.Error
			if !errors.As(err, &je) || je.Code != CodeUnverified {
				t.Fatalf("got %v, want -32012", err)
			}
			var data struct {
				Method         string `json:"method"`
				ProvidersTried *int   `json:"providersTried"`
				Reason         string `json:"reason"`
			}
			if err := json.Unmarshal(je.Data, &data); err != nil {
				t.Fatalf("data %s: %v", je.Data, err)
			}
			if data.Method != tt.method || data.ProvidersTried == nil || data.Reason != tt.reason {
				t.Errorf("data %s: want method %s, providersTried and reason %s", je.Data, tt.method, tt.reason)
			}
			if !strings.Contains(je.Message, tt.method) || strings.Contains(je.Message, "0x0000") {
				t.Errorf("message %q: want the method named, in plain words", je.Message)
			}
		})
	}
}

// TestPlainInvalidParams: bad params get -32602 in plain words, never Go
// type names.
func TestPlainInvalidParams(t *testing.T) {
	v := New(nil, Options{Asker: newFake(), Trust: verify.NewStaticTrust(), Latest: func() (uint64, bool) { return 0x20, true }})
	for _, tc := range []struct{ method, params string }{
		{"eth_getTransactionByHash", `["0x12"]`},
		{"eth_getTransactionReceipt", `{"hash":"0x12"}`},
		{"eth_getBalance", `["0x12","latest"]`},
		{"eth_getProof", `["0x0000000000000000000000000000000000000001",{"a":1},"latest"]`},
		{"eth_getBlockByNumber", `["0x1","yes"]`},
		{"eth_getLogs", `[{"address":7}]`},
	} {
		_, err := handle(context.Background(), v, newCall(tc.method, json.RawMessage(tc.params)))
		var je *jsonrpc.Error
		if !errors.As(err, &je) || je.Code != jsonrpc.CodeInvalidParams {
			t.Errorf("%s %s: got %v, want -32602", tc.method, tc.params, err)
			continue
		}
		for _, leak := range []string{"Go value", "common.", "json:", "[]json", "strconv", "hexutil"} {
			if strings.Contains(je.Message, leak) {
				t.Errorf("%s %s: %q speaks Go (%s)", tc.method, tc.params, je.Message, leak)
			}
		}
	}
}

// TestNoAnswerIsNotUnverified: when no provider answered at all, the
// client is told so (routing's error), not that an answer failed
// verification.
func TestNoAnswerIsNotUnverified(t *testing.T) {
	h := &types.Header{Number: big.NewInt(16), Difficulty: big.NewInt(0), BaseFee: big.NewInt(7)}
	params := json.RawMessage(`["0x0000000000000000000000000000000000000001","0x10"]`)
	for name, f := range map[string]*fakeAsker{
		"transport failures": newFake(Answer{Err: errors.New("connection refused")}, Answer{Err: errors.New("connection reset")}),
		"no provider":        newFake(),
	} {
		v := New(nil, Options{Asker: f, Trust: verify.NewStaticTrust(h), Latest: func() (uint64, bool) { return 16, true }})
		for _, m := range []string{"eth_getBalance", "eth_call", "eth_gasPrice"} {
			_, err := handle(context.Background(), v, newCall(m, params))
			var je *jsonrpc.Error
			if err == nil || (errors.As(err, &je) && je.Code == CodeUnverified) {
				t.Errorf("%s, %s: got %v, want routing's error, not -32012", name, m, err)
			}
		}
	}
}
