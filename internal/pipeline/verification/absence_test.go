package verification

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/params"

	"github.com/rpcmesh/rpcmesh/internal/config"
	"github.com/rpcmesh/rpcmesh/internal/devnet"
	"github.com/rpcmesh/rpcmesh/internal/head"
	"github.com/rpcmesh/rpcmesh/internal/jsonrpc"
	"github.com/rpcmesh/rpcmesh/internal/pipeline"
	"github.com/rpcmesh/rpcmesh/internal/route"
	"github.com/rpcmesh/rpcmesh/internal/testwait"
	"github.com/rpcmesh/rpcmesh/internal/upstream"
	"github.com/rpcmesh/rpcmesh/internal/verify"
)

// gatewayStage builds the stage as the gateway does (FromGateway) over
// upstream providers for the named devnet nodes, and waits until their
// head is agreed. It returns the stage and the agreed head tracker.
func gatewayStage(t *testing.T, ctx context.Context, d *devnet.Devnet, vc config.Verify, names ...string) (*Verifier, *head.Tracker, []*upstream.Provider) {
	t.Helper()
	return gatewayStageWith(t, ctx, d, vc, head.NewTracker(min(2, len(names)), 8, nil), false, names...)
}

// gatewayStageWith is gatewayStage over the given head tracker, with the
// devnet's tiers when tiers is set (else every provider is an own node).
func gatewayStageWith(t *testing.T, ctx context.Context, d *devnet.Devnet, vc config.Verify, tracker *head.Tracker, tiers bool, names ...string) (*Verifier, *head.Tracker, []*upstream.Provider) {
	t.Helper()
	router, list := gatewayProviders(t, ctx, d, tracker, 0, func(pc *config.Provider, n devnet.NodeInfo) {
		if tiers {
			pc.Labels.Tier = n.Labels.Tier
		}
		pc.Debug = n.Name == names[0] // one debug-capable operator
	}, names...)
	forward := perCall(func(ctx context.Context, c *pipeline.Call) (json.RawMessage, error) {
		res, err := router.Do(ctx, &route.Request{Method: c.Method, Params: c.Params, Info: c.Info, Block: c.Block, HasBlock: c.HasBlock})
		c.Provider = res.Provider
		return res.Value, err
	})
	v := FromGateway(Gateway{Chain: "devnet", ChainID: d.Info().ChainID, Config: vc, Head: tracker, Router: router,
		Evidence: verify.NewEvidenceLog(64)})(forward).(*Verifier)
	return v, tracker, list
}

// gatewayProviders runs upstream providers for the named devnet nodes (all
// when none is named), each an own-tier node with its entry changed by edit
// (when not nil), their heads observed by tracker, until the test ends; and
// a router over them. It waits until tracker has an agreed head at least
// minHead and every provider can be picked.
func gatewayProviders(t *testing.T, ctx context.Context, d *devnet.Devnet, tracker *head.Tracker, minHead uint64,
	edit func(pc *config.Provider, n devnet.NodeInfo), names ...string) (*route.Router, []*upstream.Provider) {
	t.Helper()
	cfg := config.Default()
	cfg.Health.PollInterval = config.Duration(200 * time.Millisecond)
	pctx, cancel := context.WithCancel(ctx)
	t.Cleanup(cancel)
	var list []*upstream.Provider
	for _, n := range d.Info().Nodes {
		if len(names) > 0 && !contains(names, n.Name) {
			continue
		}
		pc := config.DefaultProvider()
		pc.Name, pc.HTTP = n.Name, n.HTTP
		pc.Labels = config.Labels{Operator: n.Labels.Operator, Cloud: n.Labels.Cloud, Tier: config.TierOwn}
		if edit != nil {
			edit(&pc, n)
		}
		p := upstream.New(upstream.Options{Chain: "devnet", ChainID: d.Info().ChainID, Provider: pc, Health: cfg.Health,
			OnHead: func(p *upstream.Provider, b head.Block) { tracker.Observe(p.Name(), p.Labels().Operator, b) }})
		go p.Run(pctx)
		list = append(list, p)
	}
	router := route.New(route.Options{Chain: "devnet", Routing: cfg.Routing, MaxLagBlocks: 3, Providers: list, Head: tracker})
	if err := testwait.Until(ctx, fmt.Sprintf("providers and an agreed head at %d or above", minHead), func() bool {
		b, ok := tracker.Latest()
		return ok && b.Number >= minHead && len(router.PickDistinct(&route.Request{}, len(list), nil, nil)) == len(list)
	}); err != nil {
		t.Fatal(err)
	}
	return router, list
}

