package verification

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/rpc"

	"github.com/rpcmesh/rpcmesh/internal/devnet"
	"github.com/rpcmesh/rpcmesh/internal/jsonrpc"
	"github.com/rpcmesh/rpcmesh/internal/pipeline"
	"github.com/rpcmesh/rpcmesh/internal/testwait"
	"github.com/rpcmesh/rpcmesh/internal/verify"
)

// shared is the package's devnet, started by the first test that needs it.
var shared devnet.Shared

func TestMain(m *testing.M) { shared.Main(m) }

func sharedDevnet(t testing.TB) (*devnet.Devnet, *devnet.Activity) {
	t.Helper()
	return shared.Get(t)
}

// rpcCaller calls one URL.
type rpcCaller struct{ c *rpc.Client }

func dialCaller(t testing.TB, url string) *rpcCaller {
	t.Helper()
	return &rpcCaller{devnet.DialRPC(t, url)}
}

// directCaller calls the devnet's honest node1 directly: the truth
// answers are compared with.
func directCaller(t testing.TB, d *devnet.Devnet) *rpcCaller {
	t.Helper()
	url, _ := d.DirectURL("node1")
	return dialCaller(t, url)
}

// call is a verify.Caller over the URL; a node's JSON-RPC error comes back
// as a *jsonrpc.Error, as the gateway's providers give it.
func (r *rpcCaller) call(ctx context.Context, method string, params json.RawMessage) (json.RawMessage, error) {
	out, err := devnet.CallRaw(ctx, r.c, method, params)
	var re rpc.Error
	if errors.As(err, &re) {
		je := &jsonrpc.Error{Code: re.ErrorCode(), Message: re.Error()}
		var de rpc.DataError
		if errors.As(err, &de) {
			je.Data, _ = json.Marshal(de.ErrorData())
		}
		return nil, je
	}
	return out, err
}

// nodeAsker is an Asker over the devnet's nodes (through their fault
// proxies). It asks the nodes in first before any other (the tests put the
// liars there: the worst case), then the others starting at the next one
// in turn.
type nodeAsker struct {
	names     []string
	operators map[string]string
	callers   map[string]*rpcCaller

	first []string

	mu        sync.Mutex
	next      int
	batches   int // AskBatch calls
	penalties map[string]int
}

func newNodeAsker(t testing.TB, d *devnet.Devnet) *nodeAsker {
	a := &nodeAsker{operators: map[string]string{}, callers: map[string]*rpcCaller{}, penalties: map[string]int{}}
	for _, n := range d.Info().Nodes {
		a.names = append(a.names, n.Name)
		a.operators[n.Name] = n.Labels.Operator
		a.callers[n.Name] = dialCaller(t, n.HTTP)
	}
	return a
}

func (a *nodeAsker) answer(ctx context.Context, name string, req Request) Answer {
	v, err := a.callers[name].call(ctx, req.Method, req.Params)
	return Answer{Provider: name, Operator: a.operators[name], Value: v, Err: err}
}

func (a *nodeAsker) Ask(ctx context.Context, req Request, avoid map[string]bool) Answer {
	a.mu.Lock()
	start := a.next
	a.next++
	a.mu.Unlock()
	for _, name := range a.first {
		if !avoid[name] {
			return a.answer(ctx, name, req)
		}
	}
	for k := range a.names {
		if name := a.names[(start+k)%len(a.names)]; !avoid[name] {
			return a.answer(ctx, name, req)
		}
	}
	return Answer{Err: ErrNoProvider}
}

func (a *nodeAsker) AskProvider(ctx context.Context, name string, req Request) Answer {
	return a.answer(ctx, name, req)
}

func (a *nodeAsker) AskDistinct(ctx context.Context, req Request, k int, skip Skip) []Answer {
	var out []Answer
	for _, name := range a.names {
		if len(out) == k {
			break
		}
		if !skip.Providers[name] && !skip.Operators[a.operators[name]] {
			out = append(out, a.answer(ctx, name, req))
		}
	}
	return out
}

func (a *nodeAsker) penalised(name string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.penalties[name]
}

