package verify

import (
	"encoding/json"
	"fmt"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/params"
	"github.com/ethereum/go-ethereum/trie"
)

// maxBlockTransactions bounds the transactions of one block answer.
const maxBlockTransactions = 1 << 16

// Block is a block whose contents were verified against its header.
type Block struct {
	Header *types.Header
	Hash   common.Hash
	// Transactions is the verified list when the answer carried full
	// transactions; nil when it carried only hashes (see FullTransactions).
	Transactions types.Transactions
	// TxHashes are the transaction hashes, in block order. When the answer
	// carried only hashes they are not proven by themselves: a caller that
	// returns them must check them against a full block (MatchHashes).
	TxHashes         []common.Hash
	FullTransactions bool
	Withdrawals      types.Withdrawals // nil before Shanghai
	// UncleHashes are the uncles the answer listed (pre-merge blocks).
	// They are proven only once ProveUncles checked the uncle headers
	// against sha3Uncles; until then JSON refuses to answer.
	UncleHashes []common.Hash
	Uncles      []*types.Header // the proven uncle headers
	claimedSize *hexutil.Uint64
}

// maxUncles bounds the uncles of one block (Ethereum allows 2).
const maxUncles = 16

// blockBody is the part of a block answer beyond the header.
type blockBody struct {
	Transactions []json.RawMessage  `json:"transactions"`
	Uncles       []common.Hash      `json:"uncles"`
	Withdrawals  *types.Withdrawals `json:"withdrawals"`
	Size         *hexutil.Uint64    `json:"size"`
}

// VerifyBlock verifies a block answer (eth_getBlockByNumber/ByHash, with
// full transactions or hashes): the hash is recomputed from the header
// fields; with full transactions, every transaction's location and sender
// fields and the transactionsRoot; the withdrawalsRoot; the uncles (none
// after the merge); and the size when full. config gives the signer for
// the block's transactions.
func VerifyBlock(raw json.RawMessage, config *params.ChainConfig) (*Block, error) {
	h, err := DecodeHeader(raw)
	if err != nil {
		return nil, err
	}
	var body blockBody
	if err := json.Unmarshal(raw, &body); err != nil {
		return nil, malformed("block body", err)
	}
	if len(body.Transactions) > maxBlockTransactions {
		return nil, malformed("block body", fmt.Errorf("%d transactions", len(body.Transactions)))
	}
	b := &Block{Header: h, Hash: h.Hash()}
	if err := b.setTransactions(body.Transactions, config); err != nil {
		return nil, err
	}
	if err := b.setWithdrawals(body.Withdrawals); err != nil {
		return nil, err
	}
	switch {
	case h.UncleHash == types.EmptyUncleHash && len(body.Uncles) != 0:
		return nil, mismatch("uncles", len(body.Uncles), "none (sha3Uncles is the empty list's)")
	case h.UncleHash != types.EmptyUncleHash:
		// Uncle hashes alone cannot prove sha3Uncles (pre-merge blocks):
		// the caller fetches the uncle headers and calls ProveUncles. The
		// transactions and withdrawals are proven without them.
		if len(body.Uncles) == 0 || len(body.Uncles) > maxUncles {
			return nil, mismatch("uncles", len(body.Uncles), "1 to "+fmt.Sprint(maxUncles)+" (sha3Uncles is not the empty list's)")
		}
		b.UncleHashes, b.claimedSize = body.Uncles, body.Size
		return b, nil
	}
	return b, b.checkSize(body.Size)
}

// NeedsUncles reports whether the block lists uncles not yet proven.
func (b *Block) NeedsUncles() bool { return len(b.UncleHashes) > 0 && b.Uncles == nil }

// ProveUncles checks the uncle header answers (one per listed uncle, in
// order; eth_getUncleByBlockHashAndIndex) against the block: each must
// hash to the listed hash, and together they must hash to sha3Uncles.
func (b *Block) ProveUncles(answers []json.RawMessage) error {
	if len(answers) != len(b.UncleHashes) {
		return mismatch("uncles length", len(answers), len(b.UncleHashes))
	}
	uncles := make([]*types.Header, len(answers))
	for i, raw := range answers {
		u, err := VerifyHeader(raw, b.UncleHashes[i])
		if err != nil {
			return fmt.Errorf("uncle %d: %w", i, err)
		}
		uncles[i] = u
	}
	if got := types.CalcUncleHash(uncles); got != b.Header.UncleHash {
		return &MismatchError{What: "sha3Uncles", Claimed: got.Hex(), Proven: b.Header.UncleHash.Hex(), Err: ErrRootMismatch}
	}
	b.Uncles = uncles
	return b.checkSize(b.claimedSize)
}

// checkSize compares a claimed block size with the verified block's.
func (b *Block) checkSize(claimed *hexutil.Uint64) error {
	if b.FullTransactions && claimed != nil {
		if size := b.gethBlock().Size(); uint64(*claimed) != size {
			return mismatch("size", *claimed, hexutil.Uint64(size))
		}
	}
	return nil
}

