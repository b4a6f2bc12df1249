package upstream

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/config"
	"github.com/rpcmesh/rpcmesh/internal/jsonrpc"
)

func batchProvider(t *testing.T, h http.HandlerFunc) *Provider {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return New(Options{Chain: "test", ChainID: 1337, Health: testHealth(),
		Provider: config.Provider{Name: "n", HTTP: srv.URL, Labels: config.Labels{Operator: "op", Tier: "own"}}})
}

func TestCallBatch(t *testing.T) {
	// Answers in reverse order; the second call gets a node error, the
	// third a node failure, the fourth no answer at all.
	p := batchProvider(t, func(w http.ResponseWriter, r *http.Request) {
		var reqs []struct {
			ID     json.RawMessage `json:"id"`
			Method string          `json:"method"`
		}
		if err := json.NewDecoder(r.Body).Decode(&reqs); err != nil || len(reqs) != 4 {
			http.Error(w, "bad", http.StatusBadRequest)
			return
		}
		out := []string{
			`{"jsonrpc":"2.0","id":` + string(reqs[2].ID) + `,"error":{"code":-32603,"message":"internal error"}}`,
			`{"jsonrpc":"2.0","id":` + string(reqs[1].ID) + `,"error":{"code":3,"message":"execution reverted"}}`,
			`{"jsonrpc":"2.0","id":` + string(reqs[0].ID) + `,"result":"0x1"}`,
		}
		w.Write([]byte("[" + out[0] + "," + out[1] + "," + out[2] + "]"))
	})
	calls := []BatchCall{{"eth_getBalance", json.RawMessage(`["0x1","0x5"]`)}, {"eth_call", nil}, {"eth_getBalance", nil}, {"eth_chainId", nil}}
	ans, err := p.CallBatch(context.Background(), calls)
	if err != nil {
		t.Fatal(err)
	}
	if string(ans[0].Result) != `"0x1"` || ans[0].Err != nil {
		t.Errorf("call 0: %+v", ans[0])
	}
	if je, ok := ans[1].Err.(*jsonrpc.Error); !ok || je.Code != 3 {
		t.Errorf("call 1: want the node's answer, got %v", ans[1].Err)
	}
	var ue *Error
	if !errors.As(ans[2].Err, &ue) || ue.Class != ClassNodeError {
		t.Errorf("call 2: want a node failure, got %v", ans[2].Err)
	}
	if !errors.As(ans[3].Err, &ue) || ue.Class != ClassBadResponse {
		t.Errorf("call 3: want a missing answer, got %v", ans[3].Err)
	}
	if s := p.Snapshot(time.Now()); s.Requests != 1 || s.LatencyEWMA <= 0 {
		t.Errorf("one request with a latency sample expected: %+v", s)
	}
}

func TestCallBatchRefused(t *testing.T) {
	for name, h := range map[string]http.HandlerFunc{
		"400": func(w http.ResponseWriter, r *http.Request) { http.Error(w, "bad json", http.StatusBadRequest) },
		"one object": func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte(`{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"batches not supported"}}`))
		},
	} {
		t.Run(name, func(t *testing.T) {
			p := batchProvider(t, h)
			for range 10 { // well past the breaker threshold
				_, err := p.CallBatch(context.Background(), []BatchCall{{"eth_chainId", nil}, {"eth_chainId", nil}})
				if !errors.Is(err, ErrNoBatches) {
					t.Fatalf("want ErrNoBatches, got %v", err)
				}
			}
			if p.Batches() {
				t.Error("Batches still true")
			}
			if s := p.Snapshot(time.Now()); s.ErrorRate != 0 || s.Breaker != BreakerClosed {
				t.Errorf("a refused batch counted against the provider: %+v", s)
			}
		})
	}
}
