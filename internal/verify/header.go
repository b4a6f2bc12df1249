package verify

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/rpcmesh/rpcmesh/internal/headerhash"
)

// maxAnswerBytes bounds any answer this package decodes; the gateway's own
// response limit is lower, this is a last line against memory blow-up.
const maxAnswerBytes = 64 << 20

// DecodeHeader decodes a header or block object (the JSON of
// eth_getBlockByNumber, eth_getHeaderByHash, ...), recomputes its hash from
// its fields and checks it against the object's own "hash" field. A null
// answer is ErrMalformed: callers that accept "not found" check for null
// before.
func DecodeHeader(raw json.RawMessage) (*types.Header, error) {
	if len(raw) > maxAnswerBytes {
		return nil, malformed("header", fmt.Errorf("%d bytes", len(raw)))
	}
	if isNull(raw) {
		return nil, malformed("header", fmt.Errorf("null"))
	}
	h, err := headerhash.Decode(raw)
	var m *headerhash.MismatchError
	switch {
	case errors.As(err, &m):
		return nil, &MismatchError{What: "hash", Claimed: m.Claimed.Hex(), Proven: m.Computed.Hex(), Err: ErrHashMismatch}
	case err != nil:
		return nil, malformed("header", err)
	}
	return h, nil
}

// VerifyHeader decodes raw like DecodeHeader and checks that it is the
// trusted block: its recomputed hash must be want.
func VerifyHeader(raw json.RawMessage, want common.Hash) (*types.Header, error) {
	h, err := DecodeHeader(raw)
	if err != nil {
		return nil, err
	}
	if h.Hash() != want {
		return nil, &MismatchError{What: "hash", Claimed: h.Hash().Hex(), Proven: want.Hex(), Err: ErrHashMismatch}
	}
	return h, nil
}

// VerifyChain checks that headers, lowest first, form a chain: each one's
// parent hash is the previous one's recomputed hash and its number is one
// higher. A chain of zero or one header is trivially linked.
func VerifyChain(headers []*types.Header) error {
	for i := 1; i < len(headers); i++ {
		parent, h := headers[i-1], headers[i]
		if parent == nil || h == nil || parent.Number == nil || h.Number == nil {
			return fmt.Errorf("header %d: %w", i, ErrMalformed)
		}
		if h.Number.Uint64() != parent.Number.Uint64()+1 || !h.Number.IsUint64() {
			return fmt.Errorf("header %d: number %s after %s: %w", i, h.Number, parent.Number, ErrBrokenChain)
		}
		if h.ParentHash != parent.Hash() {
			return fmt.Errorf("header %d (#%s): parent %s, previous is %s: %w", i, h.Number, h.ParentHash.Hex(), parent.Hash().Hex(), ErrBrokenChain)
		}
	}
	return nil
}

// isNull reports whether raw is JSON null or empty.
func isNull(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) == 0 || bytes.Equal(t, []byte("null"))
}
