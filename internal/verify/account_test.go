package verify

import (
	"encoding/json"
	"errors"
	"math/big"
	"slices"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
)

// clone deep-copies an answer through JSON, as a provider would send it.
func clone(t testing.TB, res *AccountResult) *AccountResult {
	t.Helper()
	b, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	out, err := DecodeAccountResult(b)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestVerifyAccountProofHonest(t *testing.T) {
	f := newStateFixture(t)
	tests := []struct {
		name   string
		addr   common.Address
		slots  []common.Hash
		exists bool
	}{
		{"eoa", f.eoa, nil, true},
		{"contract with slots", f.contract, f.slots, true},
		{"eoa with slots (empty storage)", f.eoa, f.slots[:2], true},
		{"absent account", f.absent, nil, false},
		{"absent account with slots", f.absent, f.slots[:1], false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := clone(t, f.proof(t, tt.addr, tt.slots))
			acc, err := VerifyAccountProof(f.root, tt.addr, tt.slots, res)
			if err != nil {
				t.Fatalf("honest proof rejected: %v", err)
			}
			if acc.Exists != tt.exists || acc.Balance.Cmp(res.Balance.ToInt()) != 0 || acc.Nonce != uint64(res.Nonce) {
				t.Fatalf("proven %+v, answer %+v", acc, res)
			}
			if !tt.exists && (acc.Balance.Sign() != 0 || acc.CodeHash != types.EmptyCodeHash || acc.StorageRoot != types.EmptyRootHash) {
				t.Fatalf("absent account proven as %+v", acc)
			}
			for i, s := range tt.slots {
				if acc.Storage[s] != common.BigToHash(res.StorageProof[i].Value.ToInt()) {
					t.Fatalf("slot %s: proven %s", s, acc.Storage[s])
				}
			}
		})
	}
	acc, _ := VerifyAccountProof(f.root, f.contract, f.slots, clone(t, f.proof(t, f.contract, f.slots)))
	if acc.Storage[f.slots[0]] != common.BigToHash(big.NewInt(0x1000)) || acc.Storage[f.slots[3]] != (common.Hash{}) {
		t.Fatalf("storage proven wrong: %v", acc.Storage)
	}
	if err := VerifyCode(acc.CodeHash, f.code); err != nil {
		t.Fatalf("honest code rejected: %v", err)
	}
	if err := VerifyCode(acc.CodeHash, append(slices.Clone(f.code), 0)); !errors.Is(err, ErrValueMismatch) {
		t.Fatalf("tampered code: %v", err)
	}
	if err := VerifyCode(common.Hash{}, nil); err != nil {
		t.Fatalf("absent account's empty code: %v", err)
	}
}

