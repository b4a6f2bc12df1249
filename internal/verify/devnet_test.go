package verify

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/params"

	"github.com/rpcmesh/rpcmesh/internal/devnet"
	"github.com/rpcmesh/rpcmesh/internal/testwait"
)

// shared is the package's devnet, started by the first integration test
// that needs it (unit tests run without one) and stopped in TestMain.
var shared devnet.Shared

func TestMain(m *testing.M) { shared.Main(m) }

// activity is the shared devnet's activity (a contract that stores and
// logs, calls to it and transfers, in known blocks) and the chain's rules.
type activity struct {
	*devnet.Activity
	config *params.ChainConfig
}

// sharedDevnet starts the devnet and its activity once.
func sharedDevnet(t *testing.T) (*devnet.Devnet, *activity) {
	t.Helper()
	d, a := shared.Get(t)
	return d, &activity{Activity: a, config: ChainConfigFor(d.Info().ChainID)}
}

// caller is a Caller over one URL with its own connection pool.
func caller(t *testing.T, url string) Caller {
	t.Helper()
	c := devnet.DialRPC(t, url)
	return func(ctx context.Context, method string, params json.RawMessage) (json.RawMessage, error) {
		return devnet.CallRaw(ctx, c, method, params)
	}
}

// directCaller calls the devnet's honest node1 directly: the truth
// answers are compared with.
func directCaller(t *testing.T, d *devnet.Devnet) Caller {
	t.Helper()
	url, _ := d.DirectURL("node1")
	return caller(t, url)
}

// probe asks one provider one kind of question about block h and returns
// the answer the gateway would give (built from verified data) or the
// verification error. truth asks the honest direct node the same question.
type probe struct {
	name  string
	ask   func(ctx context.Context, call Caller, trust TrustSource, h *types.Header, i int) (json.RawMessage, json.RawMessage, error)
	truth func(ctx context.Context, direct Caller, h *types.Header, i int) (json.RawMessage, error)
}

func num(h *types.Header) string { return hexutil.EncodeUint64(h.Number.Uint64()) }

// stateProbe asks method (args at a header) and checks the claim against
// the account proven at that header; answer returns the proven answer, or
// the error of the check.
func stateProbe(name, method string, addr common.Address, slots []common.Hash, args func(h *types.Header) []any,
	answer func(claimed json.RawMessage, acc *Account) (json.RawMessage, error)) probe {
	return probe{name, func(ctx context.Context, call Caller, _ TrustSource, h *types.Header, _ int) (json.RawMessage, json.RawMessage, error) {
		acc, raw, err := ProveAccount(ctx, call, h, addr, slots)
		if err != nil {
			return nil, raw, err
		}
		claimed, err := call(ctx, method, Params(args(h)...))
		if err != nil {
			return nil, nil, err
		}
		out, err := answer(claimed, acc)
		if err != nil {
			return nil, claimed, err
		}
		return out, claimed, nil
	}, func(ctx context.Context, direct Caller, h *types.Header, _ int) (json.RawMessage, error) {
		return direct(ctx, method, Params(args(h)...))
	}}
}

