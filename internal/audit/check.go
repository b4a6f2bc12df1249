package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"math/rand/v2"
	"sync"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/rpcmesh/rpcmesh/internal/upstream"
	"github.com/rpcmesh/rpcmesh/internal/verify"
)

// checkKind is one kind of audit check.
type checkKind int

const (
	checkBlock checkKind = iota // eth_getBlockByNumber at an agreed height
	checkState                  // eth_getProof, then a plain state read, at an agreed block
)

// maxCallsPerCheck is the most calls one check sends the audited provider.
const maxCallsPerCheck = 2

// calls is how many calls the check sends the audited provider.
func (k checkKind) calls() int {
	if k == checkState {
		return 2
	}
	return 1
}

// finding is what one check found; for Failed, what the evidence keeps.
type finding struct {
	outcome Outcome
	skip    bool // the check could not be made (nothing to count)
	method  string
	params  json.RawMessage
	answer  json.RawMessage
	err     error
}

// errNull marks an answer of JSON null: the provider does not have it.
var errNull = errors.New("null answer")

// ask sends p one audit call directly (not through routing, not counted
// as client traffic) and returns its result; JSON null is errNull.
func ask(ctx context.Context, p *upstream.Provider, method string, params json.RawMessage) (json.RawMessage, error) {
	raw, err := p.AuditCall(ctx, method, params)
	if err != nil {
		return nil, err
	}
	if t := bytes.TrimSpace(raw); len(t) == 0 || bytes.Equal(t, []byte("null")) {
		return raw, errNull
	}
	return raw, nil
}

// notLie is the outcome of a call that failed before anything could be
// checked: a transport failure, timeout, 5xx or 429 counts as
// availability; an answer of null or a node's error (it does not have
// the block, or no longer keeps its state) as absence.
func notLie(err error) finding {
	var ue *upstream.Error
	if errors.As(err, &ue) && ue.Class != upstream.ClassNodeError {
		return finding{outcome: Unavailable}
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return finding{outcome: Unavailable}
	}
	return finding{outcome: Absent}
}

// checkBlock asks p for the block at h's height with full transactions
// and proves it: its fields must hash to its claimed hash, its
// transactions to its transactionsRoot, and the hash must be the agreed
// one. A different, self-consistent block above the agreed finalized
// block may be another fork (absence); at or below it, it is a lie.
// The block's senders, recipients and fee recipient feed the accounts
// the state checks prove.
func (a *Auditor) checkBlock(ctx context.Context, p *upstream.Provider, h *types.Header) finding {
	n := h.Number.Uint64()
	method, params := "eth_getBlockByNumber", verify.Params(hexutil.Uint64(n), true)
	raw, err := ask(ctx, p, method, params)
	if err != nil {
		return notLie(err)
	}
	lie := func(err error) finding {
		return finding{outcome: Failed, method: method, params: params, answer: raw, err: err}
	}
	b, err := verify.VerifyBlock(raw, a.o.ChainConfig)
	switch {
	case errors.Is(err, verify.ErrUnverifiable):
		return finding{skip: true} // e.g. a transaction type go-ethereum does not decode
	case err != nil && verify.IsLie(err):
		return lie(err)
	case err != nil:
		return finding{skip: true}
	}
	if b.Hash != h.Hash() {
		if fin, ok := a.o.Finalized(); ok && n <= fin {
			return lie(&verify.MismatchError{What: fmt.Sprintf("block %d hash (finalized)", n), Claimed: b.Hash.Hex(), Proven: h.Hash().Hex(), Err: verify.ErrHashMismatch})
		}
		return finding{outcome: Absent}
	}
	a.learn(b)
	return finding{outcome: Passed}
}

// learn adds accounts of a verified block to the pool: its fee recipient
// and a few transactions' senders and recipients.
func (a *Auditor) learn(b *verify.Block) {
	a.addrs.add(b.Header.Coinbase)
	signer := types.LatestSignerForChainID(a.o.ChainConfig.ChainID)
	for i, tx := range b.Transactions {
		if i >= 4 {
			break
		}
		if to := tx.To(); to != nil {
			a.addrs.add(*to)
		}
		if from, err := types.Sender(signer, tx); err == nil {
			a.addrs.add(from)
		}
	}
}

// checkState asks p for an account's eth_getProof at h and proves it
// against h's stateRoot, then asks the account's balance or nonce at h
// and compares it with the proven one.
func (a *Auditor) checkState(ctx context.Context, p *upstream.Provider, h *types.Header) finding {
	addr := a.addrs.pick()
	var last json.RawMessage
	call := func(ctx context.Context, method string, params json.RawMessage) (json.RawMessage, error) {
		raw, err := ask(ctx, p, method, params)
		last = raw
		return raw, err
	}
	acc, _, err := verify.ProveAccount(ctx, call, h, addr, nil)
	if err != nil {
		if !verify.IsLie(err) {
			return notLie(err)
		}
		return finding{outcome: Failed, method: "eth_getProof", params: verify.ProofParams(addr, []common.Hash{}, h.Hash()), answer: last, err: err}
	}
	method, proven := "eth_getBalance", acc.Balance
	if rand.IntN(2) == 1 {
		method, proven = "eth_getTransactionCount", new(big.Int).SetUint64(acc.Nonce)
	}
	params := verify.Params(addr, verify.ByHash(h.Hash()))
	raw, err := ask(ctx, p, method, params)
	if err != nil {
		return notLie(err)
	}
	var got hexutil.Big
	if err := json.Unmarshal(raw, &got); err != nil {
		return finding{outcome: Failed, method: method, params: params, answer: raw,
			err: fmt.Errorf("%s: not a quantity: %w", method, verify.ErrMalformed)}
	}
	if proven == nil {
		proven = new(big.Int)
	}
	if got.ToInt().Cmp(proven) != 0 {
		return finding{outcome: Failed, method: method, params: params, answer: raw,
			err: &verify.MismatchError{What: method, Claimed: got.String(), Proven: (*hexutil.Big)(proven).String()}}
	}
	return finding{outcome: Passed}
}

// addressPoolSize bounds the accounts learned from recent blocks.
const addressPoolSize = 256

// addressPool holds the accounts state checks pick from: the configured
// ones, those learned from recent verified blocks (a bounded ring), and,
// a quarter of the time, a random address (a proof of absence).
type addressPool struct {
	mu      sync.Mutex
	pinned  []common.Address
	learned []common.Address
	next    int
	size    int
}

func newAddressPool(size int) *addressPool { return &addressPool{size: size} }

func (ap *addressPool) pin(addr common.Address) {
	ap.mu.Lock()
	ap.pinned = append(ap.pinned, addr)
	ap.mu.Unlock()
}

func (ap *addressPool) add(addr common.Address) {
	ap.mu.Lock()
	defer ap.mu.Unlock()
	for _, x := range ap.learned {
		if x == addr {
			return
		}
	}
	if len(ap.learned) < ap.size {
		ap.learned = append(ap.learned, addr)
		return
	}
	ap.learned[ap.next] = addr
	ap.next = (ap.next + 1) % ap.size
}

func (ap *addressPool) pick() common.Address {
	ap.mu.Lock()
	defer ap.mu.Unlock()
	n := len(ap.pinned) + len(ap.learned)
	if n == 0 || rand.IntN(4) == 0 {
		var addr common.Address
		for i := range addr {
			addr[i] = byte(rand.UintN(256))
		}
		return addr
	}
	i := rand.IntN(n)
	if i < len(ap.pinned) {
		return ap.pinned[i]
	}
	return ap.learned[i-len(ap.pinned)]
}
