package audit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/rpcmesh/rpcmesh/internal/config"
	"github.com/rpcmesh/rpcmesh/internal/upstream"
	"github.com/rpcmesh/rpcmesh/internal/verify"
)

var testTx = common.HexToHash("0x2d19c0ffee000000000000000000000000000000000000000000000000000e9d")

// txJSON is a transaction object for testTx as eth_getTransactionByHash
// answers it.
var txJSON = fmt.Sprintf(`{"hash":%q,"nonce":"0x1","blockHash":null}`, testTx.Hex())

// txNode is a provider for the propagation check: its answer to
// eth_sendRawTransaction (status and result or error object), what
// eth_getTransactionByHash and eth_getTransactionReceipt answer before
// and after a send ("" is null; a "!" prefix is an error object), and
// lookupStatus for every lookup (200 unless set). hang makes the send
// hang until the caller gives up.
type txNode struct {
	name, operator      string
	sendStatus          int
	send                string
	before, after, rcpt string
	lookupStatus        int
	hang                bool
	sent                atomic.Int32
}

func (n *txNode) provider(t *testing.T) *upstream.Provider {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			ID     json.RawMessage `json:"id"`
			Method string          `json:"method"`
		}
		b, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(b, &req)
		status, answer := 200, ""
		switch req.Method {
		case "eth_sendRawTransaction":
			if n.hang {
				<-r.Context().Done()
				return
			}
			n.sent.Add(1)
			status, answer = n.sendStatus, n.send
		case "eth_getTransactionByHash":
			status, answer = n.lookupStatus, n.before
			if n.sent.Load() > 0 {
				answer = n.after
			}
		case "eth_getTransactionReceipt":
			status, answer = n.lookupStatus, n.rcpt
		}
		if status == 0 {
			status = 200
		}
		if status == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", "1")
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		switch {
		case status != 200:
			_, _ = io.WriteString(w, "unavailable")
		case strings.HasPrefix(answer, "!"):
			_, _ = fmt.Fprintf(w, `{"jsonrpc":"2.0","id":%s,"error":{"code":-32000,"message":%q}}`, req.ID, answer[1:])
		case answer == "":
			_, _ = fmt.Fprintf(w, `{"jsonrpc":"2.0","id":%s,"result":null}`, req.ID)
		default:
			_, _ = fmt.Fprintf(w, `{"jsonrpc":"2.0","id":%s,"result":%s}`, req.ID, answer)
		}
	}))
	t.Cleanup(srv.Close)
	pc := config.DefaultProvider()
	pc.Name, pc.HTTP, pc.Labels.Operator = n.name, srv.URL, n.operator
	h := config.Default().Health
	h.ProviderTimeout = config.Duration(time.Second)
	return upstream.New(upstream.Options{Chain: "test", ChainID: 1337, Provider: pc, Health: h})
}

// oneTx is a SentSource holding testTx (raw bytes while kept).
type oneTx struct{ kept bool }

func (o oneTx) Recent(time.Time, int, string) []SentTx {
	return []SentTx{{Hash: testTx, SentTo: []string{"own"}, HeldBy: []string{"own"}}}
}

func (o oneTx) Raw(common.Hash) ([]byte, bool) {
	if !o.kept {
		return nil, false
	}
	return []byte{0x02, 0xf8}, true
}

// propagationAuditor audits p with witness as the provider that held the
// transaction, waiting wait for p to know it.
func propagationAuditor(p, witness *upstream.Provider, src SentSource, ev *verify.EvidenceLog) *Auditor {
	cfg := config.DefaultAudit()
	cfg.Timeout = config.Duration(3 * time.Second)
	cfg.Propagation.Wait = config.Duration(300 * time.Millisecond)
	return New(Options{Chain: "test", Config: cfg, Providers: func() []*upstream.Provider { return []*upstream.Provider{p, witness} }, Sent: src, Evidence: ev})
}

var hashResult = fmt.Sprintf("%q", testTx.Hex())

