// Package txbroadcast sends a client's signed transaction so that no single
// operator can censor or lose it: the transaction is decoded and checked
// locally (type, chain ID, signature, size) before any provider sees it,
// then sent in parallel to providers of distinct operators and clouds; the
// first acceptance answers the client, and node rejections are normalised
// to documented codes (docs/transactions.md).
package txbroadcast

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/rpcmesh/rpcmesh/internal/jsonrpc"
)

// Limits bound what Decode accepts.
type Limits struct {
	ChainID        uint64
	MaxTxBytes     int64 // a transaction without blobs
	MaxBlobTxBytes int64 // a blob transaction with its sidecar
}

// Tx is a decoded, checked transaction ready to broadcast.
type Tx struct {
	Raw   []byte
	Tx    *types.Transaction
	Hash  common.Hash
	From  common.Address
	Nonce uint64
}

// Decode reads eth_sendRawTransaction's params (one hex string) and checks
// the transaction: any type go-ethereum knows, the chain's ID, a valid
// signature, size bounds. Every failure is a *jsonrpc.Error with code
// -32602 and a data.reason naming the check (see docs/transactions.md).
func Decode(params json.RawMessage, lim Limits) (*Tx, error) {
	var args []json.RawMessage
	if err := json.Unmarshal(params, &args); err != nil || len(args) != 1 {
		return nil, invalid(ReasonBadParams, "eth_sendRawTransaction expects one param: the signed transaction as hex")
	}
	// Bound the input before decoding it: hex is two characters a byte.
	if int64(len(args[0])) > 2*lim.MaxBlobTxBytes+4 {
		return nil, invalid(ReasonOversize, fmt.Sprintf("transaction larger than %d bytes", lim.MaxBlobTxBytes))
	}
	var raw hexutil.Bytes
	if err := json.Unmarshal(args[0], &raw); err != nil {
		return nil, invalid(ReasonBadParams, "transaction is not a 0x-prefixed hex string")
	}
	tx := new(types.Transaction)
	if err := tx.UnmarshalBinary(raw); err != nil {
		msg := "the bytes are not an encoded transaction" // rlp's own words name Go types
		if errors.Is(err, types.ErrTxTypeNotSupported) {
			msg = err.Error()
		}
		return nil, invalid(ReasonMalformed, "malformed transaction: "+msg)
	}
	if err := checkSize(tx, len(raw), lim); err != nil {
		return nil, err
	}
	want := new(big.Int).SetUint64(lim.ChainID)
	if tx.Type() == types.LegacyTxType && !tx.Protected() {
		return nil, invalid(ReasonChainID, "only replay-protected (EIP-155) transactions are accepted")
	}
	if got := tx.ChainId(); got == nil || got.Cmp(want) != 0 {
		return nil, invalid(ReasonChainID, fmt.Sprintf("wrong chain ID %v: this chain's ID is %d", got, lim.ChainID))
	}
	from, err := types.Sender(types.LatestSignerForChainID(want), tx)
	if err != nil {
		return nil, invalid(ReasonSignature, "invalid signature: "+err.Error())
	}
	return &Tx{Raw: raw, Tx: tx, Hash: tx.Hash(), From: from, Nonce: tx.Nonce()}, nil
}

// checkSize applies the size bound of the transaction's kind; a blob
// transaction must carry its sidecar (the network form nodes accept).
func checkSize(tx *types.Transaction, n int, lim Limits) error {
	if tx.Type() == types.BlobTxType {
		if tx.BlobTxSidecar() == nil {
			return invalid(ReasonMalformed, "blob transaction without its sidecar (send the network form with blobs, commitments and proofs)")
		}
		if int64(n) > lim.MaxBlobTxBytes {
			return invalid(ReasonOversize, fmt.Sprintf("blob transaction of %d bytes is larger than %d", n, lim.MaxBlobTxBytes))
		}
		return nil
	}
	if int64(n) > lim.MaxTxBytes {
		return invalid(ReasonOversize, fmt.Sprintf("transaction of %d bytes is larger than %d", n, lim.MaxTxBytes))
	}
	return nil
}

// invalid builds the -32602 error for a transaction refused before sending.
func invalid(reason Reason, msg string) *jsonrpc.Error {
	data, _ := json.Marshal(map[string]string{"reason": string(reason)})
	return &jsonrpc.Error{Code: jsonrpc.CodeInvalidParams, Message: "invalid transaction: " + msg, Data: data}
}

// ReasonOf returns the data.reason of an error built by this package ("" if none).
func ReasonOf(err error) Reason {
	var je *jsonrpc.Error
	if !errors.As(err, &je) || len(je.Data) == 0 {
		return ""
	}
	var d struct {
		Reason Reason `json:"reason"`
	}
	_ = json.Unmarshal(je.Data, &d)
	return d.Reason
}

// FromRaw decodes a transaction that Decode already checked (one read back
// from the watch's store), without the checks.
func FromRaw(raw []byte) (*Tx, error) {
	tx := new(types.Transaction)
	if err := tx.UnmarshalBinary(raw); err != nil {
		return nil, fmt.Errorf("txbroadcast: decode stored transaction: %w", err)
	}
	from, err := types.Sender(types.LatestSignerForChainID(tx.ChainId()), tx)
	if err != nil {
		return nil, fmt.Errorf("txbroadcast: stored transaction sender: %w", err)
	}
	return &Tx{Raw: raw, Tx: tx, Hash: tx.Hash(), From: from, Nonce: tx.Nonce()}, nil
}
