package head

import (
	"log/slog"
	"sort"
	"sync"
	"time"
)

// window is how many heights below the agreed head keep their votes.
const window = 256

// ahead is how many heights above the agreed head one provider's votes may
// occupy: a provider reporting ever higher made-up heads replaces its own
// oldest claims, so memory and per-observe work stay bounded whatever it says.
const ahead = 64

// Options tunes a Tracker; the zero value needs agreement and never follows
// a degraded head.
type Options struct {
	// Agreement is how many distinct operators must agree on a block hash
	// (at least 1).
	Agreement int
	// FinalityDepth is how many blocks below the head count as final when
	// providers do not report finalized/safe.
	FinalityDepth uint64
	// StaleBlocks is how many block times (learned from the agreed head)
	// an operator may go without reporting a new block that links to the
	// agreed chain before it counts as gone. 0 disables the degraded head.
	StaleBlocks float64
	// Now is the clock (time.Now when nil); tests set it.
	Now func() time.Time
	// Logger receives reorg and degradation lines (discarded when nil).
	Logger *slog.Logger
}

// Tracker is one chain's agreed head. Providers report what they see with
// Observe; readers ask Latest, Safe and Finalized. It is safe for
// concurrent use; the zero value is not: use NewTracker or New.
type Tracker struct {
	opt Options

	mu sync.Mutex
	// votes[height][provider] = what that provider last said is at height.
	votes map[uint64]map[string]vote
	// above[provider] = heights above the head it has votes at, oldest
	// first, at most ahead of them.
	above map[string][]uint64
	// canon[height] = agreed hash at height, for heights at or below head.
	canon   map[uint64]string
	head    Block
	headOps int       // distinct operators that vouch for the head block
	headAt  time.Time // when the head last moved
	// agreedTop is the height of the last block agreement (not a degraded
	// head) settled: a degraded head may be reorganised above it, never
	// below.
	agreedTop   uint64
	agreedMoved time.Time // when agreedTop last moved
	// latest[provider] = the height of the block it reported last.
	latest map[string]uint64
	// ops[operator] = the last time one of its providers reported a new
	// block linked to the agreed chain.
	ops map[string]*operatorState
	// pace holds the head's recent moves, for BlockTime.
	pace []paceSample
	// tags[tag][operator] = highest number that operator reported for tag.
	tags    map[string]map[string]uint64
	reorgs  int
	version uint64
}

// vote is one provider's claim about the hash at a height; parent is the
// claimed block's parent hash when the provider reported the block itself
// ("" when the vote came from a child's parent hash).
type vote struct {
	operator string
	hash     string
	parent   string
}

// operatorState is what the tracker measured of one operator's liveness.
type operatorState struct {
	best uint64    // highest linked block it reported
	at   time.Time // when it reported it
}

// NewTracker returns a tracker that needs agreement distinct operators on a
// block hash (at least 1) and treats finalityDepth blocks below the head as
// final when providers do not report finalized/safe. It never follows a
// degraded head; New with StaleBlocks does.
func NewTracker(agreement int, finalityDepth uint64, logger *slog.Logger) *Tracker {
	return New(Options{Agreement: agreement, FinalityDepth: finalityDepth, Logger: logger})
}

