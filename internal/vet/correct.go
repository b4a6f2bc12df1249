package vet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/params"

	"github.com/rpcmesh/rpcmesh/internal/verify"
)

// findings collects what the correctness checks found; safe for
// concurrent use.
type findings struct {
	mu      sync.Mutex
	checked map[string]int
	failed  []verify.Evidence
	skipped []string
}

// maxEvidence bounds the failed answers a report keeps.
const maxEvidence = 50

func (f *findings) lie(e verify.Evidence) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.failed) < maxEvidence {
		f.failed = append(f.failed, e)
	}
}

// skip records what was not checked.
func (f *findings) skip(what string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.skipped) < maxEvidence {
		f.skipped = append(f.skipped, what)
	}
}

// note records one checked answer: right, wrong (evidence) or not checked.
func (f *findings) note(method string, params, raw json.RawMessage, err error) {
	switch {
	case err == nil:
		f.mu.Lock()
		f.checked[method]++
		f.mu.Unlock()
	case raw != nil:
		e := verify.NewEvidence("candidate", method, params, raw, err)
		f.lie(e)
	default:
		f.skip(fmt.Sprintf("%s %s: %v", method, params, err))
	}
}

// checkCorrectness asks the candidate about the sampled blocks and
// accounts and checks every answer with proofs and roots against the
// headers the admitted operators agree on (internal/verify): blocks,
// receipts, logs, a transaction and its receipt, and for each account its
// proof, balance, nonce, code and first storage slot.
// State is asked at blocks from oldestState only.
func checkCorrectness(ctx context.Context, c *client, ref *admitted, cfg *params.ChainConfig, s *sample, oldestState uint64, f *findings) {
	var jobs []func()
	numbers := make([]uint64, 0, len(s.blocks))
	for n := range s.blocks {
		numbers = append(numbers, n)
	}
	slices.Sort(numbers)
	for _, n := range numbers {
		b := s.blocks[n]
		jobs = append(jobs, func() { checkBlock(ctx, c, ref, cfg, b, f) })
		if n < oldestState {
			f.skip(fmt.Sprintf("state at block %d: older than the candidate keeps", n))
			continue
		}
		for _, a := range s.accounts {
			jobs = append(jobs, func() { checkAccount(ctx, c, ref, b, a, f) })
		}
	}
	runBounded(ctx, probeConcurrency, jobs)
}

// checkBlock checks the candidate's block, receipts, logs and first
// transaction against the verified block b.
func checkBlock(ctx context.Context, c *client, ref *admitted, cfg *params.ChainConfig, b *verify.Block, f *findings) {
	num := hexutil.EncodeUint64(b.Header.Number.Uint64())
	params := verify.Params(num, true)
	raw, err := c.call(ctx, "eth_getBlockByNumber", params)
	if err == nil {
		var got *verify.Block
		if got, err = verify.VerifyBlock(raw, cfg); err == nil && got.Hash != b.Hash {
			err = &verify.MismatchError{What: "hash", Claimed: got.Hash.Hex(), Proven: b.Hash.Hex(), Err: verify.ErrHashMismatch}
		}
		if string(raw) == "null" {
			err = fmt.Errorf("null for block %s below its head: %w", num, verify.ErrValueMismatch)
		}
	}
	f.note("eth_getBlockByNumber", params, raw, err)

	// Receipts and logs, against the receipts the admitted operators gave
	// (verified against the block's receiptsRoot).
	truth, _, err := verify.FetchReceipts(ctx, ref.call, b, cfg)
	if err != nil {
		f.note("eth_getBlockReceipts", nil, nil, fmt.Errorf("the admitted operators' receipts: %w", err))
		return
	}
	if len(b.Transactions) > 0 {
		params = verify.Params(num)
		raw, err = c.call(ctx, "eth_getBlockReceipts", params)
		if err == nil {
			_, err = verify.VerifyBlockReceipts(raw, b, cfg)
		}
		f.note("eth_getBlockReceipts", params, raw, err)
	}
	params = verify.Params(map[string]any{"fromBlock": num, "toBlock": num})
	raw, err = c.call(ctx, "eth_getLogs", params)
	if err == nil {
		_, err = verify.VerifyLogs(raw, truth.Logs(verify.LogFilter{}))
	}
	f.note("eth_getLogs", params, raw, err)
	if len(b.Transactions) == 0 {
		return
	}
	tx := b.Transactions[len(b.Transactions)-1].Hash()
	params = verify.Params(tx)
	raw, err = c.call(ctx, "eth_getTransactionByHash", params)
	if err == nil {
		_, err = verify.VerifyTransaction(raw, tx, b, cfg)
	}
	f.note("eth_getTransactionByHash", params, raw, err)
	raw, err = c.call(ctx, "eth_getTransactionReceipt", params)
	if err == nil {
		_, err = verify.VerifyReceipt(raw, tx, truth)
	}
	f.note("eth_getTransactionReceipt", params, raw, err)
}

