package head

import (
	"log/slog"
	"sort"
	"sync"
)

// window is how many heights below the agreed head keep their votes.
const window = 256

// Tracker is one chain's agreed head. Providers report what they see with
// Observe; readers ask Latest, Safe and Finalized. It is safe for
// concurrent use; the zero value is not: use NewTracker.
type Tracker struct {
	agreement     int
	finalityDepth uint64
	logger        *slog.Logger

	mu sync.Mutex
	// votes[height][provider] = what that provider last said is at height.
	votes map[uint64]map[string]vote
	// canon[height] = agreed hash at height, for heights at or below head.
	canon map[uint64]string
	head  Block
	// tags[tag][operator] = highest number that operator reported for tag.
	tags    map[string]map[string]uint64
	reorgs  int
	version uint64
}

// vote is one provider's claim about the hash at a height.
type vote struct {
	operator string
	hash     string
}

// NewTracker returns a tracker that needs agreement distinct operators on a
// block hash (at least 1) and treats finalityDepth blocks below the head as
// final when providers do not report finalized/safe.
func NewTracker(agreement int, finalityDepth uint64, logger *slog.Logger) *Tracker {
	if agreement < 1 {
		agreement = 1
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Tracker{
		agreement:     agreement,
		finalityDepth: finalityDepth,
		logger:        logger,
		votes:         make(map[uint64]map[string]vote),
		canon:         make(map[uint64]string),
		tags:          map[string]map[string]uint64{"safe": {}, "finalized": {}},
	}
}

// Agreement is the number of distinct operators that must agree on a hash.
func (t *Tracker) Agreement() int { return t.agreement }

// Observe records that provider, run by operator, reports b as its latest
// block. The block's parent counts as a vote for height b.Number-1 as well.
// Agreement counts distinct operators, not providers.
func (t *Tracker) Observe(provider, operator string, b Block) {
	if b.IsZero() {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if b.Number > 0 && b.Parent != "" {
		t.vote(provider, operator, b.Number-1, b.Parent)
	}
	t.vote(provider, operator, b.Number, b.Hash)
	t.recompute()
}

// ObserveTag records the number a provider of operator reports for the
// "safe" or "finalized" tag.
func (t *Tracker) ObserveTag(operator, tag string, number uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	m, ok := t.tags[tag]
	if !ok {
		return
	}
	if number > m[operator] {
		m[operator] = number
	}
}

func (t *Tracker) vote(provider, operator string, height uint64, hash string) {
	if t.head.Number > window && height < t.head.Number-window {
		return
	}
	m := t.votes[height]
	if m == nil {
		m = make(map[string]vote, 4)
		t.votes[height] = m
	}
	if prev, ok := m[provider]; ok && prev.hash != hash {
		// The provider switched forks at height: its votes above were on
		// the old fork.
		for h, votes := range t.votes {
			if h > height {
				delete(votes, provider)
			}
		}
	}
	m[provider] = vote{operator: operator, hash: hash}
}

// agreedAt returns the hash at height that at least agreement operators
// vote for, if any.
func (t *Tracker) agreedAt(height uint64) (string, bool) {
	m := t.votes[height]
	if len(m) < t.agreement {
		return "", false
	}
	operators := make(map[string]map[string]bool, 2) // hash -> operators
	for _, v := range m {
		ops := operators[v.hash]
		if ops == nil {
			ops = make(map[string]bool, t.agreement)
			operators[v.hash] = ops
		}
		ops[v.operator] = true
	}
	// The hash most operators report wins, not the first to reach the
	// threshold: two colluding operators must not outvote three honest ones.
	// A tie goes to the smaller hash, so the choice does not depend on map
	// order.
	best, n := "", 0
	for hash, ops := range operators {
		if len(ops) > n || len(ops) == n && hash < best {
			best, n = hash, len(ops)
		}
	}
	if n < t.agreement {
		return "", false
	}
	return best, true
}

// recompute moves the head forward to the highest agreed height, or back
// when a different hash is agreed at or below the current head (a reorg).
func (t *Tracker) recompute() {
	heights := make([]uint64, 0, len(t.votes))
	for h := range t.votes {
		heights = append(heights, h)
	}
	sort.Slice(heights, func(i, j int) bool { return heights[i] > heights[j] })

	// Reorg: an agreed hash at a known canonical height that differs; the
	// lowest such height is the fork point.
	for i := len(heights) - 1; i >= 0; i-- {
		h := heights[i]
		if h > t.head.Number || t.head.IsZero() {
			continue
		}
		c, known := t.canon[h]
		if !known {
			continue
		}
		if a, ok := t.agreedAt(h); ok && a != c {
			t.reorg(h, a)
			break
		}
	}
	for _, h := range heights {
		if !t.head.IsZero() && h <= t.head.Number {
			break
		}
		if a, ok := t.agreedAt(h); ok {
			t.advance(h, a)
			break
		}
	}
	t.prune()
}

func (t *Tracker) advance(height uint64, hash string) {
	t.head = Block{Number: height, Hash: hash, Parent: t.parentOf(height)}
	t.canon[height] = hash
	// Fill in agreed hashes below, so a later reorg below the head is seen.
	for h := height; h > 0 && height-h < window; h-- {
		if a, ok := t.agreedAt(h - 1); ok {
			t.canon[h-1] = a
		}
	}
	t.version++
}

func (t *Tracker) reorg(height uint64, hash string) {
	old := t.head
	for h := range t.canon {
		if h >= height {
			delete(t.canon, h)
		}
	}
	t.canon[height] = hash
	t.head = Block{Number: height, Hash: hash, Parent: t.parentOf(height)}
	t.reorgs++
	t.version++
	t.logger.Warn("chain reorg", "from_number", old.Number, "from_hash", old.Hash, "to_number", height, "to_hash", hash)
}

func (t *Tracker) parentOf(height uint64) string {
	if height == 0 {
		return ""
	}
	if a, ok := t.agreedAt(height - 1); ok {
		return a
	}
	return ""
}

func (t *Tracker) prune() {
	if t.head.Number <= window {
		return
	}
	low := t.head.Number - window
	for h := range t.votes {
		if h < low {
			delete(t.votes, h)
		}
	}
	for h := range t.canon {
		if h < low {
			delete(t.canon, h)
		}
	}
}

// Latest returns the agreed head; ok is false until one is agreed.
func (t *Tracker) Latest() (Block, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.head, !t.head.IsZero()
}

// Safe returns the agreed "safe" number: the highest number at least
// agreement operators report for it, capped at the head; without reports,
// the head minus half the finality depth.
func (t *Tracker) Safe() (uint64, bool) { return t.tag("safe", t.finalityDepth/2) }

// Finalized returns the agreed "finalized" number, like Safe, falling back to
// the head minus the finality depth.
func (t *Tracker) Finalized() (uint64, bool) { return t.tag("finalized", t.finalityDepth) }

func (t *Tracker) tag(name string, depth uint64) (uint64, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.head.IsZero() {
		return 0, false
	}
	m := t.tags[name]
	if len(m) >= t.agreement {
		nums := make([]uint64, 0, len(m))
		for _, n := range m {
			nums = append(nums, n)
		}
		sort.Slice(nums, func(i, j int) bool { return nums[i] > nums[j] })
		// The agreement-th highest: at least that many operators are at or past it.
		n := nums[t.agreement-1]
		return min(n, t.head.Number), true
	}
	if t.head.Number < depth {
		return 0, true
	}
	return t.head.Number - depth, true
}

// Lag returns how many blocks number is behind the agreed head (0 if ahead
// or if no head is agreed yet).
func (t *Tracker) Lag(number uint64) uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.head.IsZero() || number >= t.head.Number {
		return 0
	}
	return t.head.Number - number
}

// Reorgs returns how many reorgs the tracker has followed.
func (t *Tracker) Reorgs() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.reorgs
}
