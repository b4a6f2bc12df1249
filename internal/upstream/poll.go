package upstream

import (
	"context"
	"encoding/json"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/head"
)

// maxGapFill is how many skipped blocks one head poll fetches so that the
// provider's reported blocks link by parent hash (a degraded head follows
// only linked blocks); a longer gap is left for the agreement to bridge.
const maxGapFill = 16

// nextPoll returns how long to wait before the next head poll: until the
// provider's next block is nearly due (its last new head plus three
// quarters of the chain's block time), then a tenth of a block time at a
// time until it comes, always within [poll_min_interval, poll_interval].
// Polling a little early keeps the polls locked to when blocks really come
// (a poll timed exactly would drift with every error in the measured block
// time). Without a measured block time, poll_interval.
func (p *Provider) nextPoll(now time.Time, maxWait time.Duration) time.Duration {
	if p.blockTime == nil {
		return maxWait
	}
	bt := p.blockTime()
	if bt <= 0 {
		return maxWait
	}
	minWait := p.health.PollMinInterval.D()
	if minWait <= 0 {
		minWait = 100 * time.Millisecond
	}
	p.mu.Lock()
	rise := p.headRiseAt
	p.mu.Unlock()
	wait := bt / 10
	if due := rise.Add(bt * 3 / 4); due.After(now) {
		wait = due.Sub(now)
	}
	return min(max(wait, minWait), maxWait)
}

// tagsDue reports whether this poll also asks for the safe and finalized
// blocks: every fourth poll_interval, however often the head is polled.
func (p *Provider) tagsDue(now time.Time, last *time.Time, poll time.Duration) bool {
	if now.Sub(*last) < 4*poll {
		return false
	}
	*last = now
	return true
}

// reportedKeep is how many of its recent heads a provider remembers, to
// tell a reorg from a new block.
const reportedKeep = 64

// reportHead reports b, a head the provider reported by poll (ws false)
// or over its newHeads subscription (ws true), after the blocks between it
// and what the provider reported before (fillGap): one path for both, so
// that what a provider reports links block to block however it came. Held
// under headMu, so that a poll and a notification cannot interleave their
// blocks.
func (p *Provider) reportHead(ctx context.Context, b head.Block, ws, probe bool) {
	p.headMu.Lock()
	defer p.headMu.Unlock()
	p.fillGap(ctx, b, probe)
	p.observeHead(b, ws)
}

// fillGap reports the blocks between what the provider reported before and
// b when b does not link to them: blocks a poll skipped or a newHeads feed
// did not send (a node sends only the new head after a reorg; a feed under
// load may skip), or the branch of a reorg, fetched by parent hash (at most
// maxGapFill), so that what it reports links block to block.
func (p *Provider) fillGap(ctx context.Context, b head.Block, probe bool) {
	var missing []head.Block
	for cur := b; len(missing) < maxGapFill && cur.Number > 0; {
		p.mu.Lock()
		prev := p.head
		known, ok := p.reported[cur.Number-1]
		p.mu.Unlock()
		if prev.IsZero() || ok && known == cur.Parent || !ok && cur.Number-1 <= prev.Number {
			break // links to what it reported, or nothing to link to
		}
		params, _ := json.Marshal([]any{cur.Parent, false})
		res, err := p.healthCall(ctx, "eth_getBlockByHash", string(params), probe)
		if err != nil {
			p.logger.Debug("head gap: fetch failed", "number", cur.Number-1, "err", err)
			break
		}
		pb, err := p.parseHead(res)
		if err != nil || pb.Hash != cur.Parent || pb.Number != cur.Number-1 {
			p.logger.Debug("head gap: not the parent", "number", cur.Number-1, "err", err)
			break
		}
		missing = append(missing, pb)
		cur = pb
	}
	for i := len(missing) - 1; i >= 0; i-- {
		p.observeHead(missing[i], false)
	}
}

// pushHead polls the provider's head early when a client's eth_blockNumber
// answer shows it is past the head it last reported: its new block then
// counts towards the agreed head without waiting for the next poll. At most
// once per poll_min_interval, so that a provider cannot make itself polled
// without end.
func (p *Provider) pushHead(method string, res json.RawMessage) {
	if method != "eth_blockNumber" {
		return
	}
	var s string
	if json.Unmarshal(res, &s) != nil {
		return
	}
	n, err := head.ParseQuantity(s)
	if err != nil {
		return
	}
	now := time.Now()
	p.mu.Lock()
	due := n > p.head.Number && now.Sub(p.pushedAt) >= p.health.PollMinInterval.D()
	if due {
		p.pushedAt = now
	}
	p.mu.Unlock()
	if due {
		p.Poke()
	}
}
