package verify

import (
	"encoding/json"
	"fmt"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
)

// The functions here check the answers of the plain state methods
// (eth_getBalance, eth_getTransactionCount, eth_getStorageAt, eth_getCode)
// against an account proven with VerifyAccountProof, and build the answer
// from the proven account.

// CheckBalance checks an eth_getBalance answer against the proven account.
func CheckBalance(raw json.RawMessage, acc *Account) error {
	var v hexutil.Big
	if err := json.Unmarshal(raw, &v); err != nil {
		return malformed("eth_getBalance", err)
	}
	if v.ToInt().Cmp(acc.Balance) != 0 {
		return mismatch("balance", &v, (*hexutil.Big)(acc.Balance))
	}
	return nil
}

// CheckNonce checks an eth_getTransactionCount answer against the proven account.
func CheckNonce(raw json.RawMessage, acc *Account) error {
	var v hexutil.Uint64
	if err := json.Unmarshal(raw, &v); err != nil {
		return malformed("eth_getTransactionCount", err)
	}
	if uint64(v) != acc.Nonce {
		return mismatch("nonce", v, hexutil.Uint64(acc.Nonce))
	}
	return nil
}

// CheckStorageAt checks an eth_getStorageAt answer for slot against the
// proven account, whose proof must have covered the slot.
func CheckStorageAt(raw json.RawMessage, acc *Account, slot common.Hash) error {
	proven, ok := acc.Storage[slot]
	if !ok {
		return fmt.Errorf("slot %s was not proven: %w", slot.Hex(), ErrUnverifiable)
	}
	var v hexutil.Bytes
	if err := json.Unmarshal(raw, &v); err != nil || len(v) > common.HashLength {
		return malformed("eth_getStorageAt", err)
	}
	if common.BytesToHash(v) != proven {
		return mismatch("storage "+slot.Hex(), v, proven.Hex())
	}
	return nil
}

// DecodeCode decodes an eth_getCode answer and checks it against the proven
// account's code hash.
func DecodeCode(raw json.RawMessage, acc *Account) ([]byte, error) {
	var code hexutil.Bytes
	if err := json.Unmarshal(raw, &code); err != nil {
		return nil, malformed("eth_getCode", err)
	}
	if err := VerifyCode(acc.CodeHash, code); err != nil {
		return nil, err
	}
	return code, nil
}

// BalanceJSON is the eth_getBalance answer for the proven account.
func (a *Account) BalanceJSON() json.RawMessage { return mustMarshal((*hexutil.Big)(a.Balance)) }

// NonceJSON is the eth_getTransactionCount answer for the proven account.
func (a *Account) NonceJSON() json.RawMessage { return mustMarshal(hexutil.Uint64(a.Nonce)) }

// StorageJSON is the eth_getStorageAt answer for a proven slot.
func (a *Account) StorageJSON(slot common.Hash) (json.RawMessage, error) {
	v, ok := a.Storage[slot]
	if !ok {
		return nil, fmt.Errorf("slot %s was not proven: %w", slot.Hex(), ErrUnverifiable)
	}
	return mustMarshal(v), nil
}

// mustMarshal encodes values that always encode.
func mustMarshal(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("verify: encode %T: %v", v, err))
	}
	return b
}
