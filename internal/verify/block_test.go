package verify

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
)

func TestDecodeHeaderAndChain(t *testing.T) {
	f := newChainFixture(t)
	var headers []*types.Header
	for i := range f.blocks {
		h, err := VerifyHeader(f.blockJSON(t, i, false), f.blocks[i].Hash())
		if err != nil {
			t.Fatalf("block %d: %v", i, err)
		}
		headers = append(headers, h)
	}
	if err := VerifyChain(headers); err != nil {
		t.Fatalf("honest chain: %v", err)
	}
	if err := VerifyChain([]*types.Header{headers[0], headers[2]}); !errors.Is(err, ErrBrokenChain) {
		t.Fatalf("gap: %v", err)
	}
	if err := VerifyChain([]*types.Header{headers[1], headers[0]}); !errors.Is(err, ErrBrokenChain) {
		t.Fatalf("reversed: %v", err)
	}
	raw := f.blockJSON(t, 1, false)
	tests := []struct {
		name string
		raw  json.RawMessage
		want error
	}{
		{"hash", edit(t, raw, func(m map[string]any) { m["hash"] = common.Hash{1}.Hex() }), ErrHashMismatch},
		{"number", edit(t, raw, func(m map[string]any) { m["number"] = "0x66" }), ErrHashMismatch},
		{"stateRoot", edit(t, raw, func(m map[string]any) { m["stateRoot"] = common.Hash{2}.Hex() }), ErrHashMismatch},
		{"baseFee dropped", edit(t, raw, func(m map[string]any) { delete(m, "baseFeePerGas") }), ErrHashMismatch},
		{"no hash", edit(t, raw, func(m map[string]any) { delete(m, "hash") }), ErrMalformed},
		{"no parent", edit(t, raw, func(m map[string]any) { delete(m, "parentHash") }), ErrMalformed},
		{"null", json.RawMessage(`null`), ErrMalformed},
		{"not an object", json.RawMessage(`[1]`), ErrMalformed},
	}
	for _, tt := range tests {
		if _, err := DecodeHeader(tt.raw); !errors.Is(err, tt.want) {
			t.Errorf("%s: got %v, want %v", tt.name, err, tt.want)
		}
	}
	// A self-consistent header that is not the trusted one.
	if _, err := VerifyHeader(f.blockJSON(t, 2, false), f.blocks[1].Hash()); !errors.Is(err, ErrHashMismatch) {
		t.Fatalf("other block accepted: %v", err)
	}
}

func TestVerifyBlock(t *testing.T) {
	f := newChainFixture(t)
	for i := range f.blocks {
		for _, full := range []bool{true, false} {
			raw := f.blockJSON(t, i, full)
			b, err := VerifyBlock(raw, f.config)
			if err != nil {
				t.Fatalf("block %d full=%v: %v", i, full, err)
			}
			if b.Hash != f.blocks[i].Hash() || b.FullTransactions != (full || len(f.blocks[i].Transactions()) == 0) {
				t.Fatalf("block %d: verified %+v", i, b)
			}
			if !full {
				if err := b.MatchHashes(f.verified(i)); err != nil {
					t.Fatalf("hashes of block %d: %v", i, err)
				}
			}
			out, err := b.JSON(b.FullTransactions, f.config)
			want := f.blockJSON(t, i, b.FullTransactions)
			if !b.FullTransactions { // a hashes-only answer cannot prove the size
				want = edit(t, want, func(m map[string]any) { delete(m, "size") })
			}
			if err != nil || !sameJSON(out, want) {
				t.Fatalf("block %d rebuilt differently: %v", i, err)
			}
		}
	}
	raw := f.blockJSON(t, 1, true)
	tx := func(m map[string]any, j int) map[string]any { return m["transactions"].([]any)[j].(map[string]any) }
	tests := []struct {
		name   string
		tamper func(m map[string]any)
		want   error
	}{
		{"tx value", func(m map[string]any) { tx(m, 3)["value"] = "0x3" }, ErrValueMismatch},
		{"tx value, hash and from left out", func(m map[string]any) {
			tx(m, 3)["value"] = "0x3"
			delete(tx(m, 3), "hash")
			delete(tx(m, 3), "from")
		}, ErrRootMismatch},
		{"tx input", func(m map[string]any) { tx(m, 0)["input"] = "0x01" }, ErrValueMismatch},
		{"tx dropped", func(m map[string]any) { m["transactions"] = m["transactions"].([]any)[1:] }, ErrValueMismatch},
		{"tx dropped, indexes left out", func(m map[string]any) {
			m["transactions"] = m["transactions"].([]any)[1:]
			for j := range m["transactions"].([]any) {
				delete(tx(m, j), "transactionIndex")
			}
		}, ErrRootMismatch},
		{"tx reordered", func(m map[string]any) { ts := m["transactions"].([]any); ts[0], ts[1] = ts[1], ts[0] }, ErrValueMismatch},
		{"tx from", func(m map[string]any) { tx(m, 0)["from"] = common.Address{1}.Hex() }, ErrValueMismatch},
		{"tx hash", func(m map[string]any) { tx(m, 0)["hash"] = common.Hash{1}.Hex() }, ErrValueMismatch},
		{"tx blockHash", func(m map[string]any) { tx(m, 0)["blockHash"] = common.Hash{1}.Hex() }, ErrValueMismatch},
		{"tx index", func(m map[string]any) { tx(m, 0)["transactionIndex"] = "0x3" }, ErrValueMismatch},
		{"tx gasPrice", func(m map[string]any) { tx(m, 0)["gasPrice"] = "0x1" }, ErrValueMismatch},
		{"tx signature", func(m map[string]any) { tx(m, 0)["s"] = "0x1234" }, ErrValueMismatch},
		{"withdrawal amount", func(m map[string]any) { m["withdrawals"].([]any)[0].(map[string]any)["amount"] = "0x1" }, ErrRootMismatch},
		{"withdrawals dropped", func(m map[string]any) { m["withdrawals"] = []any{} }, ErrRootMismatch},
		{"withdrawals missing", func(m map[string]any) { delete(m, "withdrawals") }, ErrMalformed},
		{"size", func(m map[string]any) { m["size"] = "0x1" }, ErrValueMismatch},
		{"uncles invented", func(m map[string]any) { m["uncles"] = []any{common.Hash{1}.Hex()} }, ErrValueMismatch},
		{"block hash", func(m map[string]any) { m["hash"] = common.Hash{3}.Hex() }, ErrHashMismatch},
		{"tx garbage", func(m map[string]any) { m["transactions"].([]any)[0] = 5 }, ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := VerifyBlock(edit(t, raw, tt.tamper), f.config); !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
		})
	}
	// Hashes-only answers are checked against the full block.
	hashes, err := VerifyBlock(edit(t, f.blockJSON(t, 1, false), func(m map[string]any) {
		ts := m["transactions"].([]any)
		ts[0], ts[1] = ts[1], ts[0]
	}), f.config)
	if err != nil {
		t.Fatal(err)
	}
	if err := hashes.MatchHashes(f.verified(1)); !errors.Is(err, ErrValueMismatch) {
		t.Fatalf("reordered hashes: %v", err)
	}
}