func (a *nodeAsker) Penalise(provider, _ string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.penalties[provider]++
}

// request is one client call and how to get the truth for it.
type request struct {
	method string
	params json.RawMessage
}

// requests builds a mix of calls at the activity's blocks.
func requests(act *devnet.Activity, rounds int) []request {
	p := verify.Params
	var out []request
	for i := range rounds {
		n := hexutil.EncodeUint64(act.Blocks[i%len(act.Blocks)])
		acct := act.Accounts()[i%len(act.Accounts())]
		tx := act.Txs[i%len(act.Txs)]
		out = append(out,
			request{"eth_getBalance", p(acct, n)},
			request{"eth_getTransactionCount", p(acct, n)},
			request{"eth_getCode", p(act.Contract, n)},
			request{"eth_getStorageAt", p(act.Contract, "0x0", n)},
			request{"eth_getProof", p(act.Contract, []string{"0x0", "0x1"}, n)},
			request{"eth_getBlockByNumber", p(n, i%2 == 0)},
			request{"eth_getBlockReceipts", p(n)},
			request{"eth_getTransactionReceipt", p(tx)},
			request{"eth_getTransactionByHash", p(tx)},
			request{"eth_getLogs", p(map[string]any{"fromBlock": hexutil.EncodeUint64(act.Blocks[0]), "toBlock": n, "address": act.Contract})},
		)
	}
	return out
}

// harness is a stage over the devnet with a trusted anchor from the honest
// direct node (the gateway takes it from operator agreement).
type harness struct {
	v        *Verifier
	asker    *nodeAsker
	evidence *verify.EvidenceLog
	direct   *rpcCaller
}

func newHarness(t testing.TB, d *devnet.Devnet) *harness {
	t.Helper()
	direct := directCaller(t, d)
	asker := newNodeAsker(t, d)
	anchor := directAnchor(direct)
	ev := verify.NewEvidenceLog(4096)
	trust := verify.NewLinkedTrust(anchor, HeaderFetcher(asker, 5, nil), 1024, 4096)
	trustOne := perCall(func(ctx context.Context, c *pipeline.Call) (json.RawMessage, error) {
		a := asker.Ask(ctx, Request{Method: c.Method, Params: c.Params}, nil)
		c.Provider = a.Provider
		return a.Value, a.Err
	})
	v := New(trustOne, Options{
		Chain: "devnet", ChainConfig: verify.ChainConfigFor(d.Info().ChainID), Trust: trust, Asker: asker, Evidence: ev,
		Attempts: 5, CheckPlain: true, Latest: func() (uint64, bool) { n, _, ok := anchor(); return n, ok },
		FullBlockCache: 128, FullBlockCacheBytes: 64 << 20, // the defaults
	})
	return &harness{v: v, asker: asker, evidence: ev, direct: direct}
}

// directAnchor is the honest direct node's head, as a trust anchor.
func directAnchor(direct *rpcCaller) verify.Anchor {
	return func() (uint64, common.Hash, bool) {
		raw, err := direct.call(context.Background(), "eth_getBlockByNumber", verify.Params("latest", false))
		if err != nil {
			return 0, common.Hash{}, false
		}
		h, err := verify.DecodeHeader(raw)
		if err != nil {
			return 0, common.Hash{}, false
		}
		return h.Number.Uint64(), h.Hash(), true
	}
}

// outcome counts what clients got.
type outcome struct{ correct, errors, wrong int }

// serve sends every request through the stage and compares each answer
// with the honest direct node's.
func (h *harness) serve(t *testing.T, ctx context.Context, reqs []request) outcome {
	t.Helper()
	var o outcome
	for _, r := range reqs {
		c := newCall(r.method, r.params)
		got, err := handle(ctx, h.v, c)
		rep := c.Report
		if err != nil {
			o.errors++
			if testing.Verbose() {
				t.Logf("%s %s: %v", r.method, r.params, err)
			}
			var je *jsonrpc.Error
			if !errors.As(err, &je) {
				t.Errorf("%s: error is not a JSON-RPC error: %v", r.method, err)
			}
			continue
		}
		want, werr := h.direct.call(ctx, r.method, r.params)
		if werr != nil {
			t.Fatalf("truth for %s: %v", r.method, werr)
		}
		if !sameAnswer(got, want) {
			o.wrong++
			t.Errorf("WRONG ANSWER reached the client: %s %s\n got  %.300s\n want %.300s", r.method, r.params, got, want)
			continue
		}
		if rep.Class() == "" {
			t.Errorf("%s: no report", r.method)
		}
		o.correct++
	}
	return o
}

