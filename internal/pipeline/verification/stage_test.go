package verification

import (
	"context"
	"encoding/json"
	"errors"
	"math/big"
	"strings"
	"sync"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/rawdb"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethdb/memorydb"
	"github.com/ethereum/go-ethereum/rlp"
	"github.com/ethereum/go-ethereum/trie"
	"github.com/ethereum/go-ethereum/triedb"
	"github.com/holiman/uint256"

	"github.com/rpcmesh/rpcmesh/internal/config"
	"github.com/rpcmesh/rpcmesh/internal/jsonrpc"
	"github.com/rpcmesh/rpcmesh/internal/pipeline"
	"github.com/rpcmesh/rpcmesh/internal/verify"
)

// fakeAsker answers from a table of provider → answer.
type fakeAsker struct {
	mu      sync.Mutex
	order   []string
	ops     map[string]string
	answers map[string]Answer
	asked   []string
}

func (f *fakeAsker) answer(name string) Answer {
	f.mu.Lock()
	f.asked = append(f.asked, name)
	f.mu.Unlock()
	a := f.answers[name]
	a.Provider, a.Operator = name, f.ops[name]
	return a
}

func (f *fakeAsker) Ask(_ context.Context, _ Request, avoid map[string]bool) Answer {
	for _, n := range f.order {
		if !avoid[n] {
			return f.answer(n)
		}
	}
	return Answer{Err: ErrNoProvider}
}

func (f *fakeAsker) AskProvider(_ context.Context, name string, _ Request) Answer {
	return f.answer(name)
}

func (f *fakeAsker) AskDistinct(_ context.Context, _ Request, k int, skip Skip) []Answer {
	var out []Answer
	seen := map[string]bool{}
	for _, n := range f.order {
		if skip.Providers[n] || skip.Operators[f.ops[n]] {
			continue
		}
		if !seen[f.ops[n]] && len(out) < k {
			seen[f.ops[n]] = true
			out = append(out, f.answer(n))
		}
	}
	return out
}

func (f *fakeAsker) Penalise(string, string) {}

func ok(v string) Answer { return Answer{Value: json.RawMessage(v)} }

func newFake(answers ...Answer) *fakeAsker {
	f := &fakeAsker{ops: map[string]string{}, answers: map[string]Answer{}}
	for i, a := range answers {
		n := string(rune('a' + i))
		f.order = append(f.order, n)
		f.ops[n] = "op-" + n
		f.answers[n] = a
	}
	return f
}

