package subscribe

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/head"
	"github.com/rpcmesh/rpcmesh/internal/pause"
	"github.com/rpcmesh/rpcmesh/internal/pipeline"
)

// fetchAttempts and fetchPause bound how long the hub waits for a block the
// agreed head names to be served (a provider may not have it yet).
const (
	fetchAttempts = 20
	fetchPause    = 100 * time.Millisecond
)

// follow watches the agreed head until ctx ends and announces every block
// that becomes part of the agreed chain.
func (h *Hub) follow(ctx context.Context) {
	t := time.NewTicker(h.opts.Poll)
	defer t.Stop()
	var last string
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		b, ok := h.opts.Head.Latest()
		if !ok || b.Hash == last {
			continue
		}
		if h.Count(KindNewHeads) == 0 && h.Count(KindLogs) == 0 {
			// Nobody listens: remember the head cheaply so that a later
			// subscriber's first blocks still connect to it.
			h.chain.cut(b.Number)
			h.chain.add(&sentBlock{number: b.Number, hash: b.Hash})
			last = b.Hash
			continue
		}
		if err := h.advance(ctx, b); err != nil {
			if ctx.Err() == nil {
				h.log.Warn("subscriptions: following the agreed head", "number", b.Number, "hash", b.Hash, "err", err)
			}
			continue // retried at the next tick, from the last block sent
		}
		last = b.Hash
	}
}

// advance announces the agreed chain up to b: the blocks between the last
// one sent and b, and on a reorg the removal of the dropped ones.
func (h *Hub) advance(ctx context.Context, b head.Block) error {
	branch, err := h.branch(ctx, b)
	if err != nil {
		return err
	}
	wantLogs := h.Count(KindLogs) > 0
	if dropped := h.chain.cut(branch[0].number); len(dropped) > 0 {
		h.log.Info("subscriptions: reorg", "dropped_from", dropped[0].number, "dropped", len(dropped), "new_head", b.Number)
		// Oldest block first, each block's logs in order, as go-ethereum
		// sends removed logs (core/blockchain.go, reorg).
		for _, d := range dropped {
			h.sendLogs(d.logs, true)
		}
	}
	for _, hd := range branch {
		sb := &sentBlock{number: hd.number, hash: hd.hash}
		if wantLogs {
			if sb.logs, err = h.fetchLogs(ctx, hd.hash); err != nil {
				return err
			}
		}
		h.chain.add(sb)
		h.sendHead(hd.raw)
		h.sendLogs(sb.logs, false)
	}
	return nil
}

// branch returns the headers from the first block not yet sent (or the
// fork point of a reorg) up to b, lowest first, walking parent hashes.
func (h *Hub) branch(ctx context.Context, b head.Block) ([]*header, error) {
	top, err := h.header(ctx, b.Hash)
	if err != nil {
		return nil, err
	}
	list := []*header{top}
	for len(list) < h.opts.MaxCatchUp {
		cur := list[0]
		if cur.number == 0 || h.chain.empty() || cur.number-1 < h.chain.low {
			break
		}
		if sent, ok := h.chain.get(cur.number - 1); ok && sent.hash == cur.parent {
			break // connects to what subscribers already have
		}
		p, err := h.header(ctx, cur.parent)
		if err != nil {
			return nil, err
		}
		if p.number != cur.number-1 {
			return nil, fmt.Errorf("subscribe: parent of block %d is numbered %d", cur.number, p.number)
		}
		list = append([]*header{p}, list...)
	}
	if len(list) == h.opts.MaxCatchUp {
		h.log.Warn("subscriptions: head jumped further than max catch-up; blocks skipped", "from", list[0].number, "max_catch_up", h.opts.MaxCatchUp)
	}
	return list, nil
}

// header fetches a block header by hash through the pipeline, waiting a
// little when no provider serves it yet.
func (h *Hub) header(ctx context.Context, hash string) (*header, error) {
	params, _ := json.Marshal([]any{hash, false})
	var lastErr error
	for range fetchAttempts {
		res, err := pipeline.Do(ctx, h.opts.Fetch, pipeline.NewCall("eth_getBlockByHash", params))
		if err == nil && string(res) != "null" {
			hd, perr := parseHeader(res)
			if perr == nil && hd.hash == hash {
				return hd, nil
			}
			err = fmt.Errorf("answer for %s: %v (hash %s)", hash, perr, hd.hash)
		}
		if err == nil {
			err = fmt.Errorf("block %s not found", hash)
		}
		lastErr = err
		if !pause.For(ctx, fetchPause) {
			return nil, ctx.Err()
		}
	}
	return nil, fmt.Errorf("subscribe: eth_getBlockByHash %s: %w", hash, lastErr)
}

// parseHeader reads a block object and strips what a newHeads
// notification does not carry (transactions, uncles, size).
func parseHeader(res json.RawMessage) (*header, error) {
	b, err := head.ParseHeader(res)
	if err != nil {
		return &header{}, err
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(res, &fields); err != nil {
		return &header{}, fmt.Errorf("decode block: %w", err)
	}
	delete(fields, "transactions")
	delete(fields, "uncles")
	delete(fields, "size")
	raw, err := json.Marshal(fields)
	if err != nil {
		return &header{}, fmt.Errorf("encode header: %w", err)
	}
	return &header{number: b.Number, hash: strings.ToLower(b.Hash), parent: b.Parent, raw: raw}, nil
}

// sendHead notifies every newHeads subscriber.
func (h *Hub) sendHead(raw json.RawMessage) {
	for _, s := range h.of(KindNewHeads) {
		s.sink(raw)
	}
}