// sameAnswer compares answers as JSON, ignoring hex case.
func sameAnswer(a, b json.RawMessage) bool { return canonical(a) == canonical(b) }

func TestStageAgainstLiars(t *testing.T) {
	d, act := sharedDevnet(t)
	ctx := testwait.Context(t, 10*time.Minute)
	for _, liars := range [][]string{{"node2"}, {"node2", "node4"}} {
		for _, lie := range devnet.LieTargets {
			t.Run(fmt.Sprintf("%d liars/%s", len(liars), lie), func(t *testing.T) {
				h := newHarness(t, d)
				h.asker.first = liars
				for _, l := range liars {
					d.Stage(t, devnet.FaultSpec{Target: l, Kind: devnet.FaultLie, Params: json.RawMessage(`{"what":["` + lie + `"]}`)})
				}
				o := h.serve(t, ctx, requests(act, 10/raceScale))
				if o.wrong != 0 {
					t.Fatalf("%d wrong answers reached clients", o.wrong)
				}
				if o.errors != 0 {
					t.Errorf("%d of %d calls failed although honest providers were there", o.errors, o.correct+o.errors)
				}
				caught := map[string]int{}
				for _, e := range h.evidence.Recent(0) {
					caught[e.Provider]++
					if e.Kind == "" || e.Method == "" || e.Answer == "" && e.Kind != "malformed" {
						t.Errorf("incomplete evidence: %+v", e)
					}
				}
				// A lie in the provider's own data makes the stage ask the next
				// provider, so every liar is met; a lie beside a proven answer
				// (balance, nonce, storage, logs) is recorded, but the proven
				// answer is returned without asking the second liar.
				retried := map[string]bool{devnet.LieProof: true, devnet.LieReceipt: true, devnet.LieCode: true,
					devnet.LieBlockHash: true, devnet.LieBlockNumber: true}
				met := 0
				for _, l := range liars {
					if caught[l] > 0 && h.asker.penalised(l) > 0 {
						met++
					}
				}
				if met == 0 || (retried[lie] && met != len(liars)) {
					t.Errorf("liars %v caught: evidence %v", liars, caught)
				}
				for name, n := range caught {
					if !contains(liars, name) {
						t.Errorf("honest %s blamed %d times", name, n)
					}
				}
				t.Logf("%d correct, %d errors, 0 wrong; evidence %v", o.correct, o.errors, caught)
			})
		}
	}
}

func TestStageAllLying(t *testing.T) {
	d, act := sharedDevnet(t)
	ctx := testwait.Context(t, 6*time.Minute)
	h := newHarness(t, d)
	// The trusted anchor and headers still come from an honest source (in
	// the gateway: operator agreement before the lies, or a light client).
	h.v.o.Trust = verify.NewLinkedTrust(directAnchor(h.direct), func(ctx context.Context, hash common.Hash, _ uint64) (json.RawMessage, error) {
		return h.direct.call(ctx, "eth_getBlockByHash", verify.Params(hash, false))
	}, 1024, 1024)
	d.Stage(t, devnet.FaultSpec{Target: "all", Kind: devnet.FaultLie, Params: json.RawMessage(`{}`)})
	reqs := requests(act, max(1, 3/raceScale))
	o := h.serve(t, ctx, reqs)
	if o.wrong != 0 {
		t.Fatalf("%d wrong answers reached clients", o.wrong)
	}
	t.Logf("all lying: %d calls, %d errors, %d correct (answers no lie touched), %d evidence records", len(reqs), o.errors, o.correct, h.evidence.Total())
	if o.errors < len(reqs)/2 {
		t.Errorf("only %d of %d calls refused while every provider lies", o.errors, len(reqs))
	}
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}