func TestQuorum(t *testing.T) {
	revert := &jsonrpc.Error{Code: 3, Message: "execution reverted", Data: json.RawMessage(`"0x08c379a0"`)}
	tests := []struct {
		name    string
		method  string
		answers []Answer
		quorum  int
		want    string
		code    int
		ops     string
		blamed  string // provider recorded as evidence
	}{
		{"agree", "eth_call", []Answer{ok(`"0xAB"`), ok(`"0xab"`)}, 2, `"0xAB"`, 0, "op-a,op-b", ""},
		{"disagree", "eth_call", []Answer{ok(`"0x01"`), ok(`"0x02"`)}, 2, ``, CodeUnverified, "", ""},
		{"agreed revert", "eth_call", []Answer{{Err: revert}, {Err: revert}}, 2, ``, 3, "op-a,op-b", ""},
		{"transport failure is no vote", "eth_call", []Answer{ok(`"0x01"`), {Err: errors.New("dial")}}, 2, ``, CodeUnverified, "", ""},
		{"two of three", "eth_estimateGas", []Answer{ok(`"0x5208"`), ok(`"0x5209"`), ok(`"0x5208"`)}, 3, ``, CodeUnverified, "", ""},
		{"median", "eth_gasPrice", []Answer{ok(`"0x1"`), ok(`"0x9"`), ok(`"0x3"`)}, 3, `"0x3"`, 0, "op-a,op-b,op-c", ""},
		// Two answers: the lower one, never their mean (a liar could set a mean).
		{"median of two", "eth_gasPrice", []Answer{ok(`"0x2"`), ok(`"0x4"`)}, 2, `"0x2"`, 0, "op-a,op-b", ""},
		// Fee methods ask three operators even with quorum 2: one liar
		// cannot move the answer beyond the honest ones, up or down.
		{"one liar cannot raise the fee", "eth_gasPrice", []Answer{ok(`"0x100000"`), ok(`"0x2"`), ok(`"0x3"`)}, 2, `"0x3"`, 0, "op-a,op-b,op-c", ""},
		{"one liar cannot lower the fee", "eth_maxPriorityFeePerGas", []Answer{ok(`"0x0"`), ok(`"0x2"`), ok(`"0x3"`)}, 2, `"0x2"`, 0, "op-a,op-b,op-c", ""},
		// Honest clients differ on gas estimates: a minority is no liar.
		{"estimate minority not blamed", "eth_estimateGas", []Answer{ok(`"0x5208"`), ok(`"0x5300"`), ok(`"0x5208"`)}, 2, `"0x5208"`, 0, "op-a,op-c", ""},
		{"median short", "eth_gasPrice", []Answer{ok(`"0x2"`), ok(`"junk"`)}, 2, ``, CodeUnverified, "", ""},
		{"object keys in any order", "eth_feeHistory", []Answer{ok(`{"a":1,"b":[2]}`), ok(`{"b":[2],"a":1}`)}, 2, `{"a":1,"b":[2]}`, 0, "op-a,op-b", ""},
		{"failed vote replaced by another operator", "eth_call", []Answer{ok(`"0x01"`), {Err: errors.New("dial")}, ok(`"0x01"`)}, 2, `"0x01"`, 0, "op-a,op-c", ""},
		{"split vote broken by a third operator", "eth_call", []Answer{ok(`"0x01"`), ok(`"0x02"`), ok(`"0x01"`)}, 2, `"0x01"`, 0, "op-a,op-c", "b"},
		{"median after a failed vote", "eth_gasPrice", []Answer{ok(`"0x2"`), {Err: errors.New("dial")}, ok(`"0x4"`), ok(`"0x3"`)}, 2, `"0x3"`, 0, "op-a,op-c,op-d", ""},
		{"median after a node error", "eth_gasPrice", []Answer{{Err: jsonrpc.Errorf(-32603, "internal error")}, ok(`"0x2"`), ok(`"0x4"`)}, 2, `"0x2"`, 0, "op-b,op-c", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(tt.answers...)
			ev := verify.NewEvidenceLog(10)
			v := New(nil, Options{Asker: f, Trust: verify.NewStaticTrust(), Quorum: tt.quorum, Evidence: ev})
			c := pipeline.NewCall(tt.method, json.RawMessage(`[]`))
			c.HasBlock = true // pinned to an agreed block, as the blocktag stage does
			got, err := handle(context.Background(), v, c)
			rep := c.Report
			var je *jsonrpc.Error
			if tt.code != 0 {
				if !errors.As(err, &je) || je.Code != tt.code {
					t.Fatalf("got %s %v, want code %d", got, err, tt.code)
				}
			} else if err != nil || string(got) != tt.want {
				t.Fatalf("got %s %v, want %s", got, err, tt.want)
			}
			if tt.ops != "" && strings.Join(rep.Operators(), ",") != tt.ops {
				t.Fatalf("operators %v, want %s", rep.Operators(), tt.ops)
			}
			if tt.ops != "" && rep.Class() != pipeline.ClassQuorum {
				t.Fatalf("class %q", rep.Class())
			}
			var blamed []string
			for _, e := range ev.Recent(0) {
				blamed = append(blamed, e.Provider)
			}
			if strings.Join(blamed, ",") != tt.blamed {
				t.Fatalf("evidence against %v, want %q", blamed, tt.blamed)
			}
		})
	}
}

