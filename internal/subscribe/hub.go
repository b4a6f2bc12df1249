// Package subscribe generates eth_subscribe notifications from the gateway's
// own agreed chain head rather than passing one provider's feed through, so
// a subscription outlives any provider:
//
//   - newHeads: every agreed block once, in order; when the agreed head
//     jumps, the missing blocks are fetched (by hash, walking parents) and
//     sent first; on a reorg the new branch is sent.
//   - logs: the agreed blocks' logs (eth_getLogs by block hash through the
//     pipeline, so verification applies when it is wired); on a reorg the
//     dropped blocks' logs are sent again with removed: true.
//   - newPendingTransactions: hashes merged from several providers' WS feeds
//     (or, for a provider without a working feed, a polled pending
//     transaction filter) and de-duplicated.
//
// A Hub never blocks on a subscriber: a Sink must return at once (the WS
// front door queues, and disconnects a client whose queue is full).
package subscribe

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/head"
	"github.com/rpcmesh/rpcmesh/internal/pipeline"
)

// Subscription kinds, as eth_subscribe names them.
const (
	KindNewHeads = "newHeads"
	KindLogs     = "logs"
	KindPending  = "newPendingTransactions"
)

// ErrUnknownKind is returned by Subscribe for a kind the hub does not serve.
var ErrUnknownKind = errors.New("unsupported subscription kind")

// Sink receives one notification's result. It must not block. (An alias:
// a consumer such as the filter store names the plain func type and need
// not import this package.)
type Sink = func(result json.RawMessage)

// HeadSource is the agreed head (a *head.Tracker).
type HeadSource interface {
	Latest() (head.Block, bool)
}

// Options configure a Hub.
type Options struct {
	Head  HeadSource       // the agreed head
	Fetch pipeline.Handler // the chain's pipeline: headers and logs are fetched through it
	// Pending returns the providers pending transaction hashes are taken
	// from, as they are now (nil or none: newPendingTransactions has no
	// source). It is called when subscribers come or go and every
	// PendingPoll while feeds run.
	Pending func() []PendingSource
	// PendingPoll is how often a source without a working WS feed is
	// asked for its filter's changes; default 1s.
	PendingPoll time.Duration
	// PendingFallback is how long a source's WS feed may be down before
	// the source is polled instead; default 10s.
	PendingFallback time.Duration
	// CallTimeout bounds one call to a provider when polling; default 5s.
	CallTimeout time.Duration
	// Poll is how often the agreed head is looked at; default 50ms.
	Poll time.Duration
	// MaxCatchUp bounds how many missing blocks are fetched when the head
	// jumps (or how deep a reorg is followed); default 128.
	MaxCatchUp int
	Logger     *slog.Logger
}

// Hub serves one chain's subscriptions. Run it with Run; it is safe for
// concurrent use.
type Hub struct {
	opts Options
	log  *slog.Logger

	mu   sync.Mutex
	subs map[string]*subscription
	// pendingWake is signalled when newPendingTransactions subscribers come or go.
	pendingWake chan struct{}
	// chain is the recent blocks sent, owned by the Run goroutine.
	chain *recent
}

// subscription is one client's subscription.
type subscription struct {
	kind   string
	filter *logFilter // logs only
	sink   Sink
}

// New returns a hub; nothing runs until Run.
func New(opts Options) *Hub {
	if opts.Poll <= 0 {
		opts.Poll = 50 * time.Millisecond
	}
	if opts.MaxCatchUp <= 0 {
		opts.MaxCatchUp = 128
	}
	if opts.PendingPoll <= 0 {
		opts.PendingPoll = time.Second
	}
	if opts.PendingFallback <= 0 {
		opts.PendingFallback = 10 * time.Second
	}
	if opts.CallTimeout <= 0 {
		opts.CallTimeout = 5 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Hub{
		opts:        opts,
		log:         opts.Logger,
		subs:        make(map[string]*subscription),
		pendingWake: make(chan struct{}, 1),
		chain:       newRecent(opts.MaxCatchUp * 2),
	}
}

// Subscribe starts a subscription of kind with its eth_subscribe params
// after the kind (the logs filter) and returns its ID.
func (h *Hub) Subscribe(kind string, params json.RawMessage, sink Sink) (string, error) {
	s := &subscription{kind: kind, sink: sink}
	switch kind {
	case KindNewHeads:
	case KindPending:
	case KindLogs:
		f, err := parseLogFilter(params)
		if err != nil {
			return "", err
		}
		s.filter = f
	default:
		return "", fmt.Errorf("%w: %q", ErrUnknownKind, kind)
	}
	id := newID()
	h.mu.Lock()
	h.subs[id] = s
	h.mu.Unlock()
	if kind == KindPending {
		h.wakePending()
	}
	return id, nil
}

// Unsubscribe ends a subscription; it reports whether it existed.
func (h *Hub) Unsubscribe(id string) bool {
	h.mu.Lock()
	s, ok := h.subs[id]
	delete(h.subs, id)
	h.mu.Unlock()
	if ok && s.kind == KindPending {
		h.wakePending()
	}
	return ok
}

// Count returns how many subscriptions of kind are open.
func (h *Hub) Count(kind string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, s := range h.subs {
		if s.kind == kind {
			n++
		}
	}
	return n
}

// of returns the open subscriptions of kind.
func (h *Hub) of(kind string) []*subscription {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []*subscription
	for _, s := range h.subs {
		if s.kind == kind {
			out = append(out, s)
		}
	}
	return out
}

func (h *Hub) wakePending() {
	select {
	case h.pendingWake <- struct{}{}:
	default:
	}
}

// Run follows the agreed head and feeds the pending transaction sources
// until ctx ends.
func (h *Hub) Run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		h.runPending(ctx)
	}()
	h.follow(ctx)
	wg.Wait()
}

// newID returns a subscription ID in the form nodes use (0x + 32 hex digits).
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return "0x" + hex.EncodeToString(b[:])
}
