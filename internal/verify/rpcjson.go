package verify

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/big"
	"reflect"
	"strings"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
)

// The functions here build the JSON-RPC representation of verified data the
// way go-ethereum's RPC server does, so that an answer the gateway returns
// is made only of verified bytes, and so that a provider's claimed object
// can be compared with it field by field.

// headerFields is a header's RPC object (go-ethereum's RPCMarshalHeader).
func headerFields(h *types.Header) map[string]any {
	m := map[string]any{
		"number":           (*hexutil.Big)(h.Number),
		"hash":             h.Hash(),
		"parentHash":       h.ParentHash,
		"nonce":            h.Nonce,
		"mixHash":          h.MixDigest,
		"sha3Uncles":       h.UncleHash,
		"logsBloom":        h.Bloom,
		"stateRoot":        h.Root,
		"miner":            h.Coinbase,
		"difficulty":       (*hexutil.Big)(h.Difficulty),
		"extraData":        hexutil.Bytes(h.Extra),
		"gasLimit":         hexutil.Uint64(h.GasLimit),
		"gasUsed":          hexutil.Uint64(h.GasUsed),
		"timestamp":        hexutil.Uint64(h.Time),
		"transactionsRoot": h.TxHash,
		"receiptsRoot":     h.ReceiptHash,
	}
	if h.BaseFee != nil {
		m["baseFeePerGas"] = (*hexutil.Big)(h.BaseFee)
	}
	if h.WithdrawalsHash != nil {
		m["withdrawalsRoot"] = h.WithdrawalsHash
	}
	if h.BlobGasUsed != nil {
		m["blobGasUsed"] = hexutil.Uint64(*h.BlobGasUsed)
	}
	if h.ExcessBlobGas != nil {
		m["excessBlobGas"] = hexutil.Uint64(*h.ExcessBlobGas)
	}
	if h.ParentBeaconRoot != nil {
		m["parentBeaconBlockRoot"] = h.ParentBeaconRoot
	}
	if h.RequestsHash != nil {
		m["requestsHash"] = h.RequestsHash
	}
	if h.BlockAccessListHash != nil {
		m["blockAccessListHash"] = h.BlockAccessListHash
	}
	if h.SlotNumber != nil {
		m["slotNumber"] = hexutil.Uint64(*h.SlotNumber)
	}
	return m
}

// rpcTransaction is a mined transaction's RPC object with go-ethereum's
// field order (its ethapi.RPCTransaction), so that the gateway's answer is
// byte for byte the node's.
type rpcTransaction struct {
	BlockHash           common.Hash                  `json:"blockHash"`
	BlockNumber         *hexutil.Big                 `json:"blockNumber"`
	BlockTimestamp      hexutil.Uint64               `json:"blockTimestamp"`
	From                common.Address               `json:"from"`
	Gas                 hexutil.Uint64               `json:"gas"`
	GasPrice            *hexutil.Big                 `json:"gasPrice"`
	GasFeeCap           *hexutil.Big                 `json:"maxFeePerGas,omitempty"`
	GasTipCap           *hexutil.Big                 `json:"maxPriorityFeePerGas,omitempty"`
	MaxFeePerBlobGas    *hexutil.Big                 `json:"maxFeePerBlobGas,omitempty"`
	Hash                common.Hash                  `json:"hash"`
	Input               hexutil.Bytes                `json:"input"`
	Nonce               hexutil.Uint64               `json:"nonce"`
	To                  *common.Address              `json:"to"`
	TransactionIndex    hexutil.Uint64               `json:"transactionIndex"`
	Value               *hexutil.Big                 `json:"value"`
	Type                hexutil.Uint64               `json:"type"`
	Accesses            *types.AccessList            `json:"accessList,omitempty"`
	ChainID             *hexutil.Big                 `json:"chainId,omitempty"`
	BlobVersionedHashes []common.Hash                `json:"blobVersionedHashes,omitempty"`
	AuthorizationList   []types.SetCodeAuthorization `json:"authorizationList,omitempty"`
	V                   *hexutil.Big                 `json:"v"`
	R                   *hexutil.Big                 `json:"r"`
	S                   *hexutil.Big                 `json:"s"`
	YParity             *hexutil.Uint64              `json:"yParity,omitempty"`
}

// txObject is a mined transaction's RPC object (go-ethereum's
// newRPCTransaction) at index in the block with header h.
func txObject(tx *types.Transaction, signer types.Signer, h *types.Header, index uint64) (*rpcTransaction, error) {
	from, err := types.Sender(signer, tx)
	if err != nil {
		return nil, fmt.Errorf("transaction %d sender: %w: %v", index, ErrNotIncluded, err)
	}
	v, r, s := tx.RawSignatureValues()
	o := &rpcTransaction{
		BlockHash:        h.Hash(),
		BlockNumber:      (*hexutil.Big)(h.Number),
		BlockTimestamp:   hexutil.Uint64(h.Time),
		TransactionIndex: hexutil.Uint64(index),
		Type:             hexutil.Uint64(tx.Type()),
		From:             from,
		Gas:              hexutil.Uint64(tx.Gas()),
		GasPrice:         (*hexutil.Big)(tx.GasPrice()),
		Hash:             tx.Hash(),
		Input:            hexutil.Bytes(tx.Data()),
		Nonce:            hexutil.Uint64(tx.Nonce()),
		To:               tx.To(),
		Value:            (*hexutil.Big)(tx.Value()),
		V:                (*hexutil.Big)(v),
		R:                (*hexutil.Big)(r),
		S:                (*hexutil.Big)(s),
	}
	if tx.Type() == types.LegacyTxType {
		if id := tx.ChainId(); id.Sign() != 0 {
			o.ChainID = (*hexutil.Big)(id)
		}
		return o, nil
	}
	al := tx.AccessList()
	yParity := hexutil.Uint64(v.Sign())
	o.Accesses, o.ChainID, o.YParity = &al, (*hexutil.Big)(tx.ChainId()), &yParity
	if tx.Type() == types.AccessListTxType {
		return o, nil
	}
	o.GasFeeCap = (*hexutil.Big)(tx.GasFeeCap())
	o.GasTipCap = (*hexutil.Big)(tx.GasTipCap())
	o.GasPrice = (*hexutil.Big)(effectiveGasPrice(tx, h.BaseFee))
	switch tx.Type() {
	case types.BlobTxType:
		o.MaxFeePerBlobGas = (*hexutil.Big)(tx.BlobGasFeeCap())
		o.BlobVersionedHashes = tx.BlobHashes()
	case types.SetCodeTxType:
		o.AuthorizationList = tx.SetCodeAuthorizations()
	}
	return o, nil
}

