package verify

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
)

func TestVerifyBlockReceipts(t *testing.T) {
	f := newChainFixture(t)
	for i := range f.blocks {
		raw := f.receiptsJSON(t, i)
		rs, err := VerifyBlockReceipts(raw, f.verified(i), f.config)
		if err != nil {
			t.Fatalf("block %d: honest receipts rejected: %v", i, err)
		}
		out, err := rs.JSON()
		if err != nil || !sameJSON(out, raw) {
			t.Fatalf("block %d: rebuilt receipts differ: %v\n%s\n%s", i, err, out, raw)
		}
	}
	raw := f.receiptsJSON(t, 1)
	edits := func(fn func(rs []any)) json.RawMessage {
		var rs []any
		if err := json.Unmarshal(raw, &rs); err != nil {
			t.Fatal(err)
		}
		fn(rs)
		b, _ := json.Marshal(rs)
		return b
	}
	r := func(rs []any, i int) map[string]any { return rs[i].(map[string]any) }
	log0 := func(rs []any, i int) map[string]any { return r(rs, i)["logs"].([]any)[0].(map[string]any) }
	tests := []struct {
		name string
		raw  json.RawMessage
		want error
	}{
		{"status flipped", edits(func(rs []any) { r(rs, 4)["status"] = "0x1" }), ErrRootMismatch},
		{"status flipped on success", edits(func(rs []any) { r(rs, 0)["status"] = "0x0" }), ErrRootMismatch},
		{"cumulative gas", edits(func(rs []any) { r(rs, 0)["cumulativeGasUsed"] = "0x1" }), ErrRootMismatch},
		{"log data", edits(func(rs []any) { log0(rs, 0)["data"] = "0x00" }), ErrRootMismatch},
		{"log topic", edits(func(rs []any) { log0(rs, 0)["topics"] = []any{common.Hash{1}.Hex()} }), ErrRootMismatch},
		{"log address", edits(func(rs []any) { log0(rs, 0)["address"] = common.Address{1}.Hex() }), ErrRootMismatch},
		{"log dropped", edits(func(rs []any) { r(rs, 0)["logs"] = []any{} }), ErrRootMismatch},
		{"bloom", edits(func(rs []any) { r(rs, 0)["logsBloom"] = types.Bloom{1}.Bytes() }), ErrMalformed},
		{"receipt dropped", edits(func(rs []any) { rs[0] = rs[1] }), ErrRootMismatch},
		{"too few", edits(func(rs []any) {})[:0], ErrMalformed},
		{"gasUsed", edits(func(rs []any) { r(rs, 1)["gasUsed"] = "0x5" }), ErrValueMismatch},
		{"effectiveGasPrice", edits(func(rs []any) { r(rs, 1)["effectiveGasPrice"] = "0x5" }), ErrValueMismatch},
		{"from", edits(func(rs []any) { r(rs, 1)["from"] = common.Address{5}.Hex() }), ErrValueMismatch},
		{"to", edits(func(rs []any) { r(rs, 1)["to"] = common.Address{5}.Hex() }), ErrValueMismatch},
		{"transactionHash", edits(func(rs []any) { r(rs, 1)["transactionHash"] = common.Hash{5}.Hex() }), ErrValueMismatch},
		{"blockHash", edits(func(rs []any) { r(rs, 1)["blockHash"] = common.Hash{5}.Hex() }), ErrValueMismatch},
		{"contractAddress", edits(func(rs []any) { r(rs, 1)["contractAddress"] = common.Address{5}.Hex() }), ErrValueMismatch},
		{"log index", edits(func(rs []any) { log0(rs, 1)["logIndex"] = "0x0" }), ErrValueMismatch},
		{"log removed", edits(func(rs []any) { log0(rs, 1)["removed"] = true }), ErrValueMismatch},
		{"log blockNumber", edits(func(rs []any) { log0(rs, 1)["blockNumber"] = "0x9" }), ErrValueMismatch},
		{"null", json.RawMessage(`null`), ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := VerifyBlockReceipts(tt.raw, f.verified(1), f.config); !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
		})
	}
	// Another block's receipts against this block.
	if _, err := VerifyBlockReceipts(f.receiptsJSON(t, 3), f.verified(1), f.config); err == nil {
		t.Fatal("another block's receipts accepted")
	}
	if _, err := VerifyBlockReceipts(raw, &Block{Header: f.blocks[1].Header()}, f.config); !errors.Is(err, ErrUnverifiable) {
		t.Fatalf("without full block: %v", err)
	}
}