// TestAbsenceAsANode: what does not exist (yet) is answered as go-ethereum
// answers it, with one operator and with several: null for blocks,
// transactions and receipts, the node's own error for state reads; never
// -32012.
func TestAbsenceAsANode(t *testing.T) {
	d, act := sharedDevnet(t)
	ctx := testwait.Context(t, 3*time.Minute)
	direct := directCaller(t, d)
	unknown := common.HexToHash("0x5eed00000000000000000000000000000000000000000000000000000000abcd")
	acct := act.Accounts()[0]
	for _, names := range [][]string{{"node1"}, {"node1", "node2", "node3"}} {
		t.Run(names[len(names)-1], func(t *testing.T) {
			v, tracker, _ := gatewayStage(t, ctx, d, config.DefaultVerify(), names...)
			agreed, _ := tracker.Latest()
			future := hexutil.EncodeUint64(agreed.Number + 1000)
			p := verify.Params
			for _, r := range []request{
				{"eth_getBlockByNumber", p(future, false)},
				{"eth_getBlockByNumber", p(hexutil.EncodeUint64(agreed.Number+1), true)},
				{"eth_getBlockByHash", p(unknown, false)},
				{"eth_getBlockReceipts", p(unknown)},
				{"eth_getTransactionByHash", p(unknown)},
				{"eth_getTransactionReceipt", p(unknown)},
				{"eth_getBalance", p(acct, future)},
				{"eth_getBalance", p(acct, map[string]any{"blockHash": unknown})},
				{"eth_getLogs", p(map[string]any{"fromBlock": "0x1", "toBlock": future})},
			} {
				got, err := handle(ctx, v, newCall(r.method, r.params))
				want, werr := direct.call(ctx, r.method, r.params)
				if r.method == "eth_getBlockByNumber" {
					// The node may hold head+1 already; for the gateway's
					// clients it is not there until the head is agreed.
					want, werr = json.RawMessage("null"), nil
				}
				var je, wje *jsonrpc.Error
				switch {
				case werr == nil && (err != nil || string(got) != string(want)):
					t.Errorf("%s %s: got %s %v, the node answers %s", r.method, r.params, got, err, want)
				case werr != nil && (!errors.As(err, &je) || !errors.As(werr, &wje) || je.Code != wje.Code || je.Message != wje.Message):
					t.Errorf("%s %s: got %s %v, the node answers %v", r.method, r.params, got, err, werr)
				}
			}
		})
	}
}

// hidingAsker answers null to transaction lookups from the providers in
// hide: a provider hiding data.
type hidingAsker struct {
	Asker
	hide map[string]bool
}

func (h hidingAsker) hid(a Answer, method string) Answer {
	if h.hide[a.Provider] && (method == "eth_getTransactionByHash" || method == "eth_getTransactionReceipt") {
		a.Value, a.Err = json.RawMessage("null"), nil
	}
	return a
}

func (h hidingAsker) Ask(ctx context.Context, req Request, avoid map[string]bool) Answer {
	return h.hid(h.Asker.Ask(ctx, req, avoid), req.Method)
}

func (h hidingAsker) AskDistinct(ctx context.Context, req Request, k int, skip Skip) []Answer {
	out := h.Asker.AskDistinct(ctx, req, k, skip)
	for i := range out {
		out[i] = h.hid(out[i], req.Method)
	}
	return out
}

// TestNullDoesNotHide: a provider answering null for a mined transaction
// cannot make it absent while another operator has it.
func TestNullDoesNotHide(t *testing.T) {
	d, act := sharedDevnet(t)
	ctx := testwait.Context(t, 2*time.Minute)
	h := newHarness(t, d)
	h.asker.first = []string{"node2"}
	h.v.o.Asker = hidingAsker{Asker: h.asker, hide: map[string]bool{"node2": true}}
	p := verify.Params
	o := h.serve(t, ctx, []request{{"eth_getTransactionByHash", p(act.Txs[0])}, {"eth_getTransactionReceipt", p(act.Txs[0])}})
	if o.correct != 2 {
		t.Fatalf("a hidden transaction: %+v", o)
	}
}

// TestLivenessTraps: debug_ with one capable operator is answered (by
// that operator, labelled trusted) instead of failing every call; writes
// are never fanned out for a quorum.
func TestLivenessTraps(t *testing.T) {
	d, _ := sharedDevnet(t)
	ctx := testwait.Context(t, 2*time.Minute)
	v, _, _ := gatewayStage(t, ctx, d, config.DefaultVerify(), "node1", "node2", "node3")
	direct := directCaller(t, d)
	params := verify.Params("0x1")
	c := newCall("debug_getRawHeader", params)
	got, err := handle(ctx, v, c)
	rep := c.Report
	want, werr := direct.call(ctx, "debug_getRawHeader", params)
	if werr != nil {
		t.Fatalf("the node: %v", werr)
	}
	if err != nil || string(got) != string(want) || rep.Class() != pipeline.ClassTrusted {
		t.Fatalf("debug_getRawHeader with one debug operator: %s %v, class %q; the node answers %s", got, err, rep.Class(), want)
	}
	for _, m := range []string{"eth_sendTransaction", "eth_signTransaction", "eth_sign", "personal_sendTransaction", "eth_sendRawTransactionConditional"} {
		if p := v.Policy(m); p != TrustOne {
			t.Errorf("%s: policy %s, want %s (a write must go to one provider)", m, p, TrustOne)
		}
	}
}

