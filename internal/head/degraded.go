package head

import (
	"time"
)

// paceSamples is how many recent head moves BlockTime averages over: a
// burst of moves (a poll that found several blocks) averages out with the
// waits around it.
const paceSamples = 16

// paceBurst is how close together head moves count as one: a poll that
// found several blocks reports them back to back.
const paceBurst = 5 * time.Millisecond

// paceSample is one move of the head: to number, at a time.
type paceSample struct {
	number uint64
	at     time.Time
}

// Trust says how well the head block is vouched for.
type Trust struct {
	// Operators is how many distinct operators vouch for the head block.
	Operators int
	// Required is head_agreement.
	Required int
	// Degraded is true when the head was followed on fewer operators than
	// required, because the others stopped reporting (see Options.StaleBlocks).
	Degraded bool
	// Reporting is how many operators reported a new block linked to the
	// agreed chain within the stale limit.
	Reporting int
}

// Trust returns how well the head block is vouched for.
func (t *Tracker) Trust() Trust {
	t.mu.Lock()
	defer t.mu.Unlock()
	return Trust{Operators: t.headOps, Required: t.opt.Agreement, Degraded: !t.head.IsZero() && t.headOps < t.opt.Agreement,
		Reporting: t.reporting(t.opt.Now())}
}

// BlockTime returns the chain's block time as measured from the agreed head
// (over its last moves); 0 until measured.
func (t *Tracker) BlockTime() time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.blockTime()
}

// HeadAge returns how long ago the head last moved (0 without a head).
func (t *Tracker) HeadAge() time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.head.IsZero() {
		return 0
	}
	return t.opt.Now().Sub(t.headAt)
}

func (t *Tracker) blockTime() time.Duration {
	if len(t.pace) < 3 {
		return 0
	}
	first, last := t.pace[0], t.pace[len(t.pace)-1]
	if last.number <= first.number {
		return 0
	}
	return last.at.Sub(first.at) / time.Duration(last.number-first.number)
}

// learnPace records the head moving to height: the block time is the time
// the last paceSamples moves took over the blocks they covered, moves in one
// burst counting as one. A reorg starts over.
func (t *Tracker) learnPace(height uint64, now time.Time) {
	n := len(t.pace)
	for n > 0 && height <= t.pace[n-1].number {
		n-- // a reorg: the moves past its fork point did not happen
	}
	t.pace = t.pace[:n]
	if n > 0 && now.Sub(t.pace[n-1].at) < paceBurst {
		t.pace[n-1].number = height
		return
	}
	if len(t.pace) == paceSamples {
		copy(t.pace, t.pace[1:])
		t.pace = t.pace[:paceSamples-1]
	}
	t.pace = append(t.pace, paceSample{height, now})
}

// staleAfter is how long an operator may go without a new linked block
// before it counts as gone; 0 when not measurable or disabled.
func (t *Tracker) staleAfter() time.Duration {
	bt := t.blockTime()
	if t.opt.StaleBlocks <= 0 || bt == 0 {
		return 0
	}
	return time.Duration(t.opt.StaleBlocks * float64(bt))
}

// noteOperator records that operator reported a new block linked to the
// agreed chain (a block on a fork, made up or repeated does not count).
func (t *Tracker) noteOperator(provider, operator string, b Block, now time.Time) {
	if t.head.IsZero() {
		return
	}
	if _, ok := t.links(provider, b.Number); !ok {
		return
	}
	s := t.ops[operator]
	if s == nil {
		s = &operatorState{}
		t.ops[operator] = s
	}
	if b.Number > s.best || s.at.IsZero() {
		s.best, s.at = b.Number, now
	}
}

// links reports whether provider's claims from height down reach the
// agreed chain through parent hashes, and at which height (the fork point
// when its claims replace degraded blocks). Blocks of a degraded head above
// the last agreed block may be replaced; the last agreed block may not.
func (t *Tracker) links(provider string, height uint64) (uint64, bool) {
	h := height
	for range ahead + 2 {
		v, ok := t.votes[h][provider]
		if !ok {
			return 0, false
		}
		if c, known := t.canon[h]; known {
			if c == v.hash {
				return h, true
			}
			if h <= t.agreedTop {
				return 0, false
			}
		}
		if h <= t.agreedTop || h == 0 || v.parent == "" {
			return 0, false
		}
		if pv, ok := t.votes[h-1][provider]; !ok || pv.hash != v.parent {
			return 0, false
		}
		h--
	}
	return 0, false
}

