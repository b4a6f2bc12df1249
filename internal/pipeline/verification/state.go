package verification

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/rpcmesh/rpcmesh/internal/jsonrpc"
	"github.com/rpcmesh/rpcmesh/internal/pipeline"
	"github.com/rpcmesh/rpcmesh/internal/verify"
)

// codeNodeError is the code go-ethereum gives a plain error, such as a
// state read at a block it does not have.
const codeNodeError = -32000

// maxProofSlots bounds the storage slots of one eth_getProof call.
const maxProofSlots = 1024

// stateCall is a parsed state read.
type stateCall struct {
	address common.Address
	slots   []common.Hash
	keys    []string // the slots as the client wrote them (eth_getProof)
}

// parseState reads the address and slots of a state method's params (its
// block is c.Ref).
func parseState(c *pipeline.Call) (*stateCall, error) {
	ps, err := splitParams(c.Params, 3)
	if err != nil {
		return nil, err
	}
	sc := &stateCall{slots: []common.Hash{}}
	// What json.Unmarshal would call, without validating valid params again.
	if err := sc.address.UnmarshalJSON(ps[0]); err != nil {
		return nil, jsonrpc.Errorf(jsonrpc.CodeInvalidParams, "invalid argument 0: an address is a 0x-prefixed hex string of 20 bytes")
	}
	switch c.Method {
	case "eth_getStorageAt":
		var key string
		if err := json.Unmarshal(ps[1], &key); err != nil {
			return nil, jsonrpc.Errorf(jsonrpc.CodeInvalidParams, "invalid argument 1: the storage slot must be a hex string")
		}
		sc.keys = []string{key}
	case "eth_getProof":
		if err := json.Unmarshal(ps[1], &sc.keys); err != nil {
			return nil, jsonrpc.Errorf(jsonrpc.CodeInvalidParams, "invalid argument 1: the storage keys must be a list of hex strings")
		}
		if len(sc.keys) > maxProofSlots {
			return nil, jsonrpc.Errorf(jsonrpc.CodeInvalidParams, "invalid params: more than %d storage keys", maxProofSlots)
		}
	}
	for _, k := range sc.keys {
		slot, err := verify.DecodeStorageKey(k)
		if err != nil {
			return nil, jsonrpc.Errorf(jsonrpc.CodeInvalidParams, "invalid params: storage key %q: %v", k, err)
		}
		sc.slots = append(sc.slots, slot)
	}
	return sc, nil
}

// state answers eth_getBalance, eth_getTransactionCount, eth_getCode,
// eth_getStorageAt and eth_getProof from an eth_getProof verified against
// the trusted header's stateRoot. With CheckPlain the provider is also
// asked the plain method, and a lie there is recorded.
func (v *Verifier) state(ctx context.Context, c *pipeline.Call) (json.RawMessage, error) {
	r, res, err := v.stateRead(ctx, c, v.header)
	if r == nil {
		return res, err
	}
	return v.attempts(ctx, c, r.first, r.check)
}

// headerFunc resolves a block param to a trusted header (Verifier.header,
// or a wave's lookups shared by its calls).
type headerFunc func(ctx context.Context, c *pipeline.Call) (*types.Header, error)

// stateRead is a state read ready to ask: the eth_getProof to send, and
// the check that turns a provider's answer into the client's.
type stateRead struct {
	first Request
	check check
}

// stateRead prepares c, a state read, with its trusted header from
// header. A read answered without asking (a kept proof, bad params, no
// trusted header) returns a nil *stateRead and the answer.
func (v *Verifier) stateRead(ctx context.Context, c *pipeline.Call, header headerFunc) (*stateRead, json.RawMessage, error) {
	sc, err := parseState(c)
	if err != nil {
		return nil, nil, err
	}
	h, err := header(ctx, c)
	if err != nil {
		return nil, nil, v.noHeader(c.Method, err)
	}
	hash := v.headerHash(h)
	pinned := verify.ByHash(hash)
	key, cacheable := v.accountKey(c.Method, h.Root, sc)
	if cacheable {
		if hit, ok := v.accounts.Get(key); ok {
			c.Report.Set(pipeline.ClassProof, "", hit.operator)
			res, err := v.stateAnswer(ctx, c.Method, sc, hit.acc, nil, nil, pinned)
			return nil, res, err
		}
	}
	first := Request{Method: "eth_getProof", Params: verify.ProofParams(sc.address, sc.slots, hash), Block: h.Number.Uint64(), HasBlock: true, Client: c.Client}
	return &stateRead{first: first, check: func(ctx context.Context, a Answer, call verify.Caller) (json.RawMessage, error) {
		res, err := verify.DecodeAccountResult(a.Value)
		if err != nil {
			return nil, err
		}
		acc, err := verify.VerifyAccountProof(h.Root, sc.address, sc.slots, res)
		if err != nil {
			return nil, err
		}
		if cacheable {
			v.accounts.Add(key, provenAccount{acc: acc, operator: a.Operator})
		}
		out, err := v.stateAnswer(ctx, c.Method, sc, acc, res, call, pinned)
		if err != nil {
			return nil, err
		}
		if v.o.CheckPlain && c.Method != "eth_getProof" && c.Method != "eth_getCode" {
			v.checkPlain(ctx, c, a, call, sc, acc, pinned)
		}
		return out, nil
	}}, nil, nil
}