// probes are the questions asked, each verified the way the gateway will.
func probes(act *activity) []probe {
	slot0 := common.Hash{}
	plain := func(method string, args func(h *types.Header, i int) []any) func(ctx context.Context, direct Caller, h *types.Header, i int) (json.RawMessage, error) {
		return func(ctx context.Context, direct Caller, h *types.Header, i int) (json.RawMessage, error) {
			return direct(ctx, method, Params(args(h, i)...))
		}
	}
	txAt := func(i int) common.Hash { return act.Txs[i%len(act.Txs)] }
	return []probe{
		stateProbe("balance", "eth_getBalance", act.Payer, nil, func(h *types.Header) []any { return []any{act.Payer, num(h)} },
			func(claimed json.RawMessage, acc *Account) (json.RawMessage, error) {
				return acc.BalanceJSON(), CheckBalance(claimed, acc)
			}),
		stateProbe("nonce", "eth_getTransactionCount", act.Payer, nil, func(h *types.Header) []any { return []any{act.Payer, num(h)} },
			func(claimed json.RawMessage, acc *Account) (json.RawMessage, error) {
				return acc.NonceJSON(), CheckNonce(claimed, acc)
			}),
		stateProbe("code", "eth_getCode", act.Contract, nil, func(h *types.Header) []any { return []any{act.Contract, num(h)} },
			func(claimed json.RawMessage, acc *Account) (json.RawMessage, error) {
				code, err := DecodeCode(claimed, acc)
				return mustMarshal(hexutil.Bytes(code)), err
			}),
		stateProbe("storage", "eth_getStorageAt", act.Contract, []common.Hash{slot0}, func(h *types.Header) []any { return []any{act.Contract, "0x0", num(h)} },
			func(claimed json.RawMessage, acc *Account) (json.RawMessage, error) {
				if err := CheckStorageAt(claimed, acc, slot0); err != nil {
					return nil, err
				}
				return acc.StorageJSON(slot0)
			}),
		{"proof", func(ctx context.Context, call Caller, _ TrustSource, h *types.Header, _ int) (json.RawMessage, json.RawMessage, error) {
			_, raw, err := ProveAccount(ctx, call, h, act.Contract, []common.Hash{slot0, {1}})
			if err != nil {
				return nil, raw, err
			}
			return raw, raw, nil
		}, plain("eth_getProof", func(h *types.Header, _ int) []any {
			return []any{act.Contract, []common.Hash{slot0, {1}}, num(h)}
		})},
		{"block", func(ctx context.Context, call Caller, _ TrustSource, h *types.Header, _ int) (json.RawMessage, json.RawMessage, error) {
			claimed, err := call(ctx, "eth_getBlockByNumber", Params(num(h), true))
			if err != nil {
				return nil, nil, err
			}
			b, err := VerifyBlock(claimed, act.config)
			if err != nil {
				return nil, claimed, err
			}
			if b.Hash != h.Hash() {
				return nil, claimed, &MismatchError{What: "hash", Claimed: b.Hash.Hex(), Proven: h.Hash().Hex(), Err: ErrHashMismatch}
			}
			out, err := b.JSON(true, act.config)
			return out, claimed, err
		}, plain("eth_getBlockByNumber", func(h *types.Header, _ int) []any { return []any{num(h), true} })},
		{"receipts", func(ctx context.Context, call Caller, _ TrustSource, h *types.Header, _ int) (json.RawMessage, json.RawMessage, error) {
			b, raw, err := FetchBlock(ctx, call, h.Hash(), act.config)
			if err != nil {
				return nil, raw, err
			}
			rs, raw, err := FetchReceipts(ctx, call, b, act.config)
			if err != nil {
				return nil, raw, err
			}
			out, err := rs.JSON()
			return out, raw, err
		}, plain("eth_getBlockReceipts", func(h *types.Header, _ int) []any { return []any{num(h)} })},
		{"receipt", func(ctx context.Context, call Caller, trust TrustSource, _ *types.Header, i int) (json.RawMessage, json.RawMessage, error) {
			claimed, b, bad, err := locatedBlock(ctx, call, trust, "eth_getTransactionReceipt", txAt(i), act.config)
			if err != nil {
				return nil, bad, err
			}
			rs, raw, err := FetchReceipts(ctx, call, b, act.config)
			if err != nil {
				return nil, raw, err
			}
			out, err := VerifyReceipt(claimed, txAt(i), rs)
			return out, claimed, err
		}, plain("eth_getTransactionReceipt", func(_ *types.Header, i int) []any { return []any{txAt(i)} })},
		{"transaction", func(ctx context.Context, call Caller, trust TrustSource, _ *types.Header, i int) (json.RawMessage, json.RawMessage, error) {
			claimed, b, bad, err := locatedBlock(ctx, call, trust, "eth_getTransactionByHash", txAt(i), act.config)
			if err != nil {
				return nil, bad, err
			}
			out, err := VerifyTransaction(claimed, txAt(i), b, act.config)
			return out, claimed, err
		}, plain("eth_getTransactionByHash", func(_ *types.Header, i int) []any { return []any{txAt(i)} })},
		{"logs", func(ctx context.Context, call Caller, trust TrustSource, h *types.Header, _ int) (json.RawMessage, json.RawMessage, error) {
			from, to := act.Blocks[0], act.Blocks[len(act.Blocks)-1] // every block with logs
			claimed, err := call(ctx, "eth_getLogs", Params(logFilter(act)))
			if err != nil {
				return nil, nil, err
			}
			derived, _, err := DeriveLogs(ctx, FetchedReceipts(call, act.config), trust, from, to, LogFilter{Addresses: []common.Address{act.Contract}}, 64)
			if err != nil {
				return nil, nil, err
			}
			out, err := VerifyLogs(claimed, derived)
			return out, claimed, err
		}, func(ctx context.Context, direct Caller, _ *types.Header, _ int) (json.RawMessage, error) {
			return direct(ctx, "eth_getLogs", Params(logFilter(act)))
		}},
	}
}