// txFields is txObject's fields by name, for comparison with a claimed
// object (compareFields).
func txFields(tx *types.Transaction, signer types.Signer, h *types.Header, index uint64) (map[string]any, error) {
	o, err := txObject(tx, signer, h, index)
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(o)
	if err != nil {
		return nil, fmt.Errorf("transaction %d: encode: %w", index, err)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("transaction %d: decode: %w", index, err)
	}
	m := make(map[string]any, len(raw))
	for k, v := range raw {
		m[k] = v
	}
	return m, nil
}

// effectiveGasPrice is min(tip + baseFee, feeCap); the fee cap without a base fee.
func effectiveGasPrice(tx *types.Transaction, baseFee *big.Int) *big.Int {
	if baseFee == nil {
		return tx.GasFeeCap()
	}
	fee := new(big.Int).Add(tx.GasTipCap(), baseFee)
	if tx.GasFeeCapIntCmp(fee) < 0 {
		return tx.GasFeeCap()
	}
	return fee
}

// receiptFields is a receipt's RPC object (go-ethereum's MarshalReceipt);
// r must have its derived fields set.
func receiptFields(r *types.Receipt, tx *types.Transaction, from common.Address) map[string]any {
	logs := r.Logs
	if logs == nil {
		logs = []*types.Log{}
	}
	m := map[string]any{
		"blockHash":         r.BlockHash,
		"blockNumber":       hexutil.Uint64(r.BlockNumber.Uint64()),
		"transactionHash":   tx.Hash(),
		"transactionIndex":  hexutil.Uint64(r.TransactionIndex),
		"from":              from,
		"to":                tx.To(),
		"gasUsed":           hexutil.Uint64(r.GasUsed),
		"cumulativeGasUsed": hexutil.Uint64(r.CumulativeGasUsed),
		"contractAddress":   nil,
		"logs":              logs,
		"logsBloom":         r.Bloom,
		"type":              hexutil.Uint(tx.Type()),
		"effectiveGasPrice": (*hexutil.Big)(r.EffectiveGasPrice),
	}
	if len(r.PostState) > 0 {
		m["root"] = hexutil.Bytes(r.PostState)
	} else {
		m["status"] = hexutil.Uint(r.Status)
	}
	if tx.Type() == types.BlobTxType {
		m["blobGasUsed"] = hexutil.Uint64(r.BlobGasUsed)
		m["blobGasPrice"] = (*hexutil.Big)(r.BlobGasPrice)
	}
	if r.ContractAddress != (common.Address{}) {
		m["contractAddress"] = r.ContractAddress
	}
	return m
}

// compareFields checks every field of the claimed object that the expected
// object also has; the comparison ignores the case of hex strings. Fields
// only the claim has are not compared: the caller answers with the expected
// object, so they never reach a client.
func compareFields(what string, claimed map[string]json.RawMessage, expected map[string]any) error {
	for k, raw := range claimed {
		want, ok := expected[k]
		if !ok {
			continue
		}
		wantJSON, err := json.Marshal(want)
		if err != nil {
			return fmt.Errorf("%s.%s: encode: %w", what, k, err)
		}
		if !sameJSON(raw, wantJSON) {
			return mismatch(what+"."+k, excerpt(raw), excerpt(wantJSON))
		}
	}
	return nil
}

// sameJSON reports whether two JSON values are equal up to the case of
// strings (hex is case-insensitive) and an empty list standing for null.
func sameJSON(a, b []byte) bool {
	if bytes.Equal(a, b) {
		return true // the common case, and it skips decoding large values
	}
	var va, vb any
	if json.Unmarshal(a, &va) != nil || json.Unmarshal(b, &vb) != nil {
		return false
	}
	return reflect.DeepEqual(lower(va), lower(vb))
}

// lower lowercases every string in a decoded JSON value.
func lower(v any) any {
	switch t := v.(type) {
	case string:
		return strings.ToLower(t)
	case []any:
		if len(t) == 0 {
			return nil // [] and null say the same: nothing
		}
		for i := range t {
			t[i] = lower(t[i])
		}
	case map[string]any:
		for k := range t {
			t[k] = lower(t[k])
		}
	}
	return v
}

// excerpt shortens a JSON value for error messages and evidence.
func excerpt(b []byte) string {
	const max = 160
	if len(b) <= max {
		return string(b)
	}
	return string(b[:max]) + "…"
}