// The outcome table: only a provider that acknowledged the transaction and
// still did not know it after the wait, while another operator did, is
// Failed (censored); every honest answer — already known, mined
// meanwhile, nonce too low, underpriced, replaced, no funds, a full pool,
// rate limits, timeouts, 5xx, a lookup it cannot serve — is Absent or
// Unavailable, never a lie.
func TestPropagationOutcomes(t *testing.T) {
	witnessKnows := &txNode{name: "own", operator: "us", before: txJSON}
	for _, tc := range []struct {
		name     string
		node     *txNode
		witness  *txNode
		want     Outcome
		wantSend bool
	}{
		{"knew it already (gossip)", &txNode{before: txJSON}, witnessKnows, Passed, false},
		{"mined, known by receipt", &txNode{rcpt: fmt.Sprintf(`{"transactionHash":%q}`, testTx.Hex())}, witnessKnows, Passed, false},
		{"acknowledged, then in its pool", &txNode{send: hashResult, after: txJSON}, witnessKnows, Passed, true},
		{"already known, then in its pool", &txNode{send: "!already known", after: txJSON}, witnessKnows, Passed, true},
		{"acknowledged, never knew it, another operator did", &txNode{send: hashResult}, witnessKnows, Failed, true},
		{"acknowledged, never knew it, no witness knows it", &txNode{send: hashResult}, &txNode{name: "own", operator: "us"}, Absent, true},
		{"acknowledged, never knew it, witness unavailable", &txNode{send: hashResult}, &txNode{name: "own", operator: "us", lookupStatus: 503}, Absent, true},
		{"acknowledged with another hash", &txNode{send: fmt.Sprintf("%q", common.Hash{1}.Hex())}, witnessKnows, Failed, true},
		{"nonce too low (mined meanwhile)", &txNode{send: "!nonce too low: next nonce 3, tx nonce 1"}, witnessKnows, Absent, true},
		{"replacement underpriced", &txNode{send: "!replacement transaction underpriced"}, witnessKnows, Absent, true},
		{"underpriced", &txNode{send: "!transaction underpriced: tip needed 1, tip permitted 0"}, witnessKnows, Absent, true},
		{"fee cap below base fee", &txNode{send: "!max fee per gas less than block base fee"}, witnessKnows, Absent, true},
		{"insufficient funds", &txNode{send: "!insufficient funds for gas * price + value"}, witnessKnows, Absent, true},
		{"pool full", &txNode{send: "!txpool is full"}, witnessKnows, Unavailable, true},
		{"rate limit as JSON-RPC error", &txNode{send: "!rate limit exceeded"}, witnessKnows, Unavailable, true},
		{"HTTP 429 on send", &txNode{sendStatus: 429}, witnessKnows, Unavailable, true},
		{"HTTP 503 on send", &txNode{sendStatus: 503}, witnessKnows, Unavailable, true},
		{"send times out", &txNode{hang: true}, witnessKnows, Unavailable, false},
		{"lookup unavailable", &txNode{lookupStatus: 503}, witnessKnows, Unavailable, false},
		{"lookup while indexing", &txNode{before: "!transaction indexing is in progress"}, witnessKnows, Absent, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			n := tc.node
			n.name, n.operator = "public", "them"
			p := n.provider(t)
			ev := verify.NewEvidenceLog(4)
			a := propagationAuditor(p, tc.witness.provider(t), oneTx{kept: true}, ev)
			tx := a.o.Sent.Recent(time.Time{}, 1, p.Name())[0]
			f := a.checkPropagation(ctx, p, tx)
			if f.skip || f.outcome != tc.want {
				t.Fatalf("outcome %d (skip %v), want %d (err %v)", f.outcome, f.skip, tc.want, f.err)
			}
			if got := n.sent.Load() > 0; got != tc.wantSend {
				t.Fatalf("sent: %v, want %v", got, tc.wantSend)
			}
			if tc.want != Failed {
				return
			}
			a.record(p, f)
			es := ev.Recent(0)
			if len(es) != 1 || es[0].Kind != Reason || es[0].PenaltyReason() != Reason || es[0].Provider != "public" {
				t.Fatalf("evidence %+v", es)
			}
			if pen := p.Penalties(); len(pen) != 1 || pen[0].Reason != Reason {
				t.Fatalf("penalties %+v", pen)
			}
			if s := a.Results().Summary("public", time.Now()); s.Windows["1h"].Failed != 1 {
				t.Fatalf("results %+v", s)
			}
		})
	}
}

// A censorship finding names the transaction, the wait and the operator
// that knew it.
func TestPropagationCensoredEvidence(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	n := &txNode{name: "public", operator: "them", send: hashResult}
	p := n.provider(t)
	a := propagationAuditor(p, (&txNode{name: "own", operator: "us", before: txJSON}).provider(t), oneTx{kept: true}, nil)
	f := a.checkPropagation(ctx, p, SentTx{Hash: testTx, HeldBy: []string{"own"}})
	if !errors.Is(f.err, ErrCensored) || !strings.Contains(f.err.Error(), testTx.Hex()) || !strings.Contains(f.err.Error(), "operator us") {
		t.Fatalf("finding %+v", f)
	}
}

// A transaction whose bytes are no longer kept, or with no witness of
// another operator (only the audited provider's own operator held it),
// is no check at all: nothing sent, nothing counted.
func TestPropagationNoCheck(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	n := &txNode{name: "public", operator: "them", send: hashResult}
	p := n.provider(t)
	witness := (&txNode{name: "own", operator: "us", before: txJSON}).provider(t)
	if f := propagationAuditor(p, witness, oneTx{kept: false}, nil).checkPropagation(ctx, p, SentTx{Hash: testTx, HeldBy: []string{"own"}}); !f.skip {
		t.Fatalf("bytes gone: %+v, want no check", f)
	}
	same := (&txNode{name: "own", operator: "them", before: txJSON}).provider(t)
	a := propagationAuditor(p, same, oneTx{kept: true}, nil)
	a.runPropagation(ctx, p)
	if n.sent.Load() != 0 || a.Results().Summary("public", time.Now()).Windows["1h"] != (Counts{}) {
		t.Fatalf("checked with a witness of its own operator: sent %d", n.sent.Load())
	}
}