func TestVerifyAccountProofTampered(t *testing.T) {
	f := newStateFixture(t)
	otherRoot := crypto.Keccak256Hash([]byte("another state"))
	tests := []struct {
		name   string
		addr   common.Address
		slots  []common.Hash
		root   *common.Hash
		tamper func(r *AccountResult)
		want   error
	}{
		{"balance", f.eoa, nil, nil, func(r *AccountResult) { r.Balance = (*hexutil.Big)(new(big.Int).Add(r.Balance.ToInt(), big.NewInt(1))) }, ErrValueMismatch},
		{"balance zero", f.eoa, nil, nil, func(r *AccountResult) { r.Balance = (*hexutil.Big)(new(big.Int)) }, ErrValueMismatch},
		{"absent gets balance", f.absent, nil, nil, func(r *AccountResult) { r.Balance = (*hexutil.Big)(big.NewInt(1e18)) }, ErrValueMismatch},
		{"nonce", f.eoa, nil, nil, func(r *AccountResult) { r.Nonce += 7 }, ErrValueMismatch},
		{"code hash", f.contract, nil, nil, func(r *AccountResult) { r.CodeHash = types.EmptyCodeHash }, ErrValueMismatch},
		{"storage hash", f.contract, nil, nil, func(r *AccountResult) { r.StorageHash = types.EmptyRootHash }, ErrValueMismatch},
		{"address", f.eoa, nil, nil, func(r *AccountResult) { r.Address = f.contract }, ErrValueMismatch},
		{"wrong root", f.eoa, nil, &otherRoot, func(r *AccountResult) {}, ErrBadProof},
		{"missing node", f.eoa, nil, nil, func(r *AccountResult) { r.AccountProof = r.AccountProof[:len(r.AccountProof)-1] }, ErrBadProof},
		{"missing root node", f.eoa, nil, nil, func(r *AccountResult) { r.AccountProof = r.AccountProof[1:] }, ErrBadProof},
		{"extra node", f.eoa, nil, nil, func(r *AccountResult) {
			r.AccountProof = append(r.AccountProof, f.proof(t, f.contract, nil).AccountProof[len(f.proof(t, f.contract, nil).AccountProof)-1])
		}, ErrBadProof},
		{"duplicate node", f.eoa, nil, nil, func(r *AccountResult) { r.AccountProof = append(r.AccountProof, r.AccountProof[0]) }, ErrBadProof},
		{"truncated rlp", f.eoa, nil, nil, func(r *AccountResult) {
			n := r.AccountProof[len(r.AccountProof)-1]
			r.AccountProof[len(r.AccountProof)-1] = n[:len(n)-3]
		}, ErrBadProof},
		{"flipped byte in leaf", f.eoa, nil, nil, func(r *AccountResult) { n := r.AccountProof[len(r.AccountProof)-1]; n[len(n)-1] ^= 1 }, ErrBadProof},
		{"wrong path (other account's proof)", f.eoa, nil, nil, func(r *AccountResult) { r.AccountProof = f.proof(t, f.contract, nil).AccountProof }, ErrBadProof},
		{"absence claimed with existing account's proof path cut", f.contract, nil, nil, func(r *AccountResult) {
			r.AccountProof = r.AccountProof[:1]
			r.Balance, r.Nonce, r.CodeHash, r.StorageHash = (*hexutil.Big)(new(big.Int)), 0, common.Hash{}, common.Hash{}
		}, ErrBadProof},
		{"empty proof", f.eoa, nil, nil, func(r *AccountResult) { r.AccountProof = nil }, ErrBadProof},
		{"storage value", f.contract, f.slots, nil, func(r *AccountResult) {
			r.StorageProof[0].Value = (*hexutil.Big)(new(big.Int).Add(r.StorageProof[0].Value.ToInt(), big.NewInt(1)))
		}, ErrValueMismatch},
		{"storage empty slot gets value", f.contract, f.slots, nil, func(r *AccountResult) { r.StorageProof[3].Value = (*hexutil.Big)(big.NewInt(1)) }, ErrValueMismatch},
		{"storage set slot claimed zero", f.contract, f.slots, nil, func(r *AccountResult) { r.StorageProof[1].Value = (*hexutil.Big)(new(big.Int)) }, ErrValueMismatch},
		{"storage key", f.contract, f.slots, nil, func(r *AccountResult) { r.StorageProof[0].Key = "0x5" }, ErrValueMismatch},
		{"storage proof swapped", f.contract, f.slots, nil, func(r *AccountResult) {
			r.StorageProof[0].Proof, r.StorageProof[1].Proof = r.StorageProof[1].Proof, r.StorageProof[0].Proof
		}, ErrBadProof},
		{"storage proof truncated", f.contract, f.slots, nil, func(r *AccountResult) { r.StorageProof[2].Proof = r.StorageProof[2].Proof[:1] }, ErrBadProof},
		{"storage proof missing", f.contract, f.slots, nil, func(r *AccountResult) { r.StorageProof = r.StorageProof[:3] }, ErrValueMismatch},
		{"storage nodes for empty trie", f.eoa, f.slots[:1], nil, func(r *AccountResult) { r.StorageProof[0].Proof = []hexutil.Bytes{{0x80}} }, ErrBadProof},
		{"storage value negative", f.contract, f.slots, nil, func(r *AccountResult) { r.StorageProof[0].Value = (*hexutil.Big)(big.NewInt(-1)) }, ErrValueMismatch},
		{"storage key too long", f.contract, f.slots, nil, func(r *AccountResult) { r.StorageProof[0].Key = "0x" + common.Bytes2Hex(make([]byte, 33)) }, ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := clone(t, f.proof(t, tt.addr, tt.slots))
			tt.tamper(res)
			root := f.root
			if tt.root != nil {
				root = *tt.root
			}
			acc, err := VerifyAccountProof(root, tt.addr, tt.slots, res)
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v (account %+v), want %v", err, acc, tt.want)
			}
		})
	}
}

