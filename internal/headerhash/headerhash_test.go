package headerhash

import (
	"encoding/json"
	"errors"
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
)

// TestDecode: a header whose fields hash to its hash decodes; a changed
// field is a *MismatchError (ErrMismatch); what is no header is another
// error.
func TestDecode(t *testing.T) {
	h := &types.Header{Number: big.NewInt(100), ParentHash: common.Hash{1}, Root: common.Hash{2},
		Difficulty: big.NewInt(0), GasLimit: 30_000_000, BaseFee: big.NewInt(7)}
	good, err := json.Marshal(h) // go-ethereum writes its "hash" too
	if err != nil {
		t.Fatal(err)
	}
	edit := func(key string, v any) json.RawMessage {
		var m map[string]any
		if err := json.Unmarshal(good, &m); err != nil {
			t.Fatal(err)
		}
		if v == nil {
			delete(m, key)
		} else {
			m[key] = v
		}
		b, _ := json.Marshal(m)
		return b
	}
	tests := []struct {
		name     string
		raw      json.RawMessage
		mismatch bool // a *MismatchError
		ok       bool
	}{
		{"good", good, false, true},
		{"number changed", edit("number", "0x65"), true, false},
		{"stateRoot changed", edit("stateRoot", common.Hash{3}.Hex()), true, false},
		{"baseFee dropped", edit("baseFeePerGas", nil), true, false},
		{"hash claimed for another block", edit("hash", common.Hash{4}.Hex()), true, false},
		{"no hash", edit("hash", nil), false, false},
		{"null", json.RawMessage("null"), false, false},
		{"not JSON", json.RawMessage("{"), false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Decode(tt.raw)
			var m *MismatchError
			switch {
			case tt.ok && (err != nil || got.Hash() != h.Hash()):
				t.Fatalf("Decode: %v", err)
			case !tt.ok && err == nil:
				t.Fatal("Decode accepted it")
			case errors.As(err, &m) != tt.mismatch || errors.Is(err, ErrMismatch) != tt.mismatch:
				t.Fatalf("Decode: %v, want a mismatch: %v", err, tt.mismatch)
			}
		})
	}
}
