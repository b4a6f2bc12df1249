package filters

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/pause"
)

// Kind is what a filter collects.
type Kind int

// Filter kinds.
const (
	Logs    Kind = iota // logs matching the criteria, removed ones again on a reorg
	Blocks              // hashes of new agreed blocks
	Pending             // hashes of pending transactions
)

// hubKind is the subscription kind (eth_subscribe's name for it) of the
// event source that feeds a filter kind.
var hubKind = [...]string{Logs: "logs", Blocks: "newHeads", Pending: "newPendingTransactions"}

// Errors callers branch on.
var (
	// ErrNotFound: no such filter (never made, uninstalled, expired, or
	// dropped after too many changes waited in it).
	ErrNotFound = errors.New("filter not found")
	// ErrClientLimit: the client has as many filters as it may.
	ErrClientLimit = errors.New("too many filters for this client")
	// ErrTotalLimit: the chain has as many filters as it may.
	ErrTotalLimit = errors.New("too many filters on this chain")
)

// Events is the agreed chain's event source (a *subscribe.Hub): new
// blocks' headers, their logs (and removed ones on a reorg), pending
// transaction hashes.
type Events interface {
	Subscribe(kind string, params json.RawMessage, sink func(result json.RawMessage)) (string, error)
	Unsubscribe(id string) bool
}

// Limits bound a Store (config.Filters).
type Limits struct {
	MaxPerClient int   // filters one client may have installed
	MaxTotal     int   // filters in the store
	MaxChanges   int   // changes waiting in one filter; past it the filter is dropped
	MaxBytes     int64 // bytes of the changes waiting in one filter; same rule
	// MaxTotalBytes bounds the bytes waiting in all filters together; past
	// it the filter with the most waiting is removed (0: no bound).
	MaxTotalBytes int64
	Timeout       time.Duration // a filter not polled for this long is removed
}

// Spec is what a new filter collects.
type Spec struct {
	Kind Kind
	// Hub is the event source's filter (logs: address and topics).
	Hub json.RawMessage
	// Criteria is the eth_newFilter object as the client sent it, for
	// eth_getFilterLogs (logs only).
	Criteria json.RawMessage
	// From and To bound the block numbers of the logs collected; -1: none.
	From, To int64
}

// filter is one installed filter.
type filter struct {
	spec     Spec
	client   string
	sub      string // the event source's subscription ("" while being made)
	changes  []entry
	bytes    int64 // of changes
	deadline time.Time
}

// entry is one change waiting in a filter.
type entry struct {
	raw json.RawMessage
}

// Store keeps one chain's filters: what each collected since it was last
// polled, bounded per filter, per client and in total. It holds no
// goroutine per filter: the event source calls each filter's sink.
type Store struct {
	events Events
	limits Limits
	now    func() time.Time

	mu        sync.Mutex
	filters   map[string]*filter
	perClient map[string]int
	bytes     int64 // of changes waiting in all filters
}

// NewStore returns an empty store fed by events. now is the clock (nil: time.Now).
func NewStore(events Events, limits Limits, now func() time.Time) *Store {
	if now == nil {
		now = time.Now
	}
	return &Store{events: events, limits: limits, now: now, filters: make(map[string]*filter), perClient: make(map[string]int)}
}

// Install makes a filter for client and returns its ID.
func (s *Store) Install(client string, spec Spec) (string, error) {
	s.Sweep()
	id := newID()
	f := &filter{spec: spec, client: client}
	s.mu.Lock()
	switch {
	case len(s.filters) >= s.limits.MaxTotal:
		s.mu.Unlock()
		return "", ErrTotalLimit
	case s.perClient[client] >= s.limits.MaxPerClient:
		s.mu.Unlock()
		return "", ErrClientLimit
	}
	f.deadline = s.now().Add(s.limits.Timeout)
	s.filters[id] = f
	s.perClient[client]++
	s.mu.Unlock()

	sub, err := s.events.Subscribe(hubKind[spec.Kind], spec.Hub, func(r json.RawMessage) { s.deliver(id, r) })
	s.mu.Lock()
	switch {
	case err != nil:
		s.removeLocked(id, f)
		s.mu.Unlock()
		return "", err
	case s.filters[id] != f:
		// Removed meanwhile (it overflowed at once): made, and gone, as
		// its first poll will say.
		s.mu.Unlock()
		s.events.Unsubscribe(sub)
		return id, nil
	}
	f.sub = sub
	s.mu.Unlock()
	return id, nil
}

// Changes returns what filter id collected since its last poll, as a JSON
// array, and restarts its timeout.
func (s *Store) Changes(id string) (json.RawMessage, error) {
	s.mu.Lock()
	f, ok, gone := s.live(id)
	if !ok {
		s.mu.Unlock()
		s.unsubscribe(gone)
		return nil, ErrNotFound
	}
	f.deadline = s.now().Add(s.limits.Timeout)
	changes := f.changes
	s.bytes -= f.bytes
	f.changes, f.bytes = nil, 0
	s.mu.Unlock()
	return joinArray(changes), nil
}

// Criteria returns a log filter's eth_newFilter object, for
// eth_getFilterLogs; like a node, it does not restart the filter's timeout.
func (s *Store) Criteria(id string) (json.RawMessage, error) {
	s.mu.Lock()
	f, ok, gone := s.live(id)
	s.mu.Unlock()
	s.unsubscribe(gone)
	if !ok || f.spec.Kind != Logs {
		return nil, ErrNotFound
	}
	return f.spec.Criteria, nil
}

