package verification

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/rpcmesh/rpcmesh/internal/config"
	"github.com/rpcmesh/rpcmesh/internal/devnet"
	"github.com/rpcmesh/rpcmesh/internal/head"
	"github.com/rpcmesh/rpcmesh/internal/jsonrpc"
	"github.com/rpcmesh/rpcmesh/internal/pipeline"
	"github.com/rpcmesh/rpcmesh/internal/testwait"
	"github.com/rpcmesh/rpcmesh/internal/verify"
)

// oldRequests are reads at the activity's blocks, by number and by hash.
func oldRequests(t *testing.T, ctx context.Context, direct *rpcCaller, act *devnet.Activity) []request {
	t.Helper()
	p := verify.Params
	var out []request
	for i, b := range act.Blocks {
		n := hexutil.EncodeUint64(b)
		raw, err := direct.call(ctx, "eth_getBlockByNumber", p(n, false))
		if err != nil {
			t.Fatal(err)
		}
		var blk struct{ Hash common.Hash }
		if err := json.Unmarshal(raw, &blk); err != nil {
			t.Fatal(err)
		}
		acct := act.Accounts()[i%len(act.Accounts())]
		out = append(out,
			request{"eth_getBalance", p(acct, n)},
			request{"eth_getTransactionCount", p(act.Payer, n)},
			request{"eth_getStorageAt", p(act.Contract, "0x0", n)},
			request{"eth_getCode", p(act.Contract, n)},
			request{"eth_getBalance", p(act.Contract, map[string]any{"blockHash": blk.Hash, "requireCanonical": true})},
			request{"eth_getBlockByNumber", p(n, i%2 == 0)},
			request{"eth_getBlockReceipts", p(n)},
			request{"eth_getLogs", p(map[string]any{"fromBlock": n, "toBlock": n})},
			request{"eth_getLogs", p(map[string]any{"blockHash": blk.Hash})},
		)
	}
	for _, tx := range act.Txs {
		out = append(out, request{"eth_getTransactionReceipt", p(tx)})
	}
	return out
}

// TestOldBlocksThroughGateway: with the gateway's own parts and a walk
// limit of one block, reads at blocks further below the agreed head
// answer as the node does (their headers agreed by distinct operators),
// labelled as such, instead of -32012.
func TestOldBlocksThroughGateway(t *testing.T) {
	d, act := sharedDevnet(t)
	ctx := testwait.Context(t, 6*time.Minute)
	const walk = 1
	tracker := head.NewTracker(2, 8, nil)
	// An agreed head past the activity by more than the walk limit.
	router, _ := gatewayProviders(t, ctx, d, tracker, act.Blocks[len(act.Blocks)-1]+walk+2, nil)
	vc := config.DefaultVerify()
	vc.MaxWalkBlocks = walk
	v := FromGateway(Gateway{Chain: "devnet", ChainID: d.Info().ChainID, Config: vc, Head: tracker, Router: router,
		Evidence: verify.NewEvidenceLog(1024)})(nil)
	direct := directCaller(t, d)

	labelled := 0
	reqs := oldRequests(t, ctx, direct, act)
	for _, r := range reqs {
		c := newCall(r.method, r.params)
		got, err := handle(ctx, v, c)
		rep := c.Report
		if err != nil {
			t.Errorf("%s %s: %v", r.method, r.params, err)
			continue
		}
		want, err := direct.call(ctx, r.method, r.params)
		if err != nil {
			t.Fatalf("truth for %s: %v", r.method, err)
		}
		if !sameAnswer(got, want) {
			t.Errorf("%s %s:\n got  %.300s\n want %.300s", r.method, r.params, got, want)
		}
		if strings.Contains(rep.Header(), "header=agreed") {
			labelled++
		} else if rep.Class() == pipeline.ClassProof {
			t.Errorf("%s %s: proven at an old block, labelled %q", r.method, r.params, rep.Header())
		}
	}
	if labelled == 0 {
		t.Errorf("no answer labelled header=agreed")
	}

	// verify.agree_old_headers: false turns it off: no trusted header.
	vc.AgreeOldHeaders = false
	off := FromGateway(Gateway{Chain: "devnet", ChainID: d.Info().ChainID, Config: vc, Head: tracker, Router: router})(nil)
	r := reqs[0]
	_, err := handle(ctx, off, newCall(r.method, r.params))
	var je *jsonrpc.Error
	if !errors.As(err, &je) || je.Code != CodeUnverified {
		t.Errorf("agree_old_headers off: %s %s: %v, want -32012", r.method, r.params, err)
	}
	t.Logf("%d reads beyond the walk limit of %d: answered as the node, %d labelled header=agreed", len(reqs), walk, labelled)
}

// forging is an Asker whose liars answer eth_getBlockByNumber with a
// header whose state root is made up and whose hash is recomputed: a
// self-consistent lie about the old block's header.
type forging struct {
	*nodeAsker
	liars map[string]bool
}

