package devnet

import (
	"context"
	"errors"
	"math/big"
	"os"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethdb/memorydb"
	"github.com/ethereum/go-ethereum/rlp"
	"github.com/ethereum/go-ethereum/trie"

	"github.com/rpcmesh/rpcmesh/internal/testwait"
)

// dn is the devnet every test in this package shares. Tests that stage
// faults clear them before they return.
var dn *Devnet

func TestMain(m *testing.M) {
	os.Exit(RunSuite("devnet", false, Options{}, nil, func(d *Devnet) int {
		dn = d
		return m.Run()
	}))
}

// waitHeight waits until every node is at height h or above.
func waitHeight(t *testing.T, h uint64) {
	t.Helper()
	ctx := testwait.Context(t, 30*time.Second)
	for _, n := range dn.Info().Nodes {
		waitBlock(t, ctx, dial(t, n.HTTP), n.Name+" height", h)
	}
}

func TestNodesAgreeOnEveryHeight(t *testing.T) {
	waitHeight(t, 4)
	ctx := testwait.Context(t, 20*time.Second)
	nodes := dn.Info().Nodes
	ref := dial(t, nodes[0].HTTP)
	head, err := ref.BlockNumber(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for h := uint64(0); h+1 < head; h++ { // the newest block may still be travelling
		want, err := ref.HeaderByNumber(ctx, new(big.Int).SetUint64(h))
		if err != nil {
			t.Fatalf("node1 header %d: %v", h, err)
		}
		for _, n := range nodes[1:] {
			got, err := dial(t, n.HTTP).HeaderByNumber(ctx, new(big.Int).SetUint64(h))
			if err != nil {
				t.Fatalf("%s header %d: %v", n.Name, h, err)
			}
			if got.Hash() != want.Hash() {
				t.Fatalf("height %d: %s has %s, node1 has %s", h, n.Name, got.Hash(), want.Hash())
			}
		}
	}
}

func TestTransactionSentToFollowerIsMined(t *testing.T) {
	ctx := testwait.Context(t, 30*time.Second)
	nodes := dn.Info().Nodes
	follower := dial(t, nodes[len(nodes)-1].HTTP)
	key := dn.Keys()[0]
	nonce, err := follower.PendingNonceAt(ctx, keyAddr(key))
	if err != nil {
		t.Fatal(err)
	}
	to := common.HexToAddress("0x000000000000000000000000000000000000beef")
	tx := signTx(t, dn.Info().ChainID, key, nonce, &to, big.NewInt(12345), nil, 21000)
	if err := follower.SendTransaction(ctx, tx); err != nil {
		t.Fatalf("send to follower: %v", err)
	}
	r, err := waitReceipt(ctx, dial(t, nodes[0].HTTP), tx.Hash())
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != types.ReceiptStatusSuccessful {
		t.Fatalf("receipt status %d", r.Status)
	}
	var bal *big.Int
	if err := testwait.Until(ctx, "the follower to import the block", func() bool {
		bal, err = follower.BalanceAt(ctx, to, r.BlockNumber)
		return err == nil
	}); err != nil {
		t.Fatal(err)
	}
	if bal.Cmp(big.NewInt(12345)) < 0 {
		t.Fatalf("balance of recipient at block %d = %v, %v", r.BlockNumber, bal, err)
	}
}

func TestAccountProofFromFollowerVerifies(t *testing.T) {
	waitHeight(t, 2)
	ctx := testwait.Context(t, 20*time.Second)
	nodes := dn.Info().Nodes
	follower := dial(t, nodes[3].HTTP)
	head, err := follower.HeaderByNumber(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, addr := range []common.Address{keyAddr(dn.Keys()[1]), common.HexToAddress("0x00000000000000000000000000000000deadbeef")} {
		var res struct {
			Balance      *hexBig       `json:"balance"`
			Nonce        hexUint       `json:"nonce"`
			StorageHash  common.Hash   `json:"storageHash"`
			CodeHash     common.Hash   `json:"codeHash"`
			AccountProof []hexBytesStr `json:"accountProof"`
		}
		if err := follower.Client().CallContext(ctx, &res, "eth_getProof", addr, []string{}, hexNum(head.Number.Uint64())); err != nil {
			t.Fatalf("eth_getProof: %v", err)
		}
		db := memorydb.New()
		for _, node := range res.AccountProof {
			if err := db.Put(crypto.Keccak256(node), node); err != nil {
				t.Fatal(err)
			}
		}
		val, err := trie.VerifyProof(head.Root, crypto.Keccak256(addr[:]), db)
		if err != nil {
			t.Fatalf("proof of %s does not verify against stateRoot: %v", addr, err)
		}
		if val == nil { // proven absent
			if res.Balance.ToInt().Sign() != 0 {
				t.Fatalf("absent account %s claims balance %v", addr, res.Balance.ToInt())
			}
			if addr == keyAddr(dn.Keys()[1]) {
				t.Fatalf("funded account %s proven absent", addr)
			}
			continue
		}
		var acc types.StateAccount
		if err := rlp.DecodeBytes(val, &acc); err != nil {
			t.Fatal(err)
		}
		if acc.Balance.ToBig().Cmp(res.Balance.ToInt()) != 0 || acc.Nonce != uint64(res.Nonce) {
			t.Fatalf("claimed balance %v nonce %d, proven %v %d", res.Balance.ToInt(), res.Nonce, acc.Balance, acc.Nonce)
		}
		if acc.Balance.IsZero() {
			t.Fatalf("funded account %s has zero balance", addr)
		}
	}
}

func TestFaultValidationChangesNothing(t *testing.T) {
	before := dn.Faults()
	cases := []struct {
		name string
		spec FaultSpec
		want error
	}{
		{"unknown node", FaultSpec{Target: "node99", Kind: FaultDown}, ErrNoSuchNode},
		{"unknown label value", FaultSpec{Target: "cloud=azure", Kind: FaultDown}, ErrNoSuchNode},
		{"unknown label", FaultSpec{Target: "color=red", Kind: FaultDown}, ErrBadTarget},
		{"empty target", FaultSpec{Target: "", Kind: FaultDown}, ErrBadTarget},
		{"unknown kind", FaultSpec{Target: "node1", Kind: "explode"}, ErrUnknownFault},
		{"bad param type", FaultSpec{Target: "node1", Kind: FaultSlow, Params: []byte(`{"latency": true}`)}, ErrBadParams},
		{"unknown param", FaultSpec{Target: "node1", Kind: FaultSlow, Params: []byte(`{"latncy": "1s"}`)}, ErrBadParams},
		{"rate out of range", FaultSpec{Target: "node1", Kind: FaultError, Params: []byte(`{"rate": 2}`)}, ErrBadParams},
		{"unknown lie", FaultSpec{Target: "node1", Kind: FaultLie, Params: []byte(`{"what": ["weather"]}`)}, ErrBadParams},
		{"reorg too deep", FaultSpec{Target: "all", Kind: FaultReorg, Params: []byte(`{"depth": 1000}`)}, ErrBadParams},
		{"prune keeps nothing", FaultSpec{Target: "node1", Kind: FaultPrune, Params: []byte(`{"keep": 0}`)}, ErrBadParams},
		{"prune keep negative", FaultSpec{Target: "node1", Kind: FaultPrune, Params: []byte(`{"keep": -1}`)}, ErrBadParams},
		{"params on down", FaultSpec{Target: "node1", Kind: FaultDown, Params: []byte(`{"x": 1}`)}, ErrBadParams},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := dn.SetFault(context.Background(), tc.spec)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
	if after := dn.Faults(); len(after) != len(before) {
		t.Fatalf("faults changed: %v → %v", before, after)
	}
	if err := dn.ClearFault("f999999"); !errors.Is(err, ErrNoSuchFault) {
		t.Fatalf("clear unknown fault: %v", err)
	}
}
