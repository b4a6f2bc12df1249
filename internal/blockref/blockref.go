// Package blockref parses the block parameter of Ethereum JSON-RPC methods,
// once, for every stage that reads it. It accepts what go-ethereum's
// rpc.BlockNumber and rpc.BlockNumberOrHash accept, with the same results:
// a tag ("latest", "earliest", "pending", "safe", "finalized"), a hex
// number, and, where the method takes BlockNumberOrHash (the spec's
// BlockNumberOrTagOrHash), a bare 32-byte block hash or an EIP-1898 object
// {"blockNumber": …} / {"blockHash": …, "requireCanonical": …}. Errors are
// in plain words, fit to show a client.
package blockref

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"strconv"

	"github.com/ethereum/go-ethereum/common/hexutil"
)

// Kind is what a block parameter names.
type Kind uint8

// Block parameter kinds.
const (
	Number    Kind = iota // a block number (Ref.Number)
	Latest                // "latest": the head
	Pending               // "pending": the block being built
	Safe                  // "safe"
	Finalized             // "finalized"
	Earliest              // "earliest": the oldest block the node keeps
	Hash                  // a block hash (Ref.Hash), bare or in an object
)

// Ref is one parsed block parameter.
type Ref struct {
	Kind   Kind
	Number uint64   // for Number
	Hash   [32]byte // for Hash
	// RequireCanonical is the EIP-1898 flag: the hash must be of a block on
	// the canonical chain.
	RequireCanonical bool
	// Object is true when the client wrote an EIP-1898 object.
	Object bool
}

// IsTag reports whether r names a block by a tag.
func (r Ref) IsTag() bool { return r.Kind != Number && r.Kind != Hash }

// Errors a caller may branch on. The messages are go-ethereum's.
var (
	ErrBothHashAndNumber = errors.New("cannot specify both BlockHash and BlockNumber, choose one or the other")
	ErrNeitherHashNorNum = errors.New("must specify either BlockHash or BlockNumber")
	ErrNumberTooLarge    = errors.New("block number larger than int64")
	ErrNotBlock          = errors.New("block must be a tag, a hex block number, a block hash or an object")
)

// tags maps each tag to its kind: the one tag table of the gateway.
var tags = map[string]Kind{
	"latest": Latest, "pending": Pending, "safe": Safe, "finalized": Finalized, "earliest": Earliest,
}

// ParseNumber parses a block parameter of a method that takes a block
// number or tag only (go-ethereum's rpc.BlockNumber: eth_getBlockByNumber,
// eth_feeHistory, the fromBlock/toBlock of a log filter).
func ParseNumber(raw []byte) (Ref, error) {
	s := bytes.TrimSpace(raw)
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		s = s[1 : len(s)-1]
	}
	return parseTagOrNumber(string(s))
}

// ParseNumberOrHash parses a block parameter of a method that takes a
// number, a tag, a block hash or an EIP-1898 object (go-ethereum's
// rpc.BlockNumberOrHash: eth_getBalance, eth_call, eth_getProof, …).
func ParseNumberOrHash(raw []byte) (Ref, error) {
	s := bytes.TrimSpace(raw)
	if len(s) > 0 && s[0] == '{' {
		return parseObject(s)
	}
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' && bytes.IndexByte(s, '\\') < 0 {
		return parseTagNumberOrHash(string(s[1 : len(s)-1])) // short strings stay on the stack
	}
	var str string // escaped (or not a string): decoded as a node decodes it
	if json.Unmarshal(s, &str) != nil {
		return Ref{}, ErrNotBlock
	}
	return parseTagNumberOrHash(str)
}

// parseTagNumberOrHash is rpc.BlockNumberOrHash's parse of a string.
func parseTagNumberOrHash(str string) (Ref, error) {
	if len(str) == 66 { // no tag is this long
		b, err := hexutil.Decode(str)
		if err != nil {
			return Ref{}, err
		}
		r := Ref{Kind: Hash}
		copy(r.Hash[:], b)
		return r, nil
	}
	return parseTagOrNumber(str)
}