// Uninstall removes filter id and reports whether it was installed.
func (s *Store) Uninstall(id string) bool {
	s.mu.Lock()
	f, ok, gone := s.live(id)
	if ok {
		s.removeLocked(id, f)
		gone = []string{f.sub}
	}
	s.mu.Unlock()
	s.unsubscribe(gone)
	return ok
}

// Len returns how many filters are installed (expired ones not yet swept included).
func (s *Store) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.filters)
}

// Sweep removes every expired filter.
func (s *Store) Sweep() {
	now := s.now()
	var subs []string
	s.mu.Lock()
	for id, f := range s.filters {
		if now.After(f.deadline) {
			s.removeLocked(id, f)
			subs = append(subs, f.sub)
		}
	}
	s.mu.Unlock()
	s.unsubscribe(subs)
}

// Run sweeps expired filters every quarter of the timeout (at least every
// second), so that their event subscriptions end, until ctx ends. Expiry
// itself does not wait for it: an expired filter is gone when next asked for.
func (s *Store) Run(ctx context.Context) {
	pause.Every(ctx, max(s.limits.Timeout/4, time.Second), s.Sweep)
}

// deliver adds one event to filter id. A filter with MaxChanges (or
// MaxBytes) waiting is dropped: its client learns it from "filter not found", as when a filter
// expires, rather than miss changes without knowing. Past MaxTotalBytes the
// filter with the most waiting (the least polled) is dropped the same way.
func (s *Store) deliver(id string, raw json.RawMessage) {
	s.mu.Lock()
	f, ok := s.filters[id]
	if !ok {
		s.mu.Unlock()
		return
	}
	if s.now().After(f.deadline) || len(f.changes) >= s.limits.MaxChanges {
		s.removeLocked(id, f)
		s.mu.Unlock()
		s.unsubscribe([]string{f.sub})
		return
	}
	var gone []string
	if e, keep := change(&f.spec, raw); keep {
		n := int64(len(e.raw))
		f.bytes += n
		s.bytes += n
		f.changes = append(f.changes, e)
		if s.limits.MaxBytes > 0 && f.bytes > s.limits.MaxBytes {
			s.removeLocked(id, f)
			gone = append(gone, f.sub)
		}
		for s.limits.MaxTotalBytes > 0 && s.bytes > s.limits.MaxTotalBytes {
			gone = append(gone, s.dropLargestLocked())
		}
	}
	s.mu.Unlock()
	s.unsubscribe(gone)
}

// dropLargestLocked removes the filter with the most bytes waiting and
// returns its event subscription; s.mu is held. A scan of at most
// MaxTotal filters, only when the store-wide bound is passed.
func (s *Store) dropLargestLocked() string {
	var (
		bigID string
		big   *filter
	)
	for id, f := range s.filters {
		if big == nil || f.bytes > big.bytes {
			bigID, big = id, f
		}
	}
	if big == nil {
		s.bytes = 0
		return ""
	}
	s.removeLocked(bigID, big)
	return big.sub
}

// live returns filter id if it is installed and not expired. An expired
// one is removed; gone is its event subscription, for the caller to end
// once s.mu is released. s.mu is held.
func (s *Store) live(id string) (f *filter, ok bool, gone []string) {
	f, ok = s.filters[id]
	if !ok {
		return nil, false, nil
	}
	if s.now().After(f.deadline) {
		s.removeLocked(id, f)
		return nil, false, []string{f.sub}
	}
	return f, true, nil
}

// removeLocked forgets filter id (f); s.mu is held.
func (s *Store) removeLocked(id string, f *filter) {
	if s.filters[id] != f {
		return
	}
	delete(s.filters, id)
	s.bytes -= f.bytes
	if s.perClient[f.client]--; s.perClient[f.client] <= 0 {
		delete(s.perClient, f.client)
	}
}

func (s *Store) unsubscribe(subs []string) {
	for _, sub := range subs {
		if sub != "" {
			s.events.Unsubscribe(sub)
		}
	}
}

// change turns an event into what eth_getFilterChanges returns for the
// filter: a log as it is (if its block is in the filter's range), a block
// header as its hash, a pending transaction hash as it is.
func change(spec *Spec, raw json.RawMessage) (entry, bool) {
	switch spec.Kind {
	case Blocks:
		var h struct {
			Hash string `json:"hash"`
		}
		if json.Unmarshal(raw, &h) != nil || h.Hash == "" {
			return entry{}, false
		}
		out, _ := json.Marshal(strings.ToLower(h.Hash))
		return entry{raw: out}, true
	case Logs:
		var l struct {
			BlockNumber string `json:"blockNumber"`
		}
		if json.Unmarshal(raw, &l) != nil {
			return entry{}, false
		}
		n, ok := parseQuantity(l.BlockNumber)
		if !ok || (spec.From >= 0 && n < uint64(spec.From)) || (spec.To >= 0 && n > uint64(spec.To)) {
			return entry{}, false
		}
		return entry{raw: raw}, true
	}
	return entry{raw: raw}, true
}

// joinArray encodes the changes' items as a JSON array.
func joinArray(items []entry) json.RawMessage {
	n := 2
	for _, it := range items {
		n += len(it.raw) + 1
	}
	out := make([]byte, 0, n)
	out = append(out, '[')
	for i, it := range items {
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, it.raw...)
	}
	return append(out, ']')
}

// newID returns a filter ID as go-ethereum makes one: 16 random bytes as a
// quantity (0x, hex, no leading zeros).
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	id := strings.TrimLeft(hex.EncodeToString(b[:]), "0")
	if id == "" {
		id = "0"
	}
	return "0x" + id
}