func TestPolicies(t *testing.T) {
	next := perCall(func(_ context.Context, c *pipeline.Call) (json.RawMessage, error) {
		c.Provider = "p"
		return json.RawMessage(`"next"`), nil
	})
	f := newFake(ok(`"0x1"`), ok(`"0x1"`))
	v := New(next, Options{Asker: f, Trust: verify.NewStaticTrust(), Policies: map[string]Policy{"eth_call": TrustOne}})
	ctx := context.Background()
	c := newCall("eth_call", nil)
	if got, err := handle(ctx, v, c); err != nil || string(got) != `"next"` || c.Report.Class() != pipeline.ClassTrusted {
		t.Fatalf("trust-one override: %s %v %q", got, err, c.Report.Class())
	}
	if v.Policy("eth_getBalance") != Proof || v.Policy("something_unknown") != Quorum || v.Policy("eth_sendRawTransaction") != TrustOne {
		t.Fatal("default policies")
	}
	// A proof-policy call about the pending block falls back to quorum, and says so.
	c = newCall("eth_getBalance", json.RawMessage(`["0x0000000000000000000000000000000000000001","pending"]`))
	got, err := handle(ctx, v, c)
	rep := c.Report
	if err != nil || string(got) != `"0x1"` || rep.Class() != pipeline.ClassQuorum || !strings.Contains(rep.Header(), "pending") {
		t.Fatalf("pending: %s %v %q", got, err, rep.Header())
	}
	// No trusted header: an error, unless quorum is allowed as a fallback.
	noTrust := func() *pipeline.Call {
		return newCall("eth_getBalance", json.RawMessage(`["0x0000000000000000000000000000000000000001","0x10"]`))
	}
	var je *jsonrpc.Error
	if _, err := handle(ctx, v, noTrust()); !errors.As(err, &je) || je.Code != CodeUnverified || !strings.Contains(string(je.Data), "no_trust") {
		t.Fatalf("no trust: %v", err)
	}
	lenient := New(next, Options{Asker: f, Trust: verify.NewStaticTrust(), FallbackToQuorum: true})
	c = noTrust()
	if _, err := handle(ctx, lenient, c); err != nil || !strings.Contains(c.Report.Note(), "no trusted header") {
		t.Fatalf("no trust, fallback allowed: %v %q", err, c.Report.Note())
	}
	// A block param that is not one is refused by the block-tag stage.
	for _, bad := range []string{`["nope","0x1"]`, `{}`} {
		_, err := handle(ctx, v, newCall("eth_getBalance", json.RawMessage(bad)))
		if !errors.As(err, &je) || je.Code != jsonrpc.CodeInvalidParams {
			t.Errorf("%s: %v", bad, err)
		}
	}
}

func TestProofFailures(t *testing.T) {
	h := &types.Header{Number: big.NewInt(16), Root: common.Hash{7}, Difficulty: big.NewInt(0)}
	trust := verify.NewStaticTrust(h)
	call := func(f *fakeAsker) (*pipeline.Report, error) {
		v := New(nil, Options{Asker: f, Trust: trust, FallbackToQuorum: true})
		c := newCall("eth_getBalance", json.RawMessage(`["0x0000000000000000000000000000000000000001","0x10"]`))
		_, err := handle(context.Background(), v, c)
		return c.Report, err
	}
	// Everyone sends a proof that does not verify: an error, never quorum
	// (even with FallbackToQuorum).
	bad := ok(`{"address":"0x0000000000000000000000000000000000000001","accountProof":["0x80"],"balance":"0x1","codeHash":"0x0000000000000000000000000000000000000000000000000000000000000000","nonce":"0x0","storageHash":"0x0000000000000000000000000000000000000000000000000000000000000000","storageProof":[]}`)
	_, err := call(newFake(bad, bad, bad))
	var je *jsonrpc.Error
	if !errors.As(err, &je) || je.Code != CodeUnverified || !strings.Contains(string(je.Data), "bad_proof") {
		t.Fatalf("all lying: %v", err)
	}
	// Nobody can prove (eth_getProof not served): with FallbackToQuorum,
	// quorum, and the report says why; without, an error.
	missing := Answer{Err: &jsonrpc.Error{Code: jsonrpc.CodeMethodNotFound, Message: "the method eth_getProof does not exist"}}
	rep, err := call(newFake(missing, missing, missing))
	if !errors.As(err, &je) || je.Code != jsonrpc.CodeMethodNotFound || rep.Class() != pipeline.ClassQuorum || !strings.Contains(rep.Note(), "could prove") {
		t.Fatalf("no prover: %v %q", err, rep.Header())
	}
	strict := New(nil, Options{Asker: newFake(missing, missing, missing), Trust: trust})
	if _, err := handle(context.Background(), strict, newCall("eth_getBalance", json.RawMessage(`["0x0000000000000000000000000000000000000001","0x10"]`))); !errors.As(err, &je) || je.Code != CodeUnverified {
		t.Fatalf("no prover, strict: %v", err)
	}
	// A transaction nobody has: absence cannot be proven, so quorum says null.
	v := New(nil, Options{Asker: newFake(ok(`null`), ok(`null`), ok(`null`)), Trust: trust})
	ctx := context.Background()
	c := newCall("eth_getTransactionByHash", json.RawMessage(`["0x0000000000000000000000000000000000000000000000000000000000000001"]`))
	got, err := handle(ctx, v, c)
	rep2 := c.Report
	if err != nil || string(got) != "null" || rep2.Class() != pipeline.ClassQuorum {
		t.Fatalf("unknown transaction: %s %v %q", got, err, rep2.Header())
	}
	// The client's own bad params come back as the node said them.
	invalid := Answer{Err: &jsonrpc.Error{Code: jsonrpc.CodeInvalidParams, Message: "invalid argument"}}
	if _, err := call(newFake(invalid)); !errors.As(err, &je) || je.Code != jsonrpc.CodeInvalidParams {
		t.Fatalf("invalid params: %v", err)
	}
}

