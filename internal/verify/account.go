package verify

import (
	"encoding/json"
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/rlp"
)

// AccountResult is an eth_getProof answer as a provider sends it.
type AccountResult struct {
	Address      common.Address  `json:"address"`
	AccountProof []hexutil.Bytes `json:"accountProof"`
	Balance      *hexutil.Big    `json:"balance"`
	CodeHash     common.Hash     `json:"codeHash"`
	Nonce        hexutil.Uint64  `json:"nonce"`
	StorageHash  common.Hash     `json:"storageHash"`
	StorageProof []StorageResult `json:"storageProof"`
}

// StorageResult is one storage slot's proof within an eth_getProof answer.
type StorageResult struct {
	Key   string          `json:"key"`
	Value *hexutil.Big    `json:"value"`
	Proof []hexutil.Bytes `json:"proof"`
}

// Account is an account's state as proven against a state root.
type Account struct {
	Address     common.Address
	Exists      bool // false: the proof shows the account absent (all fields empty)
	Nonce       uint64
	Balance     *big.Int
	StorageRoot common.Hash
	CodeHash    common.Hash
	// Storage holds the proven value of every slot the proof covered.
	Storage map[common.Hash]common.Hash
}

// DecodeAccountResult decodes an eth_getProof answer.
func DecodeAccountResult(raw json.RawMessage) (*AccountResult, error) {
	if len(raw) > maxAnswerBytes || isNull(raw) {
		return nil, malformed("eth_getProof", fmt.Errorf("null or oversized"))
	}
	res, ok := decodeAccountPlain(raw)
	if !ok {
		var err error
		if res, err = decodeAccountJSON(raw); err != nil {
			return nil, malformed("eth_getProof", err)
		}
	}
	if res.Balance == nil {
		return nil, malformed("eth_getProof", fmt.Errorf("no balance"))
	}
	return res, nil
}

// VerifyAccountProof verifies an eth_getProof answer for address and the
// storage slots asked for, against a trusted state root. The account proof
// must prove the account (or its absence); the claimed balance, nonce,
// storage hash and code hash must equal the proven account's; and every
// slot asked for must be proven, in order, against the proven storage root.
func VerifyAccountProof(stateRoot common.Hash, address common.Address, slots []common.Hash, res *AccountResult) (*Account, error) {
	if res == nil {
		return nil, malformed("eth_getProof", nil)
	}
	if res.Address != address {
		return nil, mismatch("address", res.Address.Hex(), address.Hex())
	}
	acc, err := proveAccount(stateRoot, address, res.AccountProof)
	if err != nil {
		return nil, fmt.Errorf("account %s: %w", address.Hex(), err)
	}
	if err := checkClaims(acc, res); err != nil {
		return nil, err
	}
	if len(res.StorageProof) != len(slots) {
		return nil, mismatch("storageProof length", len(res.StorageProof), len(slots))
	}
	acc.Storage = make(map[common.Hash]common.Hash, len(slots))
	for i, slot := range slots {
		v, err := verifyStorage(acc.StorageRoot, slot, &res.StorageProof[i])
		if err != nil {
			return nil, fmt.Errorf("storage slot %s: %w", slot.Hex(), err)
		}
		acc.Storage[slot] = v
	}
	return acc, nil
}

// proveAccount verifies an account proof and decodes the proven account.
func proveAccount(stateRoot common.Hash, address common.Address, proof []hexutil.Bytes) (*Account, error) {
	val, err := prove(stateRoot, crypto.Keccak256(address[:]), proof)
	if err != nil {
		return nil, err
	}
	acc := &Account{Address: address, Balance: new(big.Int), StorageRoot: types.EmptyRootHash, CodeHash: types.EmptyCodeHash}
	if val == nil {
		return acc, nil
	}
	var sa types.StateAccount
	if err := rlp.DecodeBytes(val, &sa); err != nil {
		return nil, fmt.Errorf("proven account: %w: %v", ErrBadProof, err)
	}
	if sa.Balance == nil || len(sa.CodeHash) != common.HashLength {
		return nil, fmt.Errorf("proven account: incomplete: %w", ErrBadProof)
	}
	acc.Exists = true
	acc.Nonce = sa.Nonce
	acc.Balance = sa.Balance.ToBig()
	acc.StorageRoot = sa.Root
	acc.CodeHash = common.BytesToHash(sa.CodeHash)
	return acc, nil
}

