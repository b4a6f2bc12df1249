package vet

import (
	"context"
	"fmt"
	"slices"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/params"

	"github.com/rpcmesh/rpcmesh/internal/verify"
)

// sample is what the method probes and the correctness checks ask about:
// blocks verified from the admitted operators, and accounts and
// transactions found in them.
type sample struct {
	blocks   map[uint64]*verify.Block // verified against agreed headers
	accounts []common.Address
	tx       common.Hash // a transaction of a recent block (zero: none found)
	recent   *verify.Block
}

// spread picks n block numbers from lo to hi, both included, evenly.
func spread(lo, hi uint64, n int) []uint64 {
	if hi < lo || n < 1 {
		return nil
	}
	var out []uint64
	span := hi - lo
	for i := range n {
		var b uint64
		if n > 1 {
			b = hi - span*uint64(i)/uint64(n-1)
		} else {
			b = hi
		}
		if !slices.Contains(out, b) {
			out = append(out, b)
		}
	}
	return out
}

// takeSample fetches the blocks at numbers from the admitted operators,
// each verified against its agreed header, and gathers up to maxAccounts
// accounts (fee recipients, senders, recipients) and a transaction.
func takeSample(ctx context.Context, ref *admitted, cfg *params.ChainConfig, numbers []uint64, maxAccounts int) (*sample, error) {
	s := &sample{blocks: map[uint64]*verify.Block{}}
	seen := map[common.Address]bool{}
	add := func(a common.Address) {
		if !seen[a] && len(s.accounts) < maxAccounts {
			seen[a] = true
			s.accounts = append(s.accounts, a)
		}
	}
	for _, n := range numbers {
		h, err := ref.header(ctx, n)
		if err != nil {
			return nil, fmt.Errorf("the agreed header of block %d: %w", n, err)
		}
		b, _, err := verify.FetchBlock(ctx, ref.call, h.Hash(), cfg)
		if err != nil {
			return nil, fmt.Errorf("block %d from the admitted operators: %w", n, err)
		}
		s.blocks[n] = b
		if s.recent == nil {
			s.recent = b
		}
		if s.tx == (common.Hash{}) && len(b.Transactions) > 0 {
			s.tx = b.Transactions[0].Hash()
		}
	}
	// Accounts: transaction senders and recipients first (they hold
	// balances, nonces, code and storage), then fee recipients.
	for _, n := range numbers {
		b := s.blocks[n]
		signer := types.MakeSigner(cfg, b.Header.Number, b.Header.Time)
		for _, tx := range b.Transactions {
			if from, err := types.Sender(signer, tx); err == nil {
				add(from)
			}
			if tx.To() != nil {
				add(*tx.To())
			}
		}
	}
	for _, n := range numbers {
		add(s.blocks[n].Header.Coinbase)
	}
	return s, nil
}