// reporting counts operators with a linked new block within staleAfter.
func (t *Tracker) reporting(now time.Time) int {
	stale := t.staleAfter()
	n := 0
	for _, s := range t.ops {
		if stale == 0 || now.Sub(s.at) <= stale {
			n++
		}
	}
	return n
}

// follow moves the head on the blocks of the operators still reporting
// when fewer than agreement of them are (degraded trust): one block at a
// time, each one's parent the head, never to a block two reporting
// operators disagree on.
func (t *Tracker) follow(now time.Time) {
	stale := t.staleAfter()
	if stale == 0 || t.head.IsZero() {
		return
	}
	live := make(map[string]bool, len(t.ops))
	for op, s := range t.ops {
		if now.Sub(s.at) <= stale {
			live[op] = true
		}
	}
	if len(live) == 0 || len(live) >= t.opt.Agreement {
		return
	}
	reorged := false
	for range ahead {
		if t.step(live, now) {
			continue
		}
		if reorged || !t.degradedReorg(live, now) {
			return
		}
		reorged = true
	}
}

// step moves a degraded head one block, to the block at head+1 whose
// parent is the head that reporting operators report; false when there is
// none or they disagree.
func (t *Tracker) step(live map[string]bool, now time.Time) bool {
	next := t.head.Number + 1
	m := t.votes[next]
	if len(m) == 0 {
		return false
	}
	parent := t.head.Hash
	hash, n := bestHash(m, func(v vote) bool { return live[v.operator] && v.parent == parent })
	if n == 0 || t.contested(m, live, parent, hash) {
		return false
	}
	if t.headOps >= t.opt.Agreement {
		t.opt.Logger.Warn("head degraded: following fewer operators than head_agreement", "number", next, "operators", n, "required", t.opt.Agreement)
	}
	t.learnPace(next, now)
	t.head = Block{Number: next, Hash: hash, Parent: parent}
	t.headOps = n
	t.headAt = now
	t.canon[next] = hash
	t.version++
	t.prune()
	return true
}

// degradedReorg moves a degraded head back to where the reporting
// operators' blocks fork from it, above the last agreed block, when they
// agree on the block after the fork point; step then follows their branch.
func (t *Tracker) degradedReorg(live map[string]bool, now time.Time) bool {
	fork, branch := uint64(0), ""
	for provider, h := range t.latest {
		v, ok := t.votes[h][provider]
		if !ok || !live[v.operator] {
			continue
		}
		f, ok := t.links(provider, h)
		if !ok || f >= t.head.Number || f < t.agreedTop {
			continue
		}
		next, ok := t.votes[f+1][provider]
		if !ok {
			continue
		}
		if branch != "" && (f != fork || next.hash != branch) {
			return false // reporting operators on different branches
		}
		fork, branch = f, next.hash
	}
	if branch == "" {
		return false
	}
	parent := t.canon[fork]
	if hash, n := bestHash(t.votes[fork+1], func(v vote) bool { return live[v.operator] && v.parent == parent }); n == 0 ||
		hash != branch || t.contested(t.votes[fork+1], live, parent, branch) {
		return false // a reporting operator stays on the old branch
	}
	old := t.head
	for h := range t.canon {
		if h > fork {
			delete(t.canon, h)
		}
	}
	t.head = Block{Number: fork, Hash: t.canon[fork], Parent: t.parentOf(fork)}
	t.headAt = now
	t.reorgs++
	t.version++
	t.opt.Logger.Warn("degraded head reorg", "from_number", old.Number, "from_hash", old.Hash, "to_fork_point", fork)
	return true
}

// contested reports whether a live operator links a different block than
// hash to parent at the same height: then neither is followed.
func (t *Tracker) contested(m map[string]vote, live map[string]bool, parent, hash string) bool {
	for _, v := range m {
		if live[v.operator] && v.parent == parent && v.hash != hash {
			return true
		}
	}
	return false
}
