package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/params"

	"github.com/rpcmesh/rpcmesh/internal/config"
	"github.com/rpcmesh/rpcmesh/internal/upstream"
	"github.com/rpcmesh/rpcmesh/internal/verify"
)

// node answers every JSON-RPC call with status and body (a %s in body is
// replaced by the call's id).
func node(t *testing.T, status int, body string) *upstream.Provider {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			ID json.RawMessage `json:"id"`
		}
		b, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(b, &req)
		if status == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", "1")
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = fmt.Fprintf(w, body, req.ID)
	}))
	t.Cleanup(srv.Close)
	pc := config.DefaultProvider()
	pc.Name, pc.HTTP = "p", srv.URL
	h := config.Default().Health
	h.ProviderTimeout = config.Duration(time.Second)
	return upstream.New(upstream.Options{Chain: "test", ChainID: 1337, Provider: pc, Health: h})
}

// A check's outcome follows from what the provider answered: only an
// answer proven wrong is Failed; transport failures, 5xx and 429 are
// Unavailable; null and a node's error (no such block, state pruned) are
// Absent.
func TestCheckStateOutcomes(t *testing.T) {
	h := &types.Header{Number: big.NewInt(10), Difficulty: big.NewInt(1)}
	a := New(Options{Chain: "test", Config: config.DefaultAudit(), ChainConfig: params.AllDevChainProtocolChanges,
		Evidence: verify.NewEvidenceLog(4)})
	for _, tc := range []struct {
		name   string
		status int
		body   string
		want   Outcome
	}{
		{"null", 200, `{"jsonrpc":"2.0","id":%s,"result":null}`, Absent},
		{"header not found", 200, `{"jsonrpc":"2.0","id":%s,"error":{"code":-32000,"message":"header not found"}}`, Absent},
		{"missing trie node", 200, `{"jsonrpc":"2.0","id":%s,"error":{"code":-32000,"message":"missing trie node abc (path ) state 0x01 is not available"}}`, Absent},
		{"internal error", 200, `{"jsonrpc":"2.0","id":%s,"error":{"code":-32603,"message":"internal error"}}`, Absent},
		{"HTTP 503", 503, `upstream down`, Unavailable},
		{"HTTP 429", 429, `slow down`, Unavailable},
		{"not JSON-RPC", 200, `<html>%s</html>`, Unavailable},
		{"empty proof", 200, `{"jsonrpc":"2.0","id":%s,"result":{}}`, Failed},
		{"proof that proves nothing", 200, `{"jsonrpc":"2.0","id":%s,"result":{"address":"0x0000000000000000000000000000000000000001",` +
			`"accountProof":["0x80"],"balance":"0x1","codeHash":"0x0000000000000000000000000000000000000000000000000000000000000000",` +
			`"nonce":"0x0","storageHash":"0x0000000000000000000000000000000000000000000000000000000000000000","storageProof":[]}}`, Failed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			f := a.checkState(ctx, node(t, tc.status, tc.body), h)
			if f.outcome != tc.want {
				t.Fatalf("outcome %d, want %d (err %v)", f.outcome, tc.want, f.err)
			}
			if tc.want == Failed && (f.err == nil || !verify.IsLie(f.err) || f.method != "eth_getProof" || len(f.answer) == 0) {
				t.Fatalf("a lie without its evidence: %+v", f)
			}
		})
	}
}

// A failed check is evidence of kind "audit", linked by ID, and the
// provider's integrity penalty with reason "audit"; other outcomes
// record nothing against it.
func TestRejectRecordsEvidenceAndPenalty(t *testing.T) {
	ev := verify.NewEvidenceLog(4)
	a := New(Options{Chain: "test", Config: config.DefaultAudit(), Evidence: ev})
	p := node(t, 200, `{"jsonrpc":"2.0","id":%s,"result":null}`)
	id := a.reject(p, finding{outcome: Failed, method: "eth_getBalance", params: json.RawMessage(`["0x01","latest"]`),
		answer: json.RawMessage(`"0x2"`), err: &verify.MismatchError{What: "eth_getBalance", Claimed: "0x2", Proven: "0x1"}})
	e, ok := ev.Get(id)
	if !ok || e.Kind != Reason || e.PenaltyReason() != Reason || e.Provider != "p" || e.Chain != "test" || !strings.Contains(e.Failure, "0x2") {
		t.Fatalf("evidence %d: %+v", id, e)
	}
	pen := p.Penalties()
	if len(pen) != 1 || pen[0].Reason != Reason || pen[0].Count != 1 {
		t.Fatalf("penalties %+v", pen)
	}
}