// locatedBlock asks call method about tx (a receipt or a transaction:
// each names its block) and fetches from call the block that the trusted
// header at that height names. On an error, bad is the answer that failed.
func locatedBlock(ctx context.Context, call Caller, trust TrustSource, method string, tx common.Hash, config *params.ChainConfig) (claimed json.RawMessage, b *Block, bad json.RawMessage, err error) {
	claimed, err = call(ctx, method, Params(tx))
	if err != nil {
		return nil, nil, nil, err
	}
	loc, err := DecodeTxLocation(claimed)
	if err != nil {
		return nil, nil, claimed, err
	}
	th, err := trust.HeaderByNumber(ctx, loc.BlockNumber) // the canonical block at that height
	if err != nil {
		return nil, nil, claimed, err
	}
	b, raw, err := FetchBlock(ctx, call, th.Hash(), config)
	if err != nil {
		return nil, nil, raw, err
	}
	return claimed, b, nil, nil
}

// logFilter selects the activity contract's logs over all activity blocks.
func logFilter(act *activity) map[string]any {
	return map[string]any{
		"fromBlock": hexutil.EncodeUint64(act.Blocks[0]),
		"toBlock":   hexutil.EncodeUint64(act.Blocks[len(act.Blocks)-1]),
		"address":   act.Contract,
	}
}

// mustFail names the probes a lie must make fail every time.
var mustFail = map[string][]string{
	devnet.LieBalance:     {"balance"},
	devnet.LieNonce:       {"nonce"},
	devnet.LieCode:        {"code"},
	devnet.LieStorage:     {"storage"},
	devnet.LieProof:       {"balance", "proof"},
	devnet.LieReceipt:     {"receipts", "receipt"},
	devnet.LieLog:         {"logs"},
	devnet.LieBlockHash:   {"block", "receipts", "receipt", "transaction"},
	devnet.LieBlockNumber: {"block", "receipts", "receipt", "transaction"},
}

// tally counts one run's outcomes.
type tally struct {
	asked, accepted, rejected, wrongAccepted int
	rejectedBy                               map[string]int
}