func (f forging) forge(req Request, a Answer) Answer {
	if req.Method != "eth_getBlockByNumber" || !f.liars[a.Provider] || a.Err != nil || isNull(a.Value) {
		return a
	}
	var m map[string]json.RawMessage
	h := new(types.Header)
	if json.Unmarshal(a.Value, &m) != nil || json.Unmarshal(a.Value, h) != nil {
		return a
	}
	h.Root = crypto.Keccak256Hash(h.Root[:])
	m["stateRoot"], _ = json.Marshal(h.Root)
	m["hash"], _ = json.Marshal(h.Hash())
	a.Value, _ = json.Marshal(m)
	return a
}

func (f forging) Ask(ctx context.Context, req Request, avoid map[string]bool) Answer {
	return f.forge(req, f.nodeAsker.Ask(ctx, req, avoid))
}

func (f forging) AskProvider(ctx context.Context, name string, req Request) Answer {
	return f.forge(req, f.nodeAsker.AskProvider(ctx, name, req))
}

func (f forging) AskDistinct(ctx context.Context, req Request, k int, skip Skip) []Answer {
	out := f.nodeAsker.AskDistinct(ctx, req, k, skip)
	for i := range out {
		out[i] = f.forge(req, out[i])
	}
	return out
}

// TestOldHeaderLiars: an operator lying about an old block's header
// (a made-up state root with its hash recomputed, or a wrong hash field)
// never gets its answer to a client: with another operator to outvote it
// the answer is the node's; with one other it is the node's or -32012; alone
// (head_agreement 1) state reads are proven against its header and fail,
// -32012. An operator whose honest header was outvoted is not penalised.
func TestOldHeaderLiars(t *testing.T) {
	d, act := sharedDevnet(t)
	ctx := testwait.Context(t, 6*time.Minute)
	direct := directCaller(t, d)
	anchor := directAnchor(direct)
	const walk = 1
	last := act.Blocks[len(act.Blocks)-1]
	if err := testwait.Until(ctx, "the head past the activity", func() bool { n, _, ok := anchor(); return ok && n > last+walk+1 }); err != nil {
		t.Fatal(err)
	}
	all := oldRequests(t, ctx, direct, act)
	var state []request
	for _, r := range all {
		switch r.method {
		case "eth_getBalance", "eth_getTransactionCount", "eth_getStorageAt", "eth_getCode":
			state = append(state, r)
		}
	}
	for _, tc := range []struct {
		name     string
		nodes    []string
		agree    int
		forge    bool   // the liar forges a consistent header
		lie      string // or a devnet lie fault
		reqs     []request
		allRight bool // honest operators outvote the liar: no errors
		blamed   bool // the liar's header is provably wrong (its own hash field): it is penalised
	}{
		{"outvoted", []string{"node2", "node1", "node3"}, 2, true, "", all, true, false},
		{"one against one", []string{"node2", "node1"}, 2, true, "", all, false, false},
		{"alone, forged header", []string{"node2"}, 1, true, "", state, false, false},
		{"alone, wrong hash field", []string{"node2"}, 1, false, devnet.LieBlockHash, all, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base := newNodeAsker(t, d)
			base.names, base.first = tc.nodes, []string{"node2"}
			asker := forging{nodeAsker: base, liars: map[string]bool{"node2": tc.forge}}
			if tc.lie != "" {
				d.Stage(t, devnet.FaultSpec{Target: "node2", Kind: devnet.FaultLie, Params: json.RawMessage(`{"what":["` + tc.lie + `"]}`)})
			}
			onLie := func(a Answer, _ error) { asker.Penalise(a.Provider, "header") }
			trust := verify.NewLinkedTrust(anchor, HeaderFetcher(asker, 5, onLie), walk, 4096).
				WithAgreedHeaders(AgreedHeader(asker, tc.agree, 3, onLie))
			v := New(nil, Options{Chain: "devnet", ChainConfig: verify.ChainConfigFor(d.Info().ChainID), Trust: trust, Asker: asker,
				Attempts: 5, Latest: func() (uint64, bool) { n, _, ok := anchor(); return n, ok }})
			var right, refused int
			for _, r := range tc.reqs {
				got, err := handle(ctx, v, newCall(r.method, r.params))
				if err != nil {
					var je *jsonrpc.Error
					if !errors.As(err, &je) || je.Code != CodeUnverified {
						t.Errorf("%s %s: %v, want -32012", r.method, r.params, err)
					}
					refused++
					if testing.Verbose() {
						t.Logf("%s %s: %v", r.method, r.params, err)
					}
					continue
				}
				want, err := direct.call(ctx, r.method, r.params)
				if err != nil {
					t.Fatalf("truth for %s: %v", r.method, err)
				}
				if !sameAnswer(got, want) {
					t.Errorf("WRONG ANSWER reached the client: %s %s\n got  %.300s\n want %.300s", r.method, r.params, got, want)
					continue
				}
				right++
			}
			if tc.allRight && refused != 0 {
				t.Errorf("%d of %d refused although honest operators outvote the liar", refused, len(tc.reqs))
			}
			if tc.blamed && base.penalised("node2") == 0 {
				t.Errorf("the liar was not penalised")
			}
			for _, n := range tc.nodes {
				if n != "node2" && base.penalised(n) > 0 {
					t.Errorf("honest %s penalised %d times", n, base.penalised(n))
				}
			}
			t.Logf("%d calls: %d as the node, %d refused, 0 wrong", len(tc.reqs), right, refused)
		})
	}
}