// checkClaims compares the answer's claimed fields with the proven account.
// For an absent account, clients report the zero hash or the empty hashes.
func checkClaims(acc *Account, res *AccountResult) error {
	if res.Balance == nil || res.Balance.ToInt().Cmp(acc.Balance) != 0 {
		return mismatch("balance", res.Balance, (*hexutil.Big)(acc.Balance))
	}
	if uint64(res.Nonce) != acc.Nonce {
		return mismatch("nonce", res.Nonce, hexutil.Uint64(acc.Nonce))
	}
	absentOK := func(h common.Hash) bool { return !acc.Exists && h == (common.Hash{}) }
	if res.StorageHash != acc.StorageRoot && !absentOK(res.StorageHash) {
		return mismatch("storageHash", res.StorageHash.Hex(), acc.StorageRoot.Hex())
	}
	if res.CodeHash != acc.CodeHash && !absentOK(res.CodeHash) {
		return mismatch("codeHash", res.CodeHash.Hex(), acc.CodeHash.Hex())
	}
	return nil
}

// verifyStorage verifies one slot's proof against the account's storage root
// and returns the proven value (zero when the slot is proven empty).
func verifyStorage(storageRoot, slot common.Hash, sr *StorageResult) (common.Hash, error) {
	key, err := DecodeStorageKey(sr.Key)
	if err != nil {
		return common.Hash{}, malformed("storage key", err)
	}
	if key != slot {
		return common.Hash{}, mismatch("storage key", key.Hex(), slot.Hex())
	}
	if sr.Value == nil {
		return common.Hash{}, malformed("storage value", fmt.Errorf("missing"))
	}
	var proven common.Hash
	if storageRoot == types.EmptyRootHash {
		// An empty trie has no nodes to prove with: the value is zero.
		if len(sr.Proof) != 0 {
			return common.Hash{}, fmt.Errorf("proof nodes for an empty storage trie: %w", ErrBadProof)
		}
	} else {
		val, err := prove(storageRoot, crypto.Keccak256(slot[:]), sr.Proof)
		if err != nil {
			return common.Hash{}, err
		}
		if val != nil {
			var content []byte
			if err := rlp.DecodeBytes(val, &content); err != nil || len(content) > common.HashLength {
				return common.Hash{}, fmt.Errorf("proven storage value: %w", ErrBadProof)
			}
			proven = common.BytesToHash(content)
		}
	}
	claimed := sr.Value.ToInt()
	if claimed.Sign() < 0 || claimed.BitLen() > 256 || common.BigToHash(claimed) != proven {
		return common.Hash{}, mismatch("storage value", sr.Value, (*hexutil.Big)(proven.Big()))
	}
	return proven, nil
}

// VerifyCode checks that code is the code whose hash was proven.
func VerifyCode(codeHash common.Hash, code []byte) error {
	if codeHash == (common.Hash{}) {
		codeHash = types.EmptyCodeHash // an absent account, as clients report it
	}
	if got := crypto.Keccak256Hash(code); got != codeHash {
		return &MismatchError{What: "code", Claimed: "keccak " + got.Hex(), Proven: "keccak " + codeHash.Hex()}
	}
	return nil
}

// DecodeStorageKey parses a storage key as eth_getProof and
// eth_getStorageAt take it: hex of at most 32 bytes, 0x optional, odd
// length allowed, left-padded to 32 bytes.
func DecodeStorageKey(s string) (common.Hash, error) {
	if len(s) >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') {
		s = s[2:]
	}
	if len(s)%2 == 1 {
		s = "0" + s
	}
	if len(s) > 2*common.HashLength {
		return common.Hash{}, fmt.Errorf("storage key longer than 32 bytes")
	}
	b, err := hexutil.Decode("0x" + s)
	if err != nil && s != "" {
		return common.Hash{}, err
	}
	return common.BytesToHash(b), nil
}

// StorageKeyOut is a storage key as go-ethereum's eth_getProof answers it:
// a key the client wrote as 32 bytes comes back as 32 bytes, a shorter one
// as a quantity ("0x00" and "0x0" both as "0x0").
func StorageKeyOut(written string, slot common.Hash) string {
	s := written
	if len(s) >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') {
		s = s[2:]
	}
	if (len(s)+1)/2 == common.HashLength {
		return hexutil.Encode(slot[:])
	}
	return hexutil.EncodeBig(slot.Big())
}