// TestProvableMethodsMatchConfig: the methods config lets users give the
// proof policy are exactly those the stage proves by default.
func TestProvableMethodsMatchConfig(t *testing.T) {
	proven := map[string]bool{}
	for m, p := range DefaultPolicies() {
		if p == Proof {
			proven[m] = true
		}
	}
	for _, m := range config.ProvableMethods {
		if !proven[m] {
			t.Errorf("config lists %s as provable; the stage does not prove it", m)
		}
		delete(proven, m)
	}
	for m := range proven {
		t.Errorf("the stage proves %s; config.ProvableMethods does not list it", m)
	}
}

// TestProvenAccountCached: an account proven at a state root answers later
// reads of it at that root without asking any provider; another block's
// root, or another method, asks again.
func TestProvenAccountCached(t *testing.T) {
	addr := common.HexToAddress("0x0000000000000000000000000000000000000001")
	tr := trie.NewEmpty(triedb.NewDatabase(rawdb.NewMemoryDatabase(), nil))
	acct, _ := rlp.EncodeToBytes(&types.StateAccount{Nonce: 3, Balance: uint256.NewInt(500), Root: types.EmptyRootHash, CodeHash: types.EmptyCodeHash.Bytes()})
	if err := tr.Update(crypto.Keccak256(addr.Bytes()), acct); err != nil {
		t.Fatal(err)
	}
	root := tr.Hash()
	nodes := memorydb.New()
	if err := tr.Prove(crypto.Keccak256(addr.Bytes()), nodes); err != nil {
		t.Fatal(err)
	}
	var proof []string
	it := nodes.NewIterator(nil, nil)
	for it.Next() {
		proof = append(proof, hexutil.Encode(it.Value()))
	}
	it.Release()
	answer, _ := json.Marshal(map[string]any{"address": addr, "accountProof": proof, "balance": "0x1f4", "nonce": "0x3",
		"codeHash": types.EmptyCodeHash, "storageHash": types.EmptyRootHash, "storageProof": []any{}})
	h := &types.Header{Number: big.NewInt(16), Root: root, Difficulty: big.NewInt(0)}
	f := newFake(ok(string(answer)), ok(string(answer)))
	v := New(nil, Options{Asker: f, Trust: verify.NewStaticTrust(h), ProofCache: 16})
	for i, tc := range []struct{ method, want string }{{"eth_getBalance", `"0x1f4"`}, {"eth_getBalance", `"0x1f4"`}, {"eth_getTransactionCount", `"0x3"`}} {
		c := newCall(tc.method, json.RawMessage(`["0x0000000000000000000000000000000000000001","0x10"]`))
		got, err := handle(context.Background(), v, c)
		rep := c.Report
		if err != nil || string(got) != tc.want || rep.Class() != pipeline.ClassProof || strings.Join(rep.Operators(), ",") != "op-a" {
			t.Fatalf("call %d (%s): %s %v %q", i, tc.method, got, err, rep.Header())
		}
	}
	if len(f.asked) != 1 {
		t.Fatalf("providers asked %v, want one eth_getProof for three reads at one root", f.asked)
	}
}

// TestHeaderHashMemo: the remembered hash is each header's own, however the
// calls interleave.
func TestHeaderHashMemo(t *testing.T) {
	v := New(nil, Options{})
	a := &types.Header{Number: big.NewInt(1), Difficulty: big.NewInt(0)}
	b := &types.Header{Number: big.NewInt(2), Difficulty: big.NewInt(0)}
	for range 3 {
		for _, h := range []*types.Header{a, b} {
			if got, want := v.headerHash(h), h.Hash(); got != want {
				t.Fatalf("header %d: %s, want %s", h.Number, got, want)
			}
		}
	}
}