// parseTagOrNumber is rpc.BlockNumber's parse of its unquoted input.
func parseTagOrNumber(s string) (Ref, error) {
	if k, ok := tags[s]; ok {
		return Ref{Kind: k}, nil
	}
	n, err := hexutil.DecodeUint64(s)
	if err != nil {
		return Ref{}, err
	}
	if n > math.MaxInt64 {
		return Ref{}, ErrNumberTooLarge
	}
	return Ref{Kind: Number, Number: n}, nil
}

// object is an EIP-1898 block object as go-ethereum decodes it (member
// names matched without regard to case, as encoding/json does).
type object struct {
	BlockNumber      *json.RawMessage `json:"blockNumber"`
	BlockHash        *json.RawMessage `json:"blockHash"`
	RequireCanonical *json.RawMessage `json:"requireCanonical"`
}

// parseObject parses {"blockNumber": …} or {"blockHash": …, "requireCanonical": …}.
func parseObject(s []byte) (Ref, error) {
	var o object
	if err := json.Unmarshal(s, &o); err != nil {
		return Ref{}, errors.New("block object is not valid JSON")
	}
	num, hash := present(o.BlockNumber), present(o.BlockHash)
	switch {
	case num && hash:
		return Ref{}, ErrBothHashAndNumber
	case !num && !hash:
		return Ref{}, ErrNeitherHashNorNum
	}
	canonical := false
	if present(o.RequireCanonical) {
		if err := json.Unmarshal(*o.RequireCanonical, &canonical); err != nil {
			return Ref{}, errors.New("requireCanonical must be true or false")
		}
	}
	if num {
		r, err := ParseNumber(*o.BlockNumber)
		if err != nil {
			return Ref{}, err
		}
		r.Object = true // requireCanonical means nothing for a number
		return r, nil
	}
	h := bytes.TrimSpace(*o.BlockHash)
	if len(h) < 2 || h[0] != '"' || h[len(h)-1] != '"' {
		return Ref{}, errors.New("blockHash must be a hex string")
	}
	// As common.Hash decodes it: the string's bytes, escapes not undone.
	b, err := hexutil.Decode(string(h[1 : len(h)-1]))
	if err != nil {
		return Ref{}, err
	}
	if len(b) != 32 {
		return Ref{}, errors.New("blockHash must be 32 bytes, got " + strconv.Itoa(len(b)))
	}
	r := Ref{Kind: Hash, Object: true, RequireCanonical: canonical}
	copy(r.Hash[:], b)
	return r, nil
}

// present reports whether an object member was given and is not null
// (go-ethereum decodes null into a nil pointer: absent).
func present(m *json.RawMessage) bool {
	return m != nil && string(bytes.TrimSpace(*m)) != "null"
}

// Quantity appends n as a quoted hex quantity ("0x…") to b.
func Quantity(b []byte, n uint64) []byte {
	b = append(b, `"0x`...)
	b = strconv.AppendUint(b, n, 16)
	return append(b, '"')
}

// AppendJSON appends r as a block parameter: a quoted tag or number, or an
// EIP-1898 object when the client wrote one (so that requireCanonical
// travels on).
func (r Ref) AppendJSON(b []byte) []byte {
	if r.Object {
		if r.Kind == Hash {
			b = append(b, `{"blockHash":"`...)
			b = append(b, hexutil.Encode(r.Hash[:])...)
			b = append(b, '"')
			if r.RequireCanonical {
				b = append(b, `,"requireCanonical":true`...)
			}
			return append(b, '}')
		}
		b = append(b, `{"blockNumber":`...)
		b = Ref{Kind: r.Kind, Number: r.Number}.AppendJSON(b)
		return append(b, '}')
	}
	switch r.Kind {
	case Number:
		return Quantity(b, r.Number)
	case Hash:
		b = append(b, '"')
		b = append(b, hexutil.Encode(r.Hash[:])...)
		return append(b, '"')
	}
	b = append(b, '"')
	b = append(b, r.Kind.String()...)
	return append(b, '"')
}

// String is the tag of a tag kind ("number", "hash" for the others).
func (k Kind) String() string {
	switch k {
	case Latest:
		return "latest"
	case Pending:
		return "pending"
	case Safe:
		return "safe"
	case Finalized:
		return "finalized"
	case Earliest:
		return "earliest"
	case Hash:
		return "hash"
	}
	return "number"
}