func TestVerifyReceipt(t *testing.T) {
	f := newChainFixture(t)
	rs, err := VerifyBlockReceipts(f.receiptsJSON(t, 1), f.verified(1), f.config)
	if err != nil {
		t.Fatal(err)
	}
	var items []json.RawMessage
	_ = json.Unmarshal(f.receiptsJSON(t, 1), &items)
	for i, it := range items {
		out, err := VerifyReceipt(it, f.blocks[1].Transactions()[i].Hash(), rs)
		if err != nil || !sameJSON(out, it) {
			t.Fatalf("receipt %d: %v", i, err)
		}
	}
	hash := f.blocks[1].Transactions()[0].Hash()
	tests := []struct {
		name string
		raw  json.RawMessage
		want error
	}{
		{"status", edit(t, items[0], func(m map[string]any) { m["status"] = "0x0" }), ErrValueMismatch},
		{"log data", edit(t, items[0], func(m map[string]any) {
			m["logs"].([]any)[0].(map[string]any)["data"] = "0x01"
		}), ErrValueMismatch},
		{"other receipt", items[1], ErrValueMismatch},
		{"other block", edit(t, items[0], func(m map[string]any) { m["blockHash"] = common.Hash{1}.Hex() }), ErrNotIncluded},
		{"other index", edit(t, items[0], func(m map[string]any) { m["transactionIndex"] = "0x2" }), ErrNotIncluded},
	}
	for _, tt := range tests {
		if _, err := VerifyReceipt(tt.raw, hash, rs); !errors.Is(err, tt.want) {
			t.Errorf("%s: got %v, want %v", tt.name, err, tt.want)
		}
	}
}

func TestLogs(t *testing.T) {
	f := newChainFixture(t)
	all, err := DecodeLogFilter(json.RawMessage(`{"fromBlock":"0x1"}`))
	if err != nil {
		t.Fatal(err)
	}
	byTopic, _ := DecodeLogFilter(json.RawMessage(`{"address":"` + f.emitter.Hex() + `","topics":["` + f.topic.Hex() + `"]}`))
	byList, _ := DecodeLogFilter(json.RawMessage(`{"address":["` + f.emitter.Hex() + `","0x0000000000000000000000000000000000000001"],"topics":[["` + f.topic.Hex() + `",null]]}`))
	none, _ := DecodeLogFilter(json.RawMessage(`{"address":"0x0000000000000000000000000000000000000001"}`))
	wrongTopic, _ := DecodeLogFilter(json.RawMessage(`{"topics":[null,"` + f.topic.Hex() + `"]}`))
	tests := []struct {
		name   string
		filter LogFilter
		want   int // logs over the whole fixture chain
	}{
		{"all", all, 4},
		{"address and topic", byTopic, 4},
		{"lists with null alternative", byList, 4},
		{"other address", none, 0},
		{"topic at wrong position", wrongTopic, 0},
	}
	for _, tt := range tests {
		var derived []*types.Log
		for i := range f.blocks {
			if !tt.filter.MayMatch(f.blocks[i].Bloom()) {
				continue
			}
			rs, err := VerifyBlockReceipts(f.receiptsJSON(t, i), f.verified(i), f.config)
			if err != nil {
				t.Fatal(err)
			}
			derived = append(derived, rs.Logs(tt.filter)...)
		}
		if len(derived) != tt.want {
			t.Errorf("%s: %d logs, want %d", tt.name, len(derived), tt.want)
		}
		honest, _ := json.Marshal(derived)
		if derived == nil {
			honest = []byte(`[]`)
		}
		if out, err := VerifyLogs(honest, derived); err != nil || !sameJSON(out, honest) {
			t.Errorf("%s: honest logs: %v", tt.name, err)
		}
		if len(derived) == 0 {
			if _, err := VerifyLogs(json.RawMessage(`[{"address":"0x01"}]`), derived); !errors.Is(err, ErrValueMismatch) {
				t.Errorf("%s: invented log: %v", tt.name, err)
			}
			continue
		}
		lies := map[string]json.RawMessage{
			"data":    editList(t, honest, 0, func(m map[string]any) { m["data"] = "0xff" }),
			"index":   editList(t, honest, 0, func(m map[string]any) { m["logIndex"] = "0x7" }),
			"dropped": honest[:0],
		}
		for what, raw := range lies {
			if _, err := VerifyLogs(raw, derived); err == nil {
				t.Errorf("%s: lie %s accepted", tt.name, what)
			}
		}
	}
	if none.MayMatch(types.Bloom{}) {
		t.Error("empty bloom matches an address")
	}
	if _, err := DecodeLogFilter(json.RawMessage(`{"topics":[1]}`)); !errors.Is(err, ErrMalformed) {
		t.Errorf("bad topics: %v", err)
	}
}

// editList edits element i of a JSON list of objects.
func editList(t testing.TB, raw json.RawMessage, i int, fn func(m map[string]any)) json.RawMessage {
	t.Helper()
	var l []map[string]any
	if err := json.Unmarshal(raw, &l); err != nil {
		t.Fatal(err)
	}
	fn(l[i])
	b, _ := json.Marshal(l)
	return b
}
