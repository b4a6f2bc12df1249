package vet

import (
	"context"
	"errors"
	"fmt"

	"github.com/ethereum/go-ethereum/common"

	"github.com/rpcmesh/rpcmesh/internal/verify"
)

// maxArchiveProbes bounds the binary search (2^40 blocks is far beyond
// any chain).
const maxArchiveProbes = 40

// prober is one eth_getProof of an account at a block, checked against the
// block's agreed header: true when the candidate served the state; a
// refusal (pruned state) is false with its message. A proof that does not
// hold is recorded by lie (correctness) and counts as served: the archive
// check measures depth, the correctness check honesty.
type prober struct {
	c       *client
	ref     *admitted
	account common.Address
	lie     func(verify.Evidence)
	probes  int
	refusal string
}

func (p *prober) has(ctx context.Context, n uint64) (bool, error) {
	h, err := p.ref.header(ctx, n)
	if err != nil {
		return false, fmt.Errorf("the agreed header of block %d: %w", n, err)
	}
	p.probes++
	_, raw, err := verify.ProveAccount(ctx, p.c.call, h, p.account, nil)
	var re *RPCError
	switch {
	case err == nil:
		return true, nil
	case ctx.Err() != nil:
		return false, ctx.Err()
	case errors.As(err, &re):
		p.refusal = fmt.Sprintf("block %d: %s", n, re.Error())
		return false, nil
	case raw != nil:
		p.lie(verify.NewEvidence("candidate", "eth_getProof", verify.ProofParams(p.account, nil, h.Hash()), raw, err))
		return true, nil
	}
	p.refusal = fmt.Sprintf("block %d: %v", n, err)
	return false, nil
}

// checkArchive finds the oldest block whose state the candidate serves by
// a binary search on eth_getProof between genesis and top (state older
// than a pruned node keeps is refused, so what it serves is a suffix).
func checkArchive(ctx context.Context, c *client, ref *admitted, top uint64, account common.Address, lie func(verify.Evidence)) (ArchiveResult, error) {
	p := &prober{c: c, ref: ref, account: account, lie: lie}
	r := ArchiveResult{Head: top}
	ok, err := p.has(ctx, top)
	if err != nil || !ok {
		r.Probes, r.Refusal = p.probes, p.refusal
		r.OldestState = top + 1
		return r, err
	}
	if ok, err := p.has(ctx, 0); err != nil || ok {
		r.Genesis, r.Depth, r.Probes = ok, top, p.probes
		return r, err
	}
	served, refused := top, uint64(0) // served has state, refused has not
	for served-refused > 1 && p.probes < maxArchiveProbes {
		mid := refused + (served-refused)/2
		ok, err := p.has(ctx, mid)
		if err != nil {
			return r, err
		}
		if ok {
			served = mid
		} else {
			refused = mid
		}
	}
	r.OldestState, r.Depth, r.Probes, r.Refusal = served, top-served, p.probes, p.refusal
	return r, nil
}

// archiveFailure is the archive criterion's failure, or nil.
func archiveFailure(r ArchiveResult, minDepth uint64) *Failure {
	if r.Genesis || r.Depth >= minDepth {
		return nil
	}
	f := &Failure{Criterion: CritArchive, Reason: fmt.Sprintf("pruned: serves state only %d blocks deep (at least %d, or back to genesis)", r.Depth, minDepth)}
	if r.OldestState > r.Head {
		f.Reason = fmt.Sprintf("serves no state at its head block %d", r.Head)
	} else {
		f.Evidence = append(f.Evidence, fmt.Sprintf("eth_getProof proved at block %d, refused below it (%d probes)", r.OldestState, r.Probes))
	}
	if r.Refusal != "" {
		f.Evidence = append(f.Evidence, "refusal: "+r.Refusal)
	}
	return f
}
