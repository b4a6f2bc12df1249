// Package headerhash decodes a block header from its JSON and checks that
// its fields hash to the hash it claims: how a provider's reported head is
// told from a made-up one. A leaf: it depends on go-ethereum's types only.
package headerhash

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
)

// ErrMismatch means a header's fields do not hash to the hash it claims.
var ErrMismatch = errors.New("block hash mismatch")

// MismatchError is a header whose recomputed hash is not its claimed one.
type MismatchError struct {
	Claimed  common.Hash // the object's "hash" field
	Computed common.Hash // what its header fields hash to
}

// Error says what differs.
func (e *MismatchError) Error() string {
	return fmt.Sprintf("hash: claimed %s, proven %s: %v", e.Claimed.Hex(), e.Computed.Hex(), ErrMismatch)
}

// Unwrap returns ErrMismatch.
func (e *MismatchError) Unwrap() error { return ErrMismatch }

// Decode decodes a header or block object (the JSON of
// eth_getBlockByNumber, eth_getHeaderByHash, ...), recomputes its hash from
// its fields and checks it against the object's own "hash" field: a
// *MismatchError when they differ, another error when raw is no header
// (null included).
func Decode(raw json.RawMessage) (*types.Header, error) {
	if bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return nil, errors.New("null")
	}
	var claimed struct {
		Hash *common.Hash `json:"hash"`
	}
	if err := json.Unmarshal(raw, &claimed); err != nil {
		return nil, err
	}
	if claimed.Hash == nil {
		return nil, errors.New("no hash field")
	}
	h := new(types.Header)
	if err := json.Unmarshal(raw, h); err != nil {
		return nil, err
	}
	if h.Number == nil || h.Number.Sign() < 0 || !h.Number.IsUint64() {
		return nil, errors.New("block number out of range")
	}
	if got := h.Hash(); got != *claimed.Hash {
		return nil, &MismatchError{Claimed: *claimed.Hash, Computed: got}
	}
	return h, nil
}
