package upstream

import (
	"encoding/json"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/rpcmesh/rpcmesh/internal/config"
)

// TestHeadHashChecked: with CheckHeaderHash a head whose fields do not
// hash to its claimed hash (a made-up hash, or a number moved ahead) is
// refused and penalised; an honest one votes as usual.
func TestHeadHashChecked(t *testing.T) {
	h := &types.Header{Number: big.NewInt(42), ParentHash: common.HexToHash("0x01"), Difficulty: big.NewInt(0),
		GasLimit: 30_000_000, Time: 1700000000, BaseFee: big.NewInt(7)}
	honest, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	edit := func(key, value string) json.RawMessage {
		var m map[string]any
		_ = json.Unmarshal(honest, &m)
		m[key] = value
		b, _ := json.Marshal(m)
		return b
	}
	tests := []struct {
		name string
		raw  json.RawMessage
		ok   bool
	}{
		{"honest", honest, true},
		{"made-up hash", edit("hash", common.HexToHash("0xbad").Hex()), false},
		{"number moved ahead", edit("number", "0x8e"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := New(Options{Chain: "test", CheckHeaderHash: true, Provider: config.Provider{Name: "p", HTTP: "http://127.0.0.1:1"}})
			b, err := p.parseHead(tt.raw)
			pen := p.Snapshot(time.Now()).Penalty
			if tt.ok {
				if err != nil || b.Number != 42 || b.Hash != strings.ToLower(h.Hash().Hex()) || pen != 0 {
					t.Fatalf("got %+v %v, penalty %.2f", b, err, pen)
				}
				return
			}
			if err == nil || pen < 0.9 {
				t.Fatalf("got %+v %v, penalty %.2f; want refused and penalised", b, err, pen)
			}
		})
	}
}
