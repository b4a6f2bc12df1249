package verify

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/params"
)

// Caller asks one provider one JSON-RPC call and returns its raw result.
// The functions below fetch through it and verify what comes back; the
// Caller itself is not trusted.
type Caller func(ctx context.Context, method string, params json.RawMessage) (json.RawMessage, error)

// Params encodes JSON-RPC params.
func Params(args ...any) json.RawMessage { return mustMarshal(args) }

// ByHash is an EIP-1898 block parameter that pins a call to one block.
func ByHash(h common.Hash) map[string]any {
	return map[string]any{"blockHash": h, "requireCanonical": false}
}

// ProofParams are eth_getProof's params for address and slots at the block
// with hash block: the bytes Params(address, slots, ByHash(block)) makes,
// built directly (every proven state read sends them; json.Marshal of that
// []any and map was 3 % of a proven read's CPU).
func ProofParams(address common.Address, slots []common.Hash, block common.Hash) json.RawMessage {
	b := make([]byte, 0, 64+len(slots)*69+96)
	b = append(b, `["0x`...)
	b = hex.AppendEncode(b, address[:])
	b = append(b, `",[`...)
	for i, s := range slots {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `"0x`...)
		b = hex.AppendEncode(b, s[:])
		b = append(b, '"')
	}
	b = append(b, `],{"blockHash":"0x`...)
	b = hex.AppendEncode(b, block[:])
	return append(b, `","requireCanonical":false}]`...)
}

// ProveAccount asks for an eth_getProof of address and slots at the trusted
// header (by hash, so the provider cannot answer about another block) and
// verifies it against the header's stateRoot.
func ProveAccount(ctx context.Context, call Caller, h *types.Header, address common.Address, slots []common.Hash) (*Account, json.RawMessage, error) {
	if slots == nil {
		slots = []common.Hash{}
	}
	raw, err := call(ctx, "eth_getProof", ProofParams(address, slots, h.Hash()))
	if err != nil {
		return nil, nil, fmt.Errorf("eth_getProof: %w", err)
	}
	res, err := DecodeAccountResult(raw)
	if err != nil {
		return nil, raw, err
	}
	acc, err := VerifyAccountProof(h.Root, address, slots, res)
	return acc, raw, err
}

// FetchBlock asks for the block with the trusted hash, with full
// transactions, and verifies it.
func FetchBlock(ctx context.Context, call Caller, hash common.Hash, config *params.ChainConfig) (*Block, json.RawMessage, error) {
	raw, err := call(ctx, "eth_getBlockByHash", Params(hash, true))
	if err != nil {
		return nil, nil, fmt.Errorf("eth_getBlockByHash: %w", err)
	}
	b, err := VerifyBlock(raw, config)
	if err != nil {
		return nil, raw, err
	}
	if b.Hash != hash {
		return nil, raw, &MismatchError{What: "hash", Claimed: b.Hash.Hex(), Proven: hash.Hex(), Err: ErrHashMismatch}
	}
	if !b.FullTransactions {
		return nil, raw, malformed("eth_getBlockByHash", fmt.Errorf("hashes where full transactions were asked"))
	}
	return b, raw, nil
}

// FetchUncles asks for the uncle headers of a verified block that lists
// uncles (eth_getUncleByBlockHashAndIndex) and proves them against its
// sha3Uncles (Block.ProveUncles).
func FetchUncles(ctx context.Context, call Caller, b *Block) error {
	answers := make([]json.RawMessage, len(b.UncleHashes))
	for i := range b.UncleHashes {
		raw, err := call(ctx, "eth_getUncleByBlockHashAndIndex", Params(b.Hash, hexutil.Uint64(i)))
		if err != nil {
			return fmt.Errorf("eth_getUncleByBlockHashAndIndex: %w", err)
		}
		answers[i] = raw
	}
	return b.ProveUncles(answers)
}

// FetchReceipts asks for a verified block's receipts and verifies them.
func FetchReceipts(ctx context.Context, call Caller, b *Block, config *params.ChainConfig) (*Receipts, json.RawMessage, error) {
	if len(b.Transactions) == 0 {
		return EmptyReceipts(b), nil, nil
	}
	raw, err := call(ctx, "eth_getBlockReceipts", Params(b.Hash))
	if err != nil {
		return nil, nil, fmt.Errorf("eth_getBlockReceipts: %w", err)
	}
	rs, err := VerifyBlockReceipts(raw, b, config)
	return rs, raw, err
}

// EmptyReceipts returns the (empty) receipts of a verified block
// without transactions, which need no fetch.
func EmptyReceipts(b *Block) *Receipts {
	return &Receipts{Block: b, Receipts: types.Receipts{}, Senders: []common.Address{}}
}

// LogRange is what DeriveLogs did: how many blocks it looked at and how
// many of those the blooms let it skip.
type LogRange struct {
	Blocks  int
	Skipped int
}

// ReceiptsOf returns the verified receipts of the block with the trusted
// header h (fetched, or kept from an earlier fetch).
type ReceiptsOf func(ctx context.Context, h *types.Header) (*Receipts, error)

// FetchedReceipts is a ReceiptsOf that fetches the block and its receipts
// through call and verifies them.
func FetchedReceipts(call Caller, config *params.ChainConfig) ReceiptsOf {
	return func(ctx context.Context, h *types.Header) (*Receipts, error) {
		b, _, err := FetchBlock(ctx, call, h.Hash(), config)
		if err != nil {
			return nil, err
		}
		rs, _, err := FetchReceipts(ctx, call, b, config)
		if err != nil {
			return nil, fmt.Errorf("receipts: %w", err)
		}
		return rs, nil
	}
}

// DeriveLogs derives the logs filter selects in blocks from..to (inclusive)
// from verified receipts: each block's header comes from trust, blocks
// whose bloom cannot match are skipped, the others' receipts come from
// receipts. More than maxBlocks blocks to verify is ErrUnverifiable (the
// caller falls back to quorum).
func DeriveLogs(ctx context.Context, receipts ReceiptsOf, trust TrustSource, from, to uint64, filter LogFilter, maxBlocks int) ([]*types.Log, LogRange, error) {
	var out []*types.Log
	var lr LogRange
	if to < from {
		return nil, lr, nil
	}
	for n := from; n <= to; n++ {
		if err := ctx.Err(); err != nil {
			return nil, lr, err
		}
		lr.Blocks++
		h, err := trust.HeaderByNumber(ctx, n)
		if err != nil {
			return nil, lr, err
		}
		if !filter.MayMatch(h.Bloom) {
			lr.Skipped++
			continue
		}
		if lr.Blocks-lr.Skipped > maxBlocks {
			return nil, lr, fmt.Errorf("more than %d blocks may hold matching logs: %w", maxBlocks, ErrUnverifiable)
		}
		rs, err := receipts(ctx, h)
		if err != nil {
			return nil, lr, fmt.Errorf("block %d: %w", n, err)
		}
		out = append(out, rs.Logs(filter)...)
		if n == to { // to may be the largest uint64
			break
		}
	}
	return out, lr, nil
}