// setTransactions decodes and verifies the block's transaction list.
func (b *Block) setTransactions(items []json.RawMessage, config *params.ChainConfig) error {
	if len(items) == 0 {
		if b.Header.TxHash != types.EmptyTxsHash {
			return fmt.Errorf("no transactions but transactionsRoot %s: %w", b.Header.TxHash.Hex(), ErrRootMismatch)
		}
		b.Transactions, b.FullTransactions = types.Transactions{}, true
		return nil
	}
	var probe string
	if json.Unmarshal(items[0], &probe) == nil { // hashes only
		b.TxHashes = make([]common.Hash, len(items))
		for i, it := range items {
			if err := json.Unmarshal(it, &b.TxHashes[i]); err != nil {
				return malformed(fmt.Sprintf("transactions[%d]", i), err)
			}
		}
		return nil
	}
	signer := types.MakeSigner(config, b.Header.Number, b.Header.Time)
	txs := make(types.Transactions, len(items))
	for i, it := range items {
		tx, err := verifyTxObject(it, signer, b.Header, uint64(i))
		if err != nil {
			return fmt.Errorf("transactions[%d]: %w", i, err)
		}
		txs[i] = tx
	}
	if root := types.DeriveSha(txs, trie.NewStackTrie(nil)); root != b.Header.TxHash {
		return &MismatchError{What: "transactionsRoot", Claimed: root.Hex(), Proven: b.Header.TxHash.Hex(), Err: ErrRootMismatch}
	}
	b.Transactions, b.FullTransactions = txs, true
	b.TxHashes = make([]common.Hash, len(txs))
	for i, tx := range txs {
		b.TxHashes[i] = tx.Hash()
	}
	return nil
}

// setWithdrawals checks the withdrawals against the header's withdrawalsRoot.
func (b *Block) setWithdrawals(ws *types.Withdrawals) error {
	root := b.Header.WithdrawalsHash
	switch {
	case root == nil && ws == nil:
		return nil
	case root == nil:
		return fmt.Errorf("withdrawals in a block without withdrawalsRoot: %w", ErrRootMismatch)
	case ws == nil:
		return malformed("block", fmt.Errorf("withdrawals missing"))
	}
	if got := types.DeriveSha(*ws, trie.NewStackTrie(nil)); got != *root {
		return &MismatchError{What: "withdrawalsRoot", Claimed: got.Hex(), Proven: root.Hex(), Err: ErrRootMismatch}
	}
	b.Withdrawals = *ws
	return nil
}

// gethBlock assembles the verified parts as a go-ethereum block.
func (b *Block) gethBlock() *types.Block {
	return types.NewBlockWithHeader(b.Header).WithBody(types.Body{Transactions: b.Transactions, Uncles: b.Uncles, Withdrawals: b.Withdrawals})
}

// MatchHashes checks a hashes-only block against a verified full block of
// the same hash: the transaction hashes must be the full block's, in order.
func (b *Block) MatchHashes(full *Block) error {
	if full == nil || !full.FullTransactions || full.Hash != b.Hash {
		return fmt.Errorf("no verified full block %s: %w", b.Hash.Hex(), ErrUnverifiable)
	}
	if len(b.TxHashes) != len(full.TxHashes) {
		return mismatch("transactions length", len(b.TxHashes), len(full.TxHashes))
	}
	for i := range b.TxHashes {
		if b.TxHashes[i] != full.TxHashes[i] {
			return mismatch(fmt.Sprintf("transactions[%d]", i), b.TxHashes[i].Hex(), full.TxHashes[i].Hex())
		}
	}
	return nil
}

// JSON is the block's RPC object built from verified data only, with full
// transactions or with hashes; full requires FullTransactions.
func (b *Block) JSON(full bool, config *params.ChainConfig) (json.RawMessage, error) {
	if full && !b.FullTransactions {
		return nil, fmt.Errorf("block %s: full transactions not verified: %w", b.Hash.Hex(), ErrUnverifiable)
	}
	if b.NeedsUncles() {
		return nil, fmt.Errorf("block %s: uncles not proven: %w", b.Hash.Hex(), ErrUnverifiable)
	}
	m := headerFields(b.Header)
	m["uncles"] = []common.Hash{}
	if len(b.UncleHashes) > 0 {
		m["uncles"] = b.UncleHashes
	}
	if b.Withdrawals != nil {
		m["withdrawals"] = b.Withdrawals
	}
	if b.FullTransactions {
		m["size"] = hexutil.Uint64(b.gethBlock().Size())
	}
	if !full {
		m["transactions"] = b.TxHashes
		if b.TxHashes == nil {
			m["transactions"] = []common.Hash{}
		}
		return json.Marshal(m)
	}
	signer := types.MakeSigner(config, b.Header.Number, b.Header.Time)
	txs := make([]*rpcTransaction, len(b.Transactions))
	for i, tx := range b.Transactions {
		f, err := txObject(tx, signer, b.Header, uint64(i))
		if err != nil {
			return nil, err
		}
		txs[i] = f
	}
	m["transactions"] = txs
	return json.Marshal(m)
}
