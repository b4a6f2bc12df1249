package upstream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/head"
	"github.com/rpcmesh/rpcmesh/internal/headerhash"
)

// Run checks the provider's chain ID, then polls its head and re-checks its
// chain ID until ctx ends, and then closes the provider (Close). While the
// provider is excluded (breaker open, wrong chain, unreachable) the same
// checks act as the readmission probe.
func (p *Provider) Run(ctx context.Context) {
	defer p.Close()
	poll := p.health.PollInterval.D()
	if poll <= 0 {
		poll = 2 * time.Second
	}
	probe := p.health.ProbeInterval.D()
	if probe <= 0 {
		probe = 5 * time.Second
	}
	chainEvery := p.health.ChainIDInterval.D()
	if chainEvery <= 0 {
		chainEvery = time.Minute
	}
	if p.cfg.WS != "" {
		go p.followNewHeads(ctx)
	}
	var lastChainCheck, lastTags time.Time
	tick := 0
	startBackoff := 250 * time.Millisecond // until the chain ID is first confirmed
	for {
		now := time.Now()
		p.mu.Lock()
		excluded := p.wrongChain != "" || !p.chainChecked || p.br.open
		probeDue := p.br.probeDue(now) || !p.br.open
		unchecked := !p.chainChecked
		p.mu.Unlock()

		wait := poll
		switch {
		case excluded && !probeDue:
			wait = probe
		case excluded || now.Sub(lastChainCheck) >= chainEvery:
			if p.CheckChainID(ctx) == nil {
				lastChainCheck = now
				p.pollHead(ctx, p.tagsDue(now, &lastTags, poll), true)
			}
			if excluded {
				wait = probe
			} else {
				wait = p.nextPoll(time.Now(), poll)
			}
			if unchecked && p.wrongChain == "" {
				// Not reachable yet at start: retry soon, backing off to the probe interval.
				wait, startBackoff = startRetry(startBackoff, probe)
			}
		case p.wsFresh(now, 10*poll) && tick%5 != 0:
			// newHeads over WS keeps the head fresh: poll only every fifth tick.
		default:
			p.pollHead(ctx, p.tagsDue(now, &lastTags, poll), false)
			wait = p.nextPoll(time.Now(), poll)
		}
		tick++
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		case <-p.poke:
			t.Stop()
		}
	}
}

// healthCall is a call from the health loop: it skips admission (it must
// reach an excluded provider) and records its outcome as a probe.
func (p *Provider) healthCall(ctx context.Context, method, params string, probe bool) (json.RawMessage, error) {
	t := p.health.ProviderTimeout.D()
	if t <= 0 {
		t = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, t)
	defer cancel()
	start := time.Now()
	id := p.seq.Add(1)
	// Watched for stalls like a routed call, so that a node that hangs
	// shows as stalled by its health poll, without waiting for client
	// traffic (but not counted as load in routing's score).
	p.mu.Lock()
	p.polls[id] = start
	p.mu.Unlock()
	res, err := p.post(ctx, id, method, json.RawMessage(params))
	p.mu.Lock()
	delete(p.polls, id)
	p.mu.Unlock()
	if ctx.Err() != nil && context.Cause(ctx) == context.Canceled {
		return nil, err // shutting down
	}
	p.record(start, err, probe)
	return res, err
}

// CheckChainID asks the provider for eth_chainId and excludes it on a
// mismatch (readmitting it when it matches again).
func (p *Provider) CheckChainID(ctx context.Context) error {
	res, err := p.healthCall(ctx, "eth_chainId", "[]", false)
	if err != nil {
		p.logger.Debug("eth_chainId check failed", "err", err)
		return fmt.Errorf("upstream %s: eth_chainId: %w", p.name, err)
	}
	var s string
	var got uint64
	if err = json.Unmarshal(res, &s); err == nil {
		got, err = head.ParseQuantity(s)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if err != nil {
		p.wrongChain = fmt.Sprintf("eth_chainId answer %s: %v", res, err)
	} else if got != p.chainID {
		p.wrongChain = fmt.Sprintf("eth_chainId %d, chain %s is %d", got, p.chain, p.chainID)
	} else {
		if p.wrongChain != "" || !p.chainChecked {
			p.logger.Info("chain ID confirmed", "chain_id", got)
		}
		p.wrongChain = ""
		p.chainChecked = true
		return nil
	}
	p.logger.Error("provider excluded: wrong chain", "reason", p.wrongChain)
	return fmt.Errorf("upstream %s: %s", p.name, p.wrongChain)
}

// observeHead records a head the provider reported, by poll or over WS.
func (p *Provider) observeHead(b head.Block, ws bool) {
	now := time.Now()
	p.mu.Lock()
	if b.Number > p.head.Number || p.headRiseAt.IsZero() {
		p.headRiseAt = now
	}
	p.head = b
	p.headAt = now
	p.reported[b.Number] = b.Hash
	if len(p.reported) > 2*reportedKeep {
		for n := range p.reported {
			if n+reportedKeep < b.Number || n > b.Number {
				delete(p.reported, n)
			}
		}
	}
	if ws {
		p.wsHeadAt = now
	}
	p.mu.Unlock()
	if p.onHead != nil {
		p.onHead(p, b)
	}
}

// pollHead fetches the latest block (and every few polls the safe and
// finalized numbers) and reports them.
func (p *Provider) pollHead(ctx context.Context, tags, probe bool) {
	res, err := p.healthCall(ctx, "eth_getBlockByNumber", `["latest",false]`, probe)
	if err != nil {
		p.logger.Debug("head poll failed", "err", err)
		return
	}
	b, err := p.parseHead(res)
	if err != nil {
		p.logger.Debug("head poll: bad header", "err", err)
		return
	}
	p.reportHead(ctx, b, false, probe)
	if !tags || p.onTag == nil {
		return
	}
	for _, tag := range []string{"finalized", "safe"} {
		res, err := p.healthCall(ctx, "eth_getBlockByNumber", `["`+tag+`",false]`, false)
		if err != nil {
			continue // many nodes do not know the tags; the tracker falls back to depth
		}
		if tb, err := head.ParseHeader(res); err == nil {
			p.onTag(p, tag, tb.Number)
		}
	}
}

// parseHead reads a head block; with CheckHeaderHash its hash must be the
// one its header fields hash to, else the provider is penalised.
func (p *Provider) parseHead(raw json.RawMessage) (head.Block, error) {
	if !p.checkHash {
		return head.ParseHeader(raw)
	}
	h, err := headerhash.Decode(raw)
	if err != nil {
		if errors.Is(err, headerhash.ErrMismatch) {
			p.logger.Warn("head refused: its header does not hash to the hash it claims (a lie; or, if every provider of the chain is refused, a chain whose headers go-ethereum cannot hash: give it verify: { enabled: false })", "err", err)
			p.Penalise("head_hash")
			if p.onHeadLie != nil {
				p.onHeadLie(p, raw, err)
			}
		}
		return head.Block{}, fmt.Errorf("head: %w", err)
	}
	return head.Block{Number: h.Number.Uint64(), Hash: strings.ToLower(h.Hash().Hex()), Parent: strings.ToLower(h.ParentHash.Hex())}, nil
}

// startRetry is the wait before the next chain ID check of a provider not
// yet reached, and the backoff after it: doubling up to probe, never past
// it (doubling without a bound overflowed into a negative wait after 35
// tries, and the health loop then spun on the dead provider).
func startRetry(backoff, probe time.Duration) (wait, next time.Duration) {
	wait = min(backoff, probe)
	return wait, min(2*wait, probe)
}