func TestVerifyTransaction(t *testing.T) {
	f := newChainFixture(t)
	block := f.verified(1)
	full, err := block.JSON(true, f.config)
	if err != nil {
		t.Fatal(err)
	}
	var obj struct{ Transactions []json.RawMessage }
	if err := json.Unmarshal(full, &obj); err != nil {
		t.Fatal(err)
	}
	for j, raw := range obj.Transactions {
		hash := block.Transactions[j].Hash()
		out, err := VerifyTransaction(raw, hash, block, f.config)
		if err != nil || !sameJSON(out, raw) {
			t.Fatalf("tx %d: %v", j, err)
		}
	}
	raw, hash := obj.Transactions[2], block.Transactions[2].Hash()
	tests := []struct {
		name  string
		raw   json.RawMessage
		hash  common.Hash
		block *Block
		want  error
	}{
		{"asked another hash", raw, block.Transactions[1].Hash(), block, ErrValueMismatch},
		{"other block", edit(t, raw, func(m map[string]any) { m["blockHash"] = f.blocks[2].Hash().Hex() }), hash, block, ErrNotIncluded},
		{"other index", edit(t, raw, func(m map[string]any) { m["transactionIndex"] = "0x1" }), hash, block, ErrNotIncluded},
		{"index out of range", edit(t, raw, func(m map[string]any) { m["transactionIndex"] = "0x99" }), hash, block, ErrNotIncluded},
		{"value", edit(t, raw, func(m map[string]any) { m["value"] = "0x99" }), hash, block, ErrValueMismatch},
		{"from", edit(t, raw, func(m map[string]any) { m["from"] = common.Address{7}.Hex() }), hash, block, ErrValueMismatch},
		{"pending", edit(t, raw, func(m map[string]any) { m["blockHash"] = nil }), hash, block, ErrUnverifiable},
		{"no block", raw, hash, nil, ErrUnverifiable},
		{"null", json.RawMessage(`null`), hash, block, ErrMalformed},
	}
	for _, tt := range tests {
		if _, err := VerifyTransaction(tt.raw, tt.hash, tt.block, f.config); !errors.Is(err, tt.want) {
			t.Errorf("%s: got %v, want %v", tt.name, err, tt.want)
		}
	}
}

func TestVerifyBlockPreMergeUncles(t *testing.T) {
	f := newChainFixture(t)
	h := types.CopyHeader(f.blocks[2].Header())
	h.UncleHash = common.Hash{1} // as if it had uncles
	m := headerFields(h)
	m["transactions"], m["uncles"], m["withdrawals"] = []any{}, []common.Hash{{2}}, f.blocks[2].Withdrawals()
	raw, _ := json.Marshal(m)
	b, err := VerifyBlock(raw, f.config)
	if err != nil || !b.NeedsUncles() {
		t.Fatalf("block with uncles: %v", err)
	}
	// Until the uncle headers are proven, the block cannot be answered.
	if _, err := b.JSON(false, f.config); !errors.Is(err, ErrUnverifiable) {
		t.Fatalf("answer before the uncles are proven: %v", err)
	}
	uncle, _ := json.Marshal(headerFields(f.blocks[1].Header()))
	if err := b.ProveUncles([]json.RawMessage{uncle}); !errors.Is(err, ErrHashMismatch) {
		t.Fatalf("an uncle that is not the listed one: %v", err)
	}
	if err := b.ProveUncles(nil); !errors.Is(err, ErrValueMismatch) {
		t.Fatalf("missing uncles: %v", err)
	}
}