// TestPendingTransaction: a transaction in a provider's pool (here one
// that can never be mined: its nonce leaves a gap, so only the node it was
// sent to holds it) is answered as that node answers it, with one
// operator and with several, never -32012; its receipt is null.
func TestPendingTransaction(t *testing.T) {
	d, _ := sharedDevnet(t)
	ctx := testwait.Context(t, 2*time.Minute)
	direct := directCaller(t, d)
	keys := d.Keys()
	key := keys[len(keys)-1]
	cfg := verify.ChainConfigFor(d.Info().ChainID)
	to := common.Address{0xb0, 0xb}
	tx, err := types.SignNewTx(key, types.LatestSigner(cfg), &types.DynamicFeeTx{ChainID: cfg.ChainID, Nonce: 1 << 20,
		GasTipCap: big.NewInt(params.GWei), GasFeeCap: big.NewInt(100 * params.GWei), Gas: 21_000, To: &to, Value: big.NewInt(1)})
	if err != nil {
		t.Fatal(err)
	}
	bin, _ := tx.MarshalBinary()
	if _, err := direct.call(ctx, "eth_sendRawTransaction", verify.Params(hexutil.Bytes(bin))); err != nil {
		t.Fatalf("send: %v", err)
	}
	p := verify.Params(tx.Hash())
	want, err := direct.call(ctx, "eth_getTransactionByHash", p)
	if err != nil || isNull(want) {
		t.Fatalf("the node does not hold the transaction: %s %v", want, err)
	}
	for _, names := range [][]string{{"node1"}, {"node2", "node3", "node1"}} {
		t.Run(names[0], func(t *testing.T) {
			v, _, _ := gatewayStage(t, ctx, d, config.DefaultVerify(), names...)
			c := newCall("eth_getTransactionByHash", p)
			got, err := handle(ctx, v, c)
			rep := c.Report
			if err != nil || string(got) != string(want) {
				t.Fatalf("pending transaction: %s %v; node1 answers %s", got, err, want)
			}
			if rep.Class() != pipeline.ClassTrusted || !strings.Contains(rep.Note(), "pending") {
				t.Errorf("report %q", rep.Header())
			}
			got, err = handle(ctx, v, newCall("eth_getTransactionReceipt", p))
			if err != nil || string(got) != "null" {
				t.Errorf("receipt of a pending transaction: %s %v, want null", got, err)
			}
		})
	}
}

// TestAboveTheAgreedHead: a transaction mined in a block the providers
// serve but the gateway's head has not reached is, for its clients, not
// there yet: null, as from a node that has not imported the block (not
// -32012, which made ethers' tx.wait() fail behind HTTP-only providers).
func TestAboveTheAgreedHead(t *testing.T) {
	d, act := sharedDevnet(t)
	ctx := testwait.Context(t, 2*time.Minute)
	h := newHarness(t, d)
	tx := act.Txs[len(act.Txs)-1]
	raw, err := h.direct.call(ctx, "eth_getTransactionReceipt", verify.Params(tx))
	if err != nil {
		t.Fatal(err)
	}
	var rc struct {
		BlockNumber hexutil.Uint64 `json:"blockNumber"`
	}
	if err := json.Unmarshal(raw, &rc); err != nil || rc.BlockNumber == 0 {
		t.Fatalf("receipt %s: %v", raw, err)
	}
	below, err := h.direct.call(ctx, "eth_getBlockByNumber", verify.Params(hexutil.EncodeUint64(uint64(rc.BlockNumber)-1), false))
	if err != nil {
		t.Fatal(err)
	}
	anchor, err := verify.DecodeHeader(below)
	if err != nil {
		t.Fatal(err)
	}
	// The agreed head one block below the transaction's.
	h.v.o.Trust = verify.NewLinkedTrust(func() (uint64, common.Hash, bool) { return anchor.Number.Uint64(), anchor.Hash(), true },
		HeaderFetcher(h.asker, 5, nil), 1024, 1024)
	h.v.o.Latest = func() (uint64, bool) { return anchor.Number.Uint64(), true }
	for _, r := range []request{
		{"eth_getTransactionReceipt", verify.Params(tx)},
		{"eth_getTransactionByHash", verify.Params(tx)},
		{"eth_getBlockByNumber", verify.Params(hexutil.EncodeUint64(uint64(rc.BlockNumber)), false)},
	} {
		got, err := handle(ctx, h.v, newCall(r.method, r.params))
		if err != nil || string(got) != "null" {
			t.Errorf("%s %s above the agreed head: %s %v, want null", r.method, r.params, got, err)
		}
	}
}