func TestStateMethodChecks(t *testing.T) {
	f := newStateFixture(t)
	acc, err := VerifyAccountProof(f.root, f.contract, f.slots, clone(t, f.proof(t, f.contract, f.slots)))
	if err != nil {
		t.Fatal(err)
	}
	word := func(v int64) json.RawMessage { return mustMarshal(common.BigToHash(big.NewInt(v))) }
	tests := []struct {
		name string
		err  error
		want error
	}{
		{"balance ok", CheckBalance(acc.BalanceJSON(), acc), nil},
		{"balance lie", CheckBalance(json.RawMessage(`"0xde0b6b3a7640000"`), acc), ErrValueMismatch},
		{"balance garbage", CheckBalance(json.RawMessage(`"zz"`), acc), ErrMalformed},
		{"nonce ok", CheckNonce(acc.NonceJSON(), acc), nil},
		{"nonce lie", CheckNonce(json.RawMessage(`"0x8"`), acc), ErrValueMismatch},
		{"storage ok", CheckStorageAt(word(0x1000), acc, f.slots[0]), nil},
		{"storage ok empty", CheckStorageAt(word(0), acc, f.slots[3]), nil},
		{"storage lie", CheckStorageAt(word(0x1001), acc, f.slots[0]), ErrValueMismatch},
		{"storage unproven slot", CheckStorageAt(word(0), acc, common.Hash{9}), ErrUnverifiable},
		{"code ok", func() error { _, err := DecodeCode(mustMarshal(hexutil.Bytes(f.code)), acc); return err }(), nil},
		{"code lie", func() error { _, err := DecodeCode(json.RawMessage(`"0x"`), acc); return err }(), ErrValueMismatch},
	}
	for _, tt := range tests {
		if !errors.Is(tt.err, tt.want) || (tt.want == nil && tt.err != nil) {
			t.Errorf("%s: got %v, want %v", tt.name, tt.err, tt.want)
		}
	}
}

func TestDecodeStorageKey(t *testing.T) {
	tests := []struct {
		in   string
		want common.Hash
		ok   bool
	}{
		{"0x1", common.BigToHash(big.NewInt(1)), true},
		{"1", common.BigToHash(big.NewInt(1)), true},
		{"0x", common.Hash{}, true},
		{"0x" + common.BigToHash(big.NewInt(258)).Hex()[2:], common.BigToHash(big.NewInt(258)), true},
		{"0xzz", common.Hash{}, false},
		{"0x" + common.Bytes2Hex(make([]byte, 33)), common.Hash{}, false},
	}
	for _, tt := range tests {
		got, err := DecodeStorageKey(tt.in)
		if (err == nil) != tt.ok || (tt.ok && got != tt.want) {
			t.Errorf("%q: got %s, %v", tt.in, got, err)
		}
	}
}

// TestProofParams: the directly built eth_getProof params are the bytes
// encoding/json makes of the same values.
func TestProofParams(t *testing.T) {
	addr := common.HexToAddress("0x407d73d8a49eeb85d32cf465507dd71d507100c1")
	block := common.HexToHash("0xabcdef0000000000000000000000000000000000000000000000000000000001")
	for _, slots := range [][]common.Hash{{}, {common.HexToHash("0x1")}, {common.HexToHash("0x2"), common.HexToHash("0xff00")}} {
		got := string(ProofParams(addr, slots, block))
		want := string(Params(addr, slots, ByHash(block)))
		if got != want {
			t.Errorf("%d slots:\n got %s\nwant %s", len(slots), got, want)
		}
	}
}