// blockJSON renders h as a provider answers eth_getBlockByNumber(n, true)
// for a block without transactions; hash, when set, replaces its hash.
func blockJSON(t *testing.T, h *types.Header, hash string) string {
	t.Helper()
	raw, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	m["transactions"], m["uncles"] = []any{}, []any{}
	if hash != "" {
		m["hash"] = hash
	}
	out, _ := json.Marshal(m)
	return string(out)
}

// A block check passes the agreed block, fails a block whose fields do
// not hash to its claim or another block at or below the agreed finalized
// one, and counts another block above it (another fork, for a moment) as
// absence.
func TestCheckBlockOutcomes(t *testing.T) {
	agreed := &types.Header{Number: big.NewInt(10), Difficulty: big.NewInt(1), GasLimit: 30_000_000, Time: 100,
		UncleHash: types.EmptyUncleHash, TxHash: types.EmptyTxsHash, ReceiptHash: types.EmptyReceiptsHash}
	fork := types.CopyHeader(agreed)
	fork.Time = 101
	for _, tc := range []struct {
		name      string
		answer    string
		finalized uint64
		want      Outcome
	}{
		{"the agreed block", blockJSON(t, agreed, ""), 0, Passed},
		{"a claimed hash its fields do not hash to", blockJSON(t, agreed, "0x"+strings.Repeat("ab", 32)), 0, Failed},
		{"another fork above finality", blockJSON(t, fork, ""), 9, Absent},
		{"another block at a finalized height", blockJSON(t, fork, ""), 10, Failed},
		{"null", "null", 0, Absent},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := New(Options{Chain: "test", Config: config.DefaultAudit(), ChainConfig: params.AllDevChainProtocolChanges,
				Finalized: func() (uint64, bool) { return tc.finalized, true }})
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			body := `{"jsonrpc":"2.0","id":%s,"result":` + strings.ReplaceAll(tc.answer, "%", "%%") + `}`
			f := a.checkBlock(ctx, node(t, 200, body), agreed)
			if f.outcome != tc.want {
				t.Fatalf("outcome %d, want %d (err %v)", f.outcome, tc.want, f.err)
			}
			if tc.want == Failed && (f.method != "eth_getBlockByNumber" || !verify.IsLie(f.err)) {
				t.Fatalf("a lie without its evidence: %+v", f)
			}
		})
	}
}

// fixedTrust vouches for one header at every height.
type fixedTrust struct{ h *types.Header }

func (f fixedTrust) HeaderByNumber(context.Context, uint64) (*types.Header, error) { return f.h, nil }
func (f fixedTrust) HeaderByHash(context.Context, common.Hash) (*types.Header, error) {
	return f.h, nil
}

// A check that proved an answer right or wrong is told to Audited (usage
// metering counts it); one the provider could not answer is not.
func TestAuditedTold(t *testing.T) {
	h := &types.Header{Number: big.NewInt(10), Difficulty: big.NewInt(1)}
	for _, tc := range []struct {
		name   string
		status int
		body   string
		want   []bool
	}{
		{"proven wrong", 200, `{"jsonrpc":"2.0","id":%s,"result":{}}`, []bool{false}},
		{"absent", 200, `{"jsonrpc":"2.0","id":%s,"result":null}`, nil},
		{"unavailable", 503, `down`, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var told []bool
			a := New(Options{Chain: "test", Config: config.DefaultAudit(), ChainConfig: params.AllDevChainProtocolChanges,
				Evidence: verify.NewEvidenceLog(4), Trust: fixedTrust{h},
				Head:    func() (uint64, bool) { return 12, true },
				Audited: func(provider string, passed bool) { told = append(told, passed) }})
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			a.runCheck(ctx, node(t, tc.status, tc.body), checkState)
			if !slices.Equal(told, tc.want) {
				t.Fatalf("told %v, want %v", told, tc.want)
			}
		})
	}
}