// run asks every probe of provider call about the activity blocks, checks
// every accepted answer against the honest direct node, and records
// rejections as evidence.
func run(t *testing.T, ctx context.Context, name string, call, direct Caller, trust TrustSource, act *activity, rounds int, log *EvidenceLog) tally {
	t.Helper()
	tl := tally{rejectedBy: map[string]int{}}
	for i := range rounds {
		n := act.Blocks[i%len(act.Blocks)]
		h, err := trust.HeaderByNumber(ctx, n)
		if err != nil {
			t.Fatalf("trusted header %d: %v", n, err)
		}
		for _, p := range probes(act) {
			tl.asked++
			got, claimed, err := p.ask(ctx, call, trust, h, i)
			if err != nil {
				tl.rejected++
				tl.rejectedBy[p.name]++
				log.Record(NewEvidence(name, p.name, nil, claimed, err))
				continue
			}
			tl.accepted++
			want, terr := p.truth(ctx, direct, h, i)
			if terr != nil {
				t.Fatalf("truth for %s: %v", p.name, terr)
			}
			if !sameJSON(got, want) {
				tl.wrongAccepted++
				t.Errorf("%s: %s at block %d: accepted %s, truth %s", name, p.name, n, excerpt(got), excerpt(want))
			}
		}
	}
	return tl
}

// directTrust trusts the honest direct node's headers, linked from its head.
func directTrust(t *testing.T, ctx context.Context, direct Caller) TrustSource {
	t.Helper()
	anchor := func() (uint64, common.Hash, bool) { return headerAt(ctx, direct, "latest") }
	return NewLinkedTrust(anchor, headersFrom(direct), 4096, 4096)
}

// headerAt is the number and hash of call's block at tag (a number or a
// tag), as a trust anchor; false when it has none.
func headerAt(ctx context.Context, call Caller, tag string) (uint64, common.Hash, bool) {
	raw, err := call(ctx, "eth_getBlockByNumber", Params(tag, false))
	if err != nil {
		return 0, common.Hash{}, false
	}
	h, err := DecodeHeader(raw)
	if err != nil {
		return 0, common.Hash{}, false
	}
	return h.Number.Uint64(), h.Hash(), true
}

// headersFrom fetches headers by hash from call, for a LinkedTrust.
func headersFrom(call Caller) func(ctx context.Context, hash common.Hash, _ uint64) (json.RawMessage, error) {
	return func(ctx context.Context, hash common.Hash, _ uint64) (json.RawMessage, error) {
		return call(ctx, "eth_getBlockByHash", Params(hash, false))
	}
}

func TestDevnetLiesAreRejected(t *testing.T) {
	d, act := sharedDevnet(t)
	ctx := testwait.Context(t, 8*time.Minute)
	direct := directCaller(t, d)
	trust := directTrust(t, ctx, direct)
	liarInfo, _ := d.Node("node2")
	honestInfo, _ := d.Node("node3")
	liar, honest := caller(t, liarInfo.HTTP), caller(t, honestInfo.HTTP)
	rounds := 4 / raceScale
	var total tally
	for _, lie := range devnet.LieTargets {
		t.Run(lie, func(t *testing.T) {
			d.Stage(t, devnet.FaultSpec{Target: "node2", Kind: devnet.FaultLie, Params: json.RawMessage(`{"what":["` + lie + `"]}`)})
			log := NewEvidenceLog(256)
			lt := run(t, ctx, "node2", liar, direct, trust, act, rounds, log)
			ht := run(t, ctx, "node3", honest, direct, trust, act, rounds, NewEvidenceLog(16))
			if ht.rejected != 0 {
				t.Errorf("honest node3: %d of %d answers rejected: %+v", ht.rejected, ht.asked, ht.rejectedBy)
			}
			for _, p := range mustFail[lie] {
				if lt.rejectedBy[p] != rounds {
					t.Errorf("lie %s: probe %s rejected %d of %d times", lie, p, lt.rejectedBy[p], rounds)
				}
			}
			if int(log.Total()) != lt.rejected {
				t.Errorf("evidence: %d records for %d rejections", log.Total(), lt.rejected)
			}
			for _, e := range log.Recent(0) {
				if e.Kind == "" || e.Provider != "node2" {
					t.Errorf("evidence without a kind or provider: %+v", e)
				}
			}
			if lt.wrongAccepted+ht.wrongAccepted != 0 {
				t.Errorf("tampered values accepted: liar %d, honest %d", lt.wrongAccepted, ht.wrongAccepted)
			}
			t.Logf("lie %-11s liar: %3d asked, %3d rejected %v; honest: %3d asked, %d rejected", lie, lt.asked, lt.rejected, lt.rejectedBy, ht.asked, ht.rejected)
			total.asked += lt.asked + ht.asked
			total.rejected += lt.rejected
			total.wrongAccepted += lt.wrongAccepted + ht.wrongAccepted
		})
	}
	t.Logf("total: %d verified questions, %d liar answers rejected, %d tampered values accepted", total.asked, total.rejected, total.wrongAccepted)
}

