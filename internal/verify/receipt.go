package verify

import (
	"encoding/json"
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/consensus/misc/eip4844"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/params"
	"github.com/ethereum/go-ethereum/trie"
)

// Receipts are one block's receipts, verified against its receiptsRoot,
// with every derived field (gas used, log indexes, contract address, ...)
// recomputed from the verified block.
type Receipts struct {
	Block    *Block
	Receipts types.Receipts
	Senders  []common.Address
}

// VerifyBlockReceipts verifies an eth_getBlockReceipts answer against a
// verified full block: the consensus fields (type, status, cumulative gas,
// bloom, logs) must hash to the header's receiptsRoot, and every derived
// field the answer states must equal the one recomputed from the block.
func VerifyBlockReceipts(raw json.RawMessage, block *Block, config *params.ChainConfig) (*Receipts, error) {
	if block == nil || !block.FullTransactions {
		return nil, fmt.Errorf("receipts need a verified full block: %w", ErrUnverifiable)
	}
	if len(raw) > maxAnswerBytes || isNull(raw) {
		return nil, malformed("receipts", fmt.Errorf("null or oversized"))
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, malformed("receipts", err)
	}
	if len(items) != len(block.Transactions) {
		return nil, mismatch("receipts length", len(items), len(block.Transactions))
	}
	claimed := make([]map[string]json.RawMessage, len(items))
	rs := make(types.Receipts, len(items))
	for i, it := range items {
		r, fields, err := decodeReceipt(it)
		if err != nil {
			return nil, fmt.Errorf("receipts[%d]: %w", i, err)
		}
		rs[i], claimed[i] = r, fields
	}
	h := block.Header
	if root := types.DeriveSha(rs, trie.NewStackTrie(nil)); root != h.ReceiptHash {
		return nil, &MismatchError{What: "receiptsRoot", Claimed: root.Hex(), Proven: h.ReceiptHash.Hex(), Err: ErrRootMismatch}
	}
	blobPrice, err := blobGasPrice(config, h)
	if err != nil {
		return nil, err
	}
	if err := rs.DeriveFields(config, block.Hash, h.Number.Uint64(), h.Time, h.BaseFee, blobPrice, block.Transactions); err != nil {
		return nil, fmt.Errorf("derive receipt fields: %w: %v", ErrUnverifiable, err)
	}
	out := &Receipts{Block: block, Receipts: rs, Senders: make([]common.Address, len(rs))}
	signer := types.MakeSigner(config, h.Number, h.Time)
	for i, tx := range block.Transactions {
		from, err := types.Sender(signer, tx)
		if err != nil {
			return nil, fmt.Errorf("transaction %d sender: %w: %v", i, ErrNotIncluded, err)
		}
		out.Senders[i] = from
		if err := compareReceipt(fmt.Sprintf("receipts[%d]", i), claimed[i], out.receiptFields(i)); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// decodeReceipt decodes one receipt object and keeps only its consensus
// fields for hashing, plus the object's raw fields for comparison.
func decodeReceipt(raw json.RawMessage) (*types.Receipt, map[string]json.RawMessage, error) {
	var full types.Receipt
	if err := json.Unmarshal(raw, &full); err != nil {
		return nil, nil, malformed("receipt", err)
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return nil, nil, malformed("receipt", err)
	}
	r := &types.Receipt{Type: full.Type, PostState: full.PostState, Status: full.Status, CumulativeGasUsed: full.CumulativeGasUsed, Bloom: full.Bloom}
	r.Logs = make([]*types.Log, len(full.Logs))
	for j, l := range full.Logs {
		if l == nil {
			return nil, nil, malformed("receipt log", fmt.Errorf("null"))
		}
		r.Logs[j] = &types.Log{Address: l.Address, Topics: l.Topics, Data: l.Data}
	}
	return r, fields, nil
}

// compareReceipt compares a claimed receipt object with the expected one,
// each log field by field (clients differ in which log fields they send).
func compareReceipt(what string, claimed map[string]json.RawMessage, expected map[string]any) error {
	logs := claimed["logs"]
	delete(claimed, "logs")
	if err := compareFields(what, claimed, expected); err != nil {
		return err
	}
	return compareLogList(what+".logs", logs, expected["logs"].([]*types.Log))
}

// compareLogList compares a claimed list of log objects with verified logs.
func compareLogList(what string, raw json.RawMessage, want []*types.Log) error {
	var items []map[string]json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil && !isNull(raw) {
		return malformed(what, err)
	}
	if len(items) != len(want) {
		return mismatch(what+" length", len(items), len(want))
	}
	for i, l := range want {
		exp, err := logFields(l)
		if err != nil {
			return err
		}
		if err := compareFields(fmt.Sprintf("%s[%d]", what, i), items[i], exp); err != nil {
			return err
		}
	}
	return nil
}

// logFields is a log's RPC object as a map, with go-ethereum's field
// encodings (types.Log's MarshalJSON), built directly: a block's logs can
// hold megabytes of data, and a round trip through JSON per log cost more
// than the rest of a receipt check.
func logFields(l *types.Log) (map[string]any, error) {
	topics := l.Topics
	if topics == nil {
		topics = []common.Hash{}
	}
	return map[string]any{
		"address":          l.Address,
		"topics":           topics,
		"data":             hexutil.Bytes(l.Data),
		"blockNumber":      hexutil.Uint64(l.BlockNumber),
		"transactionHash":  l.TxHash,
		"transactionIndex": hexutil.Uint(l.TxIndex),
		"blockHash":        l.BlockHash,
		"blockTimestamp":   hexutil.Uint64(l.BlockTimestamp),
		"logIndex":         hexutil.Uint(l.Index),
		"removed":          l.Removed,
	}, nil
}

// receiptFields is the RPC object of receipt i.
func (r *Receipts) receiptFields(i int) map[string]any {
	return receiptFields(r.Receipts[i], r.Block.Transactions[i], r.Senders[i])
}

// JSON is the eth_getBlockReceipts answer built from verified data.
func (r *Receipts) JSON() (json.RawMessage, error) {
	out := make([]map[string]any, len(r.Receipts))
	for i := range r.Receipts {
		out[i] = r.receiptFields(i)
	}
	return json.Marshal(out)
}

// Index returns the position of the transaction hash in the block.
func (r *Receipts) Index(hash common.Hash) (int, bool) {
	for i, tx := range r.Block.Transactions {
		if tx.Hash() == hash {
			return i, true
		}
	}
	return 0, false
}

// VerifyReceipt checks an eth_getTransactionReceipt answer for hash against
// the verified receipts of the block it claims to be in, and returns the
// receipt's RPC object built from verified data.
func VerifyReceipt(raw json.RawMessage, hash common.Hash, rs *Receipts) (json.RawMessage, error) {
	loc, err := DecodeTxLocation(raw)
	if err != nil {
		return nil, err
	}
	if loc.Hash != hash {
		return nil, mismatch("transactionHash", loc.Hash.Hex(), hash.Hex())
	}
	if rs == nil {
		return nil, fmt.Errorf("no verified receipts for %s: %w", hash.Hex(), ErrUnverifiable)
	}
	if loc.BlockHash != rs.Block.Hash {
		return nil, &MismatchError{What: "blockHash", Claimed: loc.BlockHash.Hex(), Proven: rs.Block.Hash.Hex(), Err: ErrNotIncluded}
	}
	i, ok := rs.Index(hash)
	if !ok || uint64(i) != loc.TransactionIndex {
		return nil, &MismatchError{What: "transactionIndex", Claimed: fmt.Sprint(loc.TransactionIndex), Proven: fmt.Sprint(i), Err: ErrNotIncluded}
	}
	var claimed map[string]json.RawMessage
	if err := json.Unmarshal(raw, &claimed); err != nil {
		return nil, malformed("receipt", err)
	}
	if err := compareReceipt("receipt", claimed, rs.receiptFields(i)); err != nil {
		return nil, err
	}
	return json.Marshal(rs.receiptFields(i))
}

// blobGasPrice is the block's blob base fee, nil before Cancun.
func blobGasPrice(config *params.ChainConfig, h *types.Header) (price *big.Int, err error) {
	if h.ExcessBlobGas == nil {
		return nil, nil
	}
	defer func() {
		// CalcBlobFee panics on a fork it has no blob schedule for.
		if recover() != nil {
			price, err = nil, fmt.Errorf("no blob schedule for block %d: %w", h.Number, ErrUnverifiable)
		}
	}()
	return eip4844.CalcBlobFee(config, h), nil
}
