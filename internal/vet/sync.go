package vet

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/ethereum/go-ethereum/common/hexutil"

	"github.com/rpcmesh/rpcmesh/internal/head"
)

// checkChainID asks the candidate for its chain ID; another chain than the
// config's is an error (the candidate is not one for this chain at all).
func checkChainID(ctx context.Context, c *client, want uint64) error {
	raw, err := c.call(ctx, "eth_chainId", nil)
	if err != nil {
		return fmt.Errorf("the candidate %s does not answer eth_chainId: %w", c.url, err)
	}
	var id hexutil.Uint64
	if err := json.Unmarshal(raw, &id); err != nil {
		return fmt.Errorf("the candidate %s answers eth_chainId with %s, not a chain ID", c.url, excerpt(raw))
	}
	if uint64(id) != want {
		return fmt.Errorf("wrong chain: the candidate %s serves chain ID %d, the chain vetted for has chain ID %d", c.url, uint64(id), want)
	}
	return nil
}

// checkSync measures the candidate's head against the agreed head: how far
// behind (or ahead) it is, whether it says it is syncing, and whether its
// block at its head number is the agreed one.
func checkSync(ctx context.Context, c *client, ref *admitted) (SyncResult, error) {
	var r SyncResult
	raw, err := c.call(ctx, "eth_syncing", nil)
	if err != nil {
		return r, fmt.Errorf("eth_syncing: %w", err)
	}
	r.Syncing = string(raw) != "false"
	raw, err = c.call(ctx, "eth_getBlockByNumber", json.RawMessage(`["latest",false]`))
	if err != nil {
		return r, fmt.Errorf("eth_getBlockByNumber latest: %w", err)
	}
	b, err := head.ParseHeader(raw)
	if err != nil {
		return r, fmt.Errorf("eth_getBlockByNumber latest: %w", err)
	}
	r.CandidateHead, r.AgreedHead = b.Number, ref.latest()
	r.Lag = int64(r.AgreedHead) - int64(b.Number)
	if b.Number > r.AgreedHead {
		r.Note = "ahead of the agreed head: its head block is checked against no agreed header"
		r.OnAgreedChain = true
		return r, nil
	}
	h, err := ref.header(ctx, b.Number)
	if err != nil {
		r.Note = fmt.Sprintf("the agreed header at %d: %v", b.Number, err)
		return r, nil
	}
	r.OnAgreedChain = h.Hash().Hex() == b.Hash
	if !r.OnAgreedChain {
		r.Note = fmt.Sprintf("its block %d is %s, the agreed one is %s", b.Number, b.Hash, h.Hash().Hex())
	}
	return r, nil
}

// syncFailure is the sync criterion's failure, or nil when it passed.
func syncFailure(r SyncResult, maxLag uint64) *Failure {
	lag := r.Lag
	if lag < 0 {
		lag = -lag
	}
	ev := []string{fmt.Sprintf("agreed head %d, candidate head %d", r.AgreedHead, r.CandidateHead)}
	if r.Note != "" {
		ev = append(ev, r.Note)
	}
	switch {
	case r.Error != "":
		return &Failure{Criterion: CritSync, Reason: "its head could not be read", Evidence: []string{r.Error}}
	case r.Lag > 0 && uint64(lag) > maxLag:
		return &Failure{Criterion: CritSync, Reason: fmt.Sprintf("lagging: %d blocks behind the agreed head (at most %d)", lag, maxLag), Evidence: ev}
	case r.Lag < 0 && uint64(lag) > maxLag:
		return &Failure{Criterion: CritSync, Reason: fmt.Sprintf("%d blocks ahead of the agreed head (at most %d): a head no admitted operator sees", lag, maxLag), Evidence: ev}
	case r.Syncing:
		return &Failure{Criterion: CritSync, Reason: "still syncing (eth_syncing is not false)", Evidence: ev}
	case !r.OnAgreedChain:
		return &Failure{Criterion: CritSync, Reason: "its head is not on the chain the admitted operators agree on", Evidence: ev}
	}
	return nil
}