// accountKey names a proven account (and the one storage slot asked) by
// the state root it was proven against: state at a root never changes, so
// a proof is good for every later read of the same account at that block.
type accountKey struct {
	root, slot common.Hash
	addr       common.Address
	hasSlot    bool
}

// provenAccount is a cached proven account and whose proof it was.
type provenAccount struct {
	acc      *verify.Account
	operator string
}

// accountKey returns the cache key of a state read the cache can answer
// (balance, nonce, one storage slot) and whether it can.
func (v *Verifier) accountKey(method string, root common.Hash, sc *stateCall) (accountKey, bool) {
	if v.accounts == nil {
		return accountKey{}, false
	}
	k := accountKey{root: root, addr: sc.address}
	switch method {
	case "eth_getBalance", "eth_getTransactionCount":
		return k, true
	case "eth_getStorageAt":
		k.slot, k.hasSlot = sc.slots[0], true
		return k, true
	}
	return accountKey{}, false
}

// stateAnswer builds the client's answer from the proven account.
func (v *Verifier) stateAnswer(ctx context.Context, method string, sc *stateCall, acc *verify.Account, res *verify.AccountResult, call verify.Caller, pinned any) (json.RawMessage, error) {
	switch method {
	case "eth_getBalance":
		return acc.BalanceJSON(), nil
	case "eth_getTransactionCount":
		return acc.NonceJSON(), nil
	case "eth_getStorageAt":
		return acc.StorageJSON(sc.slots[0])
	case "eth_getCode":
		if acc.CodeHash == types.EmptyCodeHash {
			return json.RawMessage(`"0x"`), nil
		}
		raw, err := call(ctx, "eth_getCode", verify.Params(sc.address, pinned))
		if err != nil {
			return nil, fmt.Errorf("eth_getCode: %w", err)
		}
		code, err := verify.DecodeCode(raw, acc)
		if err != nil {
			return nil, err
		}
		return json.Marshal(hexutil.Bytes(code))
	case "eth_getProof":
		for i := range res.StorageProof {
			res.StorageProof[i].Key = verify.StorageKeyOut(sc.keys[i], sc.slots[i])
		}
		return json.Marshal(res)
	}
	return nil, fmt.Errorf("%s: %w", method, verify.ErrUnverifiable)
}

// checkPlain asks the provider the client's own method and records a
// lie; the client gets the proven answer either way.
func (v *Verifier) checkPlain(ctx context.Context, c *pipeline.Call, a Answer, call verify.Caller, sc *stateCall, acc *verify.Account, pinned any) {
	ps := []any{sc.address, pinned}
	if c.Method == "eth_getStorageAt" {
		ps = []any{sc.address, sc.keys[0], pinned}
	}
	raw, err := call(ctx, c.Method, verify.Params(ps...))
	if err != nil {
		return
	}
	switch c.Method {
	case "eth_getBalance":
		err = verify.CheckBalance(raw, acc)
	case "eth_getTransactionCount":
		err = verify.CheckNonce(raw, acc)
	case "eth_getStorageAt":
		err = verify.CheckStorageAt(raw, acc, sc.slots[0])
	}
	if err != nil {
		v.reject(c.Method, c.Params, Answer{Provider: a.Provider, Operator: a.Operator, Value: raw}, err)
	}
}

// noHeader turns a failure to find a trusted header for method into a
// fallback or the error to return. A block above the agreed head (not
// there yet) or one no provider knows is answered as a node answers a
// state read of a block it does not have.
func (v *Verifier) noHeader(method string, err error) error {
	var fb *fallback
	if errors.As(err, &fb) {
		return fb
	}
	switch {
	case errors.Is(err, verify.ErrAboveHead):
		return &jsonrpc.Error{Code: codeNodeError, Message: "header not found"}
	case errors.Is(err, verify.ErrNotFound):
		return &jsonrpc.Error{Code: codeNodeError, Message: "header for hash not found"}
	case errors.Is(err, verify.ErrNoTrust):
		if !v.o.FallbackToQuorum {
			return unverified(method, 0, err)
		}
		return &fallback{why: "no trusted header: " + err.Error()}
	}
	return err
}

// absentBlock reports whether err says the block is not there for the
// gateway's clients (above the agreed head, or unknown to every operator
// asked): block methods then answer null, as a node does.
func absentBlock(err error) bool {
	return errors.Is(err, verify.ErrAboveHead) || errors.Is(err, verify.ErrNotFound)
}