func TestDevnetAllLying(t *testing.T) {
	d, act := sharedDevnet(t)
	ctx := testwait.Context(t, 2*time.Minute)
	direct := directCaller(t, d)
	trust := directTrust(t, ctx, direct)
	d.Stage(t, devnet.FaultSpec{Target: "all", Kind: devnet.FaultLie, Params: json.RawMessage(`{}`)})
	for _, n := range d.Info().Nodes {
		log := NewEvidenceLog(64)
		tl := run(t, ctx, n.Name, caller(t, n.HTTP), direct, trust, act, 2, log)
		if tl.accepted != 0 {
			t.Errorf("%s lying about everything: %d of %d answers accepted", n.Name, tl.accepted, tl.asked)
		}
		kinds := map[string]int{}
		for _, e := range log.Recent(0) {
			kinds[e.Kind]++
		}
		t.Logf("%s: %d asked, %d rejected, by kind %v", n.Name, tl.asked, tl.rejected, kinds)
	}
}

func TestDevnetLinkedTrustFollowsHead(t *testing.T) {
	d, _ := sharedDevnet(t)
	ctx := testwait.Context(t, 2*time.Minute)
	direct := directCaller(t, d)
	node4, _ := d.Node("node4")
	any4 := caller(t, node4.HTTP)
	// The anchor comes from the honest node, a few blocks below its head so
	// that node4 surely has it; headers from node4 (any provider), checked by hash.
	anchor := func() (uint64, common.Hash, bool) {
		raw, err := direct(ctx, "eth_blockNumber", Params())
		var n hexutil.Uint64
		if err != nil || json.Unmarshal(raw, &n) != nil || n < 4 {
			return 0, common.Hash{}, false
		}
		return headerAt(ctx, direct, hexutil.EncodeUint64(uint64(n)-3))
	}
	tr := NewLinkedTrust(anchor, headersFrom(any4), 4096, 64)
	top, _, ok := anchor()
	if !ok {
		t.Fatal("no anchor")
	}
	var headers []*types.Header
	for n := top - min(top, 32); n <= top; n++ { // the last 32 blocks: bounded under -race too
		h, err := tr.HeaderByNumber(ctx, n)
		if err != nil {
			t.Fatalf("header %d: %v", n, err)
		}
		headers = append(headers, h)
	}
	if err := VerifyChain(headers); err != nil {
		t.Fatal(err)
	}
	// With node4 lying about block hashes, no header from it is trusted.
	d.Stage(t, devnet.FaultSpec{Target: "node4", Kind: devnet.FaultLie, Params: json.RawMessage(`{"what":["blockhash"]}`)})
	fresh := NewLinkedTrust(func() (uint64, common.Hash, bool) {
		h, err := tr.HeaderByNumber(ctx, top)
		if err != nil {
			return 0, common.Hash{}, false
		}
		return top, h.Hash(), true
	}, headersFrom(any4), 4096, 64)
	if _, err := fresh.HeaderByNumber(ctx, top-1); err == nil {
		t.Fatal("header from a node lying about hashes was trusted")
	}
}
