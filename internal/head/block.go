// Package head computes a chain's head as the gateway sees it: the highest
// block whose hash enough distinct operators agree on, never one provider's
// word, and never moving backwards except on a real reorg.
package head

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// Block identifies one block as a provider reported it.
type Block struct {
	Number uint64
	Hash   string // 0x-prefixed lowercase hex
	Parent string // 0x-prefixed lowercase hex
}

// IsZero reports whether b is unset.
func (b Block) IsZero() bool { return b.Hash == "" }

// ParseHeader reads number, hash and parentHash from an eth_getBlockByNumber
// result (a block object). A null result is an error.
func ParseHeader(raw json.RawMessage) (Block, error) {
	var h struct {
		Number     string `json:"number"`
		Hash       string `json:"hash"`
		ParentHash string `json:"parentHash"`
	}
	if err := json.Unmarshal(raw, &h); err != nil {
		return Block{}, fmt.Errorf("decode block header: %w", err)
	}
	if h.Hash == "" || h.Number == "" {
		return Block{}, fmt.Errorf("block header without number or hash")
	}
	n, err := ParseQuantity(h.Number)
	if err != nil {
		return Block{}, fmt.Errorf("block number: %w", err)
	}
	return Block{Number: n, Hash: strings.ToLower(h.Hash), Parent: strings.ToLower(h.ParentHash)}, nil
}

// ParseQuantity parses a 0x-prefixed hex quantity.
func ParseQuantity(s string) (uint64, error) {
	if !strings.HasPrefix(s, "0x") && !strings.HasPrefix(s, "0X") {
		return 0, fmt.Errorf("quantity %q without 0x prefix", s)
	}
	n, err := strconv.ParseUint(s[2:], 16, 64)
	if err != nil {
		return 0, fmt.Errorf("quantity %q: %w", s, err)
	}
	return n, nil
}

// Quantity formats n as a 0x-prefixed hex quantity.
func Quantity(n uint64) string { return "0x" + strconv.FormatUint(n, 16) }
