package headerhash

import (
	"bytes"
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
	// lie is the JSON of h changed by change, still claiming h's hash.
	lie := func(change func(*types.Header)) json.RawMessage {
		c := types.CopyHeader(h)
		change(c)
		b, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		return bytes.ReplaceAll(b, []byte(c.Hash().Hex()), []byte(h.Hash().Hex()))
	}
	tests := []struct {
		name     string
		raw      json.RawMessage
		mismatch bool // a *MismatchError
		ok       bool
	}{
		{"good", good, false, true},
		{"number changed", lie(func(c *types.Header) { c.Number = big.NewInt(101) }), true, false},
		{"stateRoot changed", lie(func(c *types.Header) { c.Root = common.Hash{3} }), true, false},
		{"baseFee dropped", lie(func(c *types.Header) { c.BaseFee = nil }), true, false},
		{"another block's hash", bytes.ReplaceAll(good, []byte(h.Hash().Hex()), []byte(common.Hash{4}.Hex())), true, false},
		{"no hash", bytes.ReplaceAll(good, []byte(`"hash"`), []byte(`"hush"`)), false, false},
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