// checkAccount checks the candidate's proof of account a at block b, and
// its plain answers (balance, nonce, code, slot 0) against the account as
// the admitted operators proved it.
func checkAccount(ctx context.Context, c *client, ref *admitted, b *verify.Block, a common.Address, f *findings) {
	slot := common.Hash{}
	slots := []common.Hash{slot}
	truth, _, err := verify.ProveAccount(ctx, ref.call, b.Header, a, slots)
	if err != nil {
		f.note("eth_getProof", nil, nil, fmt.Errorf("the admitted operators' proof of %s at %d: %w", a.Hex(), b.Header.Number, err))
		return
	}
	params := verify.ProofParams(a, slots, b.Hash)
	_, raw, err := verify.ProveAccount(ctx, c.call, b.Header, a, slots)
	f.note("eth_getProof", params, raw, unwrapCall(err))
	num := hexutil.EncodeUint64(b.Header.Number.Uint64())
	checks := []struct {
		method string
		params json.RawMessage
		check  func(json.RawMessage) error
	}{
		{"eth_getBalance", verify.Params(a, num), func(r json.RawMessage) error { return verify.CheckBalance(r, truth) }},
		{"eth_getTransactionCount", verify.Params(a, num), func(r json.RawMessage) error { return verify.CheckNonce(r, truth) }},
		{"eth_getCode", verify.Params(a, num), func(r json.RawMessage) error { _, err := verify.DecodeCode(r, truth); return err }},
		{"eth_getStorageAt", verify.Params(a, slot, num), func(r json.RawMessage) error { return verify.CheckStorageAt(r, truth, slot) }},
	}
	for _, ch := range checks {
		raw, err := c.call(ctx, ch.method, ch.params)
		if err == nil {
			err = ch.check(raw)
		}
		f.note(ch.method, ch.params, raw, err)
	}
}

// unwrapCall keeps an error of the call itself (refused, unreachable)
// apart from a failed check: ProveAccount wraps both.
func unwrapCall(err error) error {
	var re *RPCError
	if errors.As(err, &re) {
		return re
	}
	return err
}

// correctnessFailure is the correctness criterion's failure, or nil.
func correctnessFailure(r CorrectnessResult) *Failure {
	if len(r.Failed) == 0 {
		return nil
	}
	methods := map[string]int{}
	for _, e := range r.Failed {
		methods[e.Method]++
	}
	f := &Failure{Criterion: CritCorrectness, Answers: r.Failed,
		Reason: fmt.Sprintf("lying: %d answers failed verification against the agreed headers", len(r.Failed))}
	for _, e := range r.Failed {
		f.Evidence = append(f.Evidence, fmt.Sprintf("%s %s: %s", e.Method, e.Params, e.Failure))
		if len(f.Evidence) == 10 {
			break
		}
	}
	return f
}