// New returns a tracker configured by o.
func New(o Options) *Tracker {
	if o.Agreement < 1 {
		o.Agreement = 1
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Tracker{
		opt:    o,
		votes:  make(map[uint64]map[string]vote),
		above:  make(map[string][]uint64),
		canon:  make(map[uint64]string),
		ops:    make(map[string]*operatorState),
		latest: make(map[string]uint64),
		tags:   map[string]map[string]uint64{"safe": {}, "finalized": {}},
	}
}

// Agreement is the number of distinct operators that must agree on a hash.
func (t *Tracker) Agreement() int { return t.opt.Agreement }

// Observe records that provider, run by operator, reports b as its latest
// block. The block's parent counts as a vote for height b.Number-1 as well.
// Agreement counts distinct operators, not providers. Its cost does not
// grow with what providers claimed before.
func (t *Tracker) Observe(provider, operator string, b Block) {
	if b.IsZero() {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.opt.Now()
	if b.Number > 0 && b.Parent != "" {
		t.vote(provider, operator, b.Number-1, b.Parent, "")
	}
	t.vote(provider, operator, b.Number, b.Hash, b.Parent)
	t.latest[provider] = b.Number
	t.settle(b.Number, now)
	t.noteOperator(provider, operator, b, now)
	t.follow(now)
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

func (t *Tracker) isAbove(height uint64) bool { return t.head.IsZero() || height > t.head.Number }

func (t *Tracker) vote(provider, operator string, height uint64, hash, parent string) {
	if t.head.Number > window && height < t.head.Number-window {
		return
	}
	m := t.votes[height]
	if m == nil {
		m = make(map[string]vote, 4)
		t.votes[height] = m
	}
	prev, had := m[provider]
	if had && prev.hash != hash {
		// The provider switched forks at height: its votes above were on
		// the old fork.
		t.dropAbove(provider, height)
	}
	if had && prev.hash == hash && parent == "" {
		parent = prev.parent
	}
	m[provider] = vote{operator: operator, hash: hash, parent: parent}
	if (!had || prev.hash != hash) && t.isAbove(height) {
		t.above[provider] = append(t.above[provider], height)
		t.trimAbove(provider)
	}
}

// dropAbove deletes provider's votes above height.
func (t *Tracker) dropAbove(provider string, height uint64) {
	if !t.head.IsZero() {
		for h := height + 1; h <= t.head.Number; h++ {
			t.unvote(provider, h)
		}
	}
	for _, h := range t.above[provider] {
		if h > height {
			t.unvote(provider, h)
		}
	}
}

func (t *Tracker) unvote(provider string, h uint64) {
	if m := t.votes[h]; m != nil {
		delete(m, provider)
		if len(m) == 0 {
			delete(t.votes, h)
		}
	}
}

// trimAbove keeps provider's list of heights above the head to those it
// still votes at, and to at most ahead of them, dropping the oldest claims.
func (t *Tracker) trimAbove(provider string) {
	list := t.above[provider]
	kept := list[:0]
	for _, h := range list {
		if _, ok := t.votes[h][provider]; ok && t.isAbove(h) && !containsHeight(kept, h) {
			kept = append(kept, h)
		}
	}
	for len(kept) > ahead {
		t.unvote(provider, kept[0])
		kept = kept[1:]
	}
	if len(kept) == 0 {
		delete(t.above, provider)
		return
	}
	t.above[provider] = append([]uint64(nil), kept...)
}

func containsHeight(hs []uint64, h uint64) bool {
	for _, x := range hs {
		if x == h {
			return true
		}
	}
	return false
}

// agreedAt returns the hash at height that most operators vote for and how
// many do; ok is false when fewer than agreement do.
func (t *Tracker) agreedAt(height uint64) (hash string, operators int, ok bool) {
	m := t.votes[height]
	if len(m) < t.opt.Agreement {
		return "", 0, false
	}
	hash, operators = bestHash(m, nil)
	return hash, operators, operators >= t.opt.Agreement
}

// bestHash returns the hash most distinct operators vote for in m (only
// votes accepted by keep, when set). The hash most operators report wins,
// not the first to reach the threshold: two colluding operators must not
// outvote three honest ones. A tie goes to the smaller hash, so the choice
// does not depend on map order.
func bestHash(m map[string]vote, keep func(vote) bool) (string, int) {
	operators := make(map[string]map[string]bool, 2) // hash -> operators
	for _, v := range m {
		if keep != nil && !keep(v) {
			continue
		}
		ops := operators[v.hash]
		if ops == nil {
			ops = make(map[string]bool, 2)
			operators[v.hash] = ops
		}
		ops[v.operator] = true
	}
	best, n := "", 0
	for hash, ops := range operators {
		if len(ops) > n || len(ops) == n && hash < best {
			best, n = hash, len(ops)
		}
	}
	return best, n
}

// settle updates the head after votes at height and height-1 changed: only
// those heights can have changed agreement.
func (t *Tracker) settle(height uint64, now time.Time) {
	touched := []uint64{height}
	if height > 0 {
		touched = []uint64{height - 1, height}
	}
	for _, h := range touched {
		if t.head.IsZero() || h > t.head.Number {
			continue
		}
		c, known := t.canon[h]
		if !known {
			continue
		}
		a, n, ok := t.agreedAt(h)
		switch {
		case ok && a != c:
			// Reorg: the lowest touched height is the fork point.
			t.reorg(h, a, n, now)
			t.advanceToHighest(now)
			return
		case ok && h == t.head.Number && n > t.headOps:
			t.headOps = n // a degraded head confirmed by more operators
			t.agreedTop, t.agreedMoved = h, now
			t.version++
		}
	}
	for i := len(touched) - 1; i >= 0; i-- {
		h := touched[i]
		if !t.isAbove(h) {
			break
		}
		if a, n, ok := t.agreedAt(h); ok {
			t.advance(h, a, n, now)
			return
		}
	}
}

// advanceToHighest moves the head to the highest agreed height above it,
// after a reorg moved it back. It looks at the bounded votes above the head.
func (t *Tracker) advanceToHighest(now time.Time) {
	var best uint64
	var hash string
	var ops int
	for h := range t.votes {
		if h <= t.head.Number || h < best {
			continue
		}
		if a, n, ok := t.agreedAt(h); ok {
			best, hash, ops = h, a, n
		}
	}
	if hash != "" {
		t.advance(best, hash, ops, now)
	}
}

func (t *Tracker) advance(height uint64, hash string, ops int, now time.Time) {
	t.learnPace(height, now)
	t.head = Block{Number: height, Hash: hash, Parent: t.parentOf(height)}
	t.headOps = ops
	t.headAt = now
	t.agreedTop, t.agreedMoved = height, now
	t.canon[height] = hash
	// Fill in agreed hashes below, so a later reorg below the head is seen;
	// heights already known with the same hash were filled before.
	for h := height; h > 0 && height-h < window; h-- {
		a, _, ok := t.agreedAt(h - 1)
		if !ok {
			continue
		}
		if c, known := t.canon[h-1]; known && c == a {
			break
		}
		t.canon[h-1] = a
	}
	t.version++
	t.prune()
}

func (t *Tracker) reorg(height uint64, hash string, ops int, now time.Time) {
	old := t.head
	for h := range t.canon {
		if h >= height {
			delete(t.canon, h)
		}
	}
	t.canon[height] = hash
	t.learnPace(height, now)
	t.head = Block{Number: height, Hash: hash, Parent: t.parentOf(height)}
	t.headOps = ops
	t.headAt = now
	t.agreedTop, t.agreedMoved = height, now
	t.reorgs++
	t.version++
	t.opt.Logger.Warn("chain reorg", "from_number", old.Number, "from_hash", old.Hash, "to_number", height, "to_hash", hash)
}

func (t *Tracker) parentOf(height uint64) string {
	if height == 0 {
		return ""
	}
	if c, ok := t.canon[height-1]; ok {
		return c
	}
	if a, _, ok := t.agreedAt(height - 1); ok {
		return a
	}
	return ""
}

func (t *Tracker) prune() {
	if t.head.Number <= window {
		return
	}
	low := t.head.Number - window
	// Heights are bounded (window below, ahead per provider above), so
	// this walk is bounded too.
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
func (t *Tracker) Safe() (uint64, bool) { return t.tag("safe", t.opt.FinalityDepth/2) }

// Finalized returns the agreed "finalized" number, like Safe, falling back to
// the head minus the finality depth.
func (t *Tracker) Finalized() (uint64, bool) { return t.tag("finalized", t.opt.FinalityDepth) }

func (t *Tracker) tag(name string, depth uint64) (uint64, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.head.IsZero() {
		return 0, false
	}
	m := t.tags[name]
	if len(m) >= t.opt.Agreement {
		nums := make([]uint64, 0, len(m))
		for _, n := range m {
			nums = append(nums, n)
		}
		sort.Slice(nums, func(i, j int) bool { return nums[i] > nums[j] })
		// The agreement-th highest: at least that many operators are at or past it.
		n := nums[t.opt.Agreement-1]
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
