package verify

import (
	"encoding/json"
	"fmt"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/params"
)

// verifyTxObject decodes a transaction object found at index of the block
// with header h and checks its location and sender fields.
func verifyTxObject(raw json.RawMessage, signer types.Signer, h *types.Header, index uint64) (*types.Transaction, error) {
	if err := knownTxType(raw); err != nil {
		return nil, err
	}
	tx := new(types.Transaction)
	if err := json.Unmarshal(raw, tx); err != nil {
		return nil, malformed("transaction", err)
	}
	var claimed map[string]json.RawMessage
	if err := json.Unmarshal(raw, &claimed); err != nil {
		return nil, malformed("transaction", err)
	}
	want, err := txFields(tx, signer, h, index)
	if err != nil {
		return nil, err
	}
	if err := compareFields("transaction", claimed, want); err != nil {
		return nil, err
	}
	return tx, nil
}

// TxLocation is where a transaction answer claims the transaction is.
type TxLocation struct {
	Hash             common.Hash
	BlockHash        common.Hash
	BlockNumber      uint64
	TransactionIndex uint64
}

// DecodeTxLocation reads where an eth_getTransactionByHash (or
// eth_getTransactionReceipt) answer claims the transaction is, so that the
// caller can fetch and verify that block. A pending transaction (no block)
// is ErrUnverifiable.
func DecodeTxLocation(raw json.RawMessage) (TxLocation, error) {
	if isNull(raw) || len(raw) > maxAnswerBytes {
		return TxLocation{}, malformed("transaction", fmt.Errorf("null or oversized"))
	}
	var loc struct {
		Hash             *common.Hash    `json:"hash"`
		TransactionHash  *common.Hash    `json:"transactionHash"`
		BlockHash        *common.Hash    `json:"blockHash"`
		BlockNumber      *hexutil.Big    `json:"blockNumber"`
		TransactionIndex *hexutil.Uint64 `json:"transactionIndex"`
	}
	if err := json.Unmarshal(raw, &loc); err != nil {
		return TxLocation{}, malformed("transaction", err)
	}
	if loc.Hash == nil {
		loc.Hash = loc.TransactionHash
	}
	if loc.Hash == nil {
		return TxLocation{}, malformed("transaction", fmt.Errorf("no hash"))
	}
	if loc.BlockHash == nil || loc.BlockNumber == nil || loc.TransactionIndex == nil || *loc.BlockHash == (common.Hash{}) {
		return TxLocation{}, fmt.Errorf("transaction %s: %w", loc.Hash.Hex(), ErrNotInBlock)
	}
	n := loc.BlockNumber.ToInt()
	if n.Sign() < 0 || !n.IsUint64() {
		return TxLocation{}, malformed("transaction", fmt.Errorf("block number out of range"))
	}
	return TxLocation{Hash: *loc.Hash, BlockHash: *loc.BlockHash, BlockNumber: n.Uint64(), TransactionIndex: uint64(*loc.TransactionIndex)}, nil
}

// VerifyTransaction checks an eth_getTransactionByHash answer for hash
// against the verified full block it claims to be in: the transaction at
// the claimed index must be hash, and every field must match it. It
// returns the transaction's RPC object built from the verified block.
func VerifyTransaction(raw json.RawMessage, hash common.Hash, block *Block, config *params.ChainConfig) (json.RawMessage, error) {
	loc, err := DecodeTxLocation(raw)
	if err != nil {
		return nil, err
	}
	if loc.Hash != hash {
		return nil, mismatch("hash", loc.Hash.Hex(), hash.Hex())
	}
	if block == nil || !block.FullTransactions {
		return nil, fmt.Errorf("no verified full block for transaction %s: %w", hash.Hex(), ErrUnverifiable)
	}
	if loc.BlockHash != block.Hash || loc.BlockNumber != block.Header.Number.Uint64() {
		return nil, &MismatchError{What: "blockHash", Claimed: loc.BlockHash.Hex(), Proven: block.Hash.Hex(), Err: ErrNotIncluded}
	}
	if loc.TransactionIndex >= uint64(len(block.Transactions)) || block.Transactions[loc.TransactionIndex].Hash() != hash {
		return nil, &MismatchError{What: "transactionIndex", Claimed: fmt.Sprint(loc.TransactionIndex), Proven: "not at that index", Err: ErrNotIncluded}
	}
	signer := types.MakeSigner(config, block.Header.Number, block.Header.Time)
	tx, err := verifyTxObject(raw, signer, block.Header, loc.TransactionIndex)
	if err != nil {
		return nil, err
	}
	if tx.Hash() != hash {
		return nil, &MismatchError{What: "transaction", Claimed: tx.Hash().Hex(), Proven: hash.Hex(), Err: ErrNotIncluded}
	}
	obj, err := txObject(block.Transactions[loc.TransactionIndex], signer, block.Header, loc.TransactionIndex)
	if err != nil {
		return nil, err
	}
	return json.Marshal(obj)
}

// knownTxType checks that a transaction object's type is one go-ethereum
// decodes. Another type (an OP-stack deposit, 0x7e; Arbitrum's types) is
// no lie: the chain has it, go-ethereum cannot check it, so the answer is
// ErrUnverifiable and is settled another way.
func knownTxType(raw json.RawMessage) error {
	var t struct {
		Type *hexutil.Uint64 `json:"type"`
	}
	if err := json.Unmarshal(raw, &t); err != nil {
		return malformed("transaction", err)
	}
	if t.Type == nil {
		return nil // legacy objects may leave it out; decoding decides
	}
	switch *t.Type {
	case types.LegacyTxType, types.AccessListTxType, types.DynamicFeeTxType, types.BlobTxType, types.SetCodeTxType:
		return nil
	}
	return fmt.Errorf("transaction type %#x is not one go-ethereum decodes: %w", uint64(*t.Type), ErrUnverifiable)
}

// VerifyPendingTransaction checks an eth_getTransactionByHash answer for a
// transaction in no block (pending): everything the sender signed is
// decoded from it, its hash must be hash and its claimed sender the one
// its signature recovers. That it is pending is the provider's word.
func VerifyPendingTransaction(raw json.RawMessage, hash common.Hash, config *params.ChainConfig) error {
	if err := knownTxType(raw); err != nil {
		return err
	}
	tx := new(types.Transaction)
	if err := json.Unmarshal(raw, tx); err != nil {
		return malformed("transaction", err)
	}
	if tx.Hash() != hash {
		return mismatch("hash", tx.Hash().Hex(), hash.Hex())
	}
	var claimed struct {
		From common.Address `json:"from"`
	}
	if err := json.Unmarshal(raw, &claimed); err != nil {
		return malformed("transaction", err)
	}
	from, err := types.Sender(types.LatestSigner(config), tx)
	if err != nil {
		return malformed("transaction signature", err)
	}
	if from != claimed.From {
		return mismatch("from", claimed.From.Hex(), from.Hex())
	}
	return nil
}
