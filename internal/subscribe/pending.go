package subscribe

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/pause"
	"github.com/rpcmesh/rpcmesh/internal/upstream"
)

// seenHashes is how many recent pending transaction hashes are remembered
// to drop the copies other providers send.
const seenHashes = 16384

// PendingSource is one provider pending transaction hashes are taken from.
type PendingSource struct {
	Name string
	// WS is the provider's WebSocket URL ("" if none); its
	// newPendingTransactions feed is followed.
	WS string
	// Poll calls the provider over HTTP (nil: WS only). A source without
	// WS is always polled; one with WS only while its feed has been down
	// for Options.PendingFallback. A comparable value (a pointer, such as
	// an *upstream.Provider): sources are told apart by it.
	Poll Caller
}

// Caller sends one JSON-RPC call to one provider (an *upstream.Provider).
// An error answer from the node is a *jsonrpc.Error.
type Caller interface {
	Call(ctx context.Context, method string, params json.RawMessage) (json.RawMessage, error)
}

// feedState is whether a source's WS feed is up, shared by its WS
// follower and its poller.
type feedState struct {
	up        atomic.Bool
	downSince atomic.Int64 // unix nanos
}

func (f *feedState) setUp() { f.up.Store(true) }

func (f *feedState) setDown(now time.Time) {
	if f.up.Swap(false) {
		f.downSince.Store(now.UnixNano())
	}
}

// downFor is how long the feed has been down (0 while up).
func (f *feedState) downFor(now time.Time) time.Duration {
	if f.up.Load() {
		return 0
	}
	return now.Sub(time.Unix(0, f.downSince.Load()))
}

// runPending keeps upstream pending transaction sources open while at
// least one client subscribes, and merges them until ctx ends. The
// sources are Options.Pending's as they are now: looked at when
// subscribers come or go and every PendingPoll while feeds run, a source
// that appears gets its feed, one that goes has its feed stopped, and the
// others run on undisturbed.
func (h *Hub) runPending(ctx context.Context) {
	merged := make(chan string, 1024)
	seen := newSeenSet(seenHashes)
	feeds := map[pendingKey]context.CancelFunc{}
	var wg sync.WaitGroup
	var tick *time.Ticker
	defer func() {
		for _, stop := range feeds {
			stop()
		}
		wg.Wait()
		if tick != nil {
			tick.Stop()
		}
	}()
	follow := func() {
		var want []PendingSource
		if h.Count(KindPending) > 0 && h.opts.Pending != nil {
			want = h.opts.Pending()
		}
		keep := make(map[pendingKey]bool, len(want))
		for _, src := range want {
			k := keyOf(src)
			keep[k] = true
			if feeds[k] == nil {
				feeds[k] = h.startFeed(ctx, src, merged, &wg)
			}
		}
		for k, stop := range feeds {
			if !keep[k] {
				stop()
				delete(feeds, k)
			}
		}
		switch {
		case len(feeds) > 0 && tick == nil:
			tick = time.NewTicker(h.opts.PendingPoll)
		case len(feeds) == 0 && tick != nil:
			tick.Stop()
			tick = nil
		}
	}
	for {
		var ticks <-chan time.Time
		if tick != nil {
			ticks = tick.C
		}
		select {
		case <-ctx.Done():
			return
		case <-h.pendingWake:
			follow()
		case <-ticks:
			follow()
		case tx := <-merged:
			if !seen.add(tx) {
				continue
			}
			raw, _ := json.Marshal(tx)
			for _, s := range h.of(KindPending) {
				s.sink(raw)
			}
		}
	}
}

// pendingKey tells sources apart: a provider removed and added again with
// another URL is another source.
type pendingKey struct {
	name, ws string
	poll     Caller
}

func keyOf(src PendingSource) pendingKey { return pendingKey{src.Name, src.WS, src.Poll} }

// startFeed starts one source's WS follower and poller and returns what
// stops them. The poller cleans up its node filter while ctx (the hub)
// lives.
func (h *Hub) startFeed(ctx context.Context, src PendingSource, out chan<- string, wg *sync.WaitGroup) context.CancelFunc {
	sctx, cancel := context.WithCancel(ctx)
	st := &feedState{}
	st.downSince.Store(time.Now().UnixNano()) // not up yet: counts as down from now
	if src.WS != "" {
		wg.Go(func() { h.feedPending(sctx, src.WS, st, out) })
	}
	if src.Poll != nil {
		wg.Go(func() { h.pollPending(ctx, sctx, src, st, out) })
	}
	return cancel
}

// feedPending follows one provider's pending transaction hashes, redialling
// with backoff, until ctx ends.
func (h *Hub) feedPending(ctx context.Context, url string, st *feedState, out chan<- string) {
	backoff := 500 * time.Millisecond
	for ctx.Err() == nil {
		start := time.Now()
		err := h.pendingOnce(ctx, url, st, out)
		st.setDown(time.Now())
		if ctx.Err() != nil {
			return
		}
		if time.Since(start) > time.Minute {
			backoff = 500 * time.Millisecond
		}
		h.log.Debug("pending transactions feed ended", "url", url, "err", err, "retry_in", backoff)
		if !pause.For(ctx, backoff) {
			return
		}
		backoff = min(2*backoff, 30*time.Second)
	}
}

// pendingOnce runs one upstream subscription until it fails or ctx ends;
// st is up from the node's answer to eth_subscribe on.
func (h *Hub) pendingOnce(ctx context.Context, url string, st *feedState, out chan<- string) error {
	conn, stop, err := upstream.DialSubscription(ctx, url, "newPendingTransactions", 5*time.Second)
	if err != nil {
		return err
	}
	defer stop()
	for {
		// A devnet or a quiet chain may have no pending transaction for a
		// while; the read deadline only catches a dead connection.
		_ = conn.SetReadDeadline(time.Now().Add(2 * time.Minute))
		var msg struct {
			ID     json.RawMessage `json:"id"`
			Method string          `json:"method"`
			Error  *struct {
				Message string `json:"message"`
			} `json:"error"`
			Params struct {
				Result json.RawMessage `json:"result"`
			} `json:"params"`
		}
		if err := conn.ReadJSON(&msg); err != nil {
			return fmt.Errorf("%s: read: %w", url, err)
		}
		if msg.Error != nil {
			return fmt.Errorf("%s: eth_subscribe: %s", url, msg.Error.Message)
		}
		if string(msg.ID) == "1" {
			st.setUp()
			continue
		}
		var tx string
		if msg.Method != "eth_subscription" || json.Unmarshal(msg.Params.Result, &tx) != nil {
			continue
		}
		select {
		case out <- strings.ToLower(tx):
		default: // the merger is behind: a hash dropped beats a stalled reader
		}
	}
}

// seenSet is a bounded set of recent strings (a ring plus a map).
type seenSet struct {
	ring []string
	next int
	set  map[string]bool
}

func newSeenSet(n int) *seenSet {
	return &seenSet{ring: make([]string, n), set: make(map[string]bool, n)}
}

// add records s and reports whether it was new.
func (s *seenSet) add(v string) bool {
	if s.set[v] {
		return false
	}
	if old := s.ring[s.next]; old != "" {
		delete(s.set, old)
	}
	s.ring[s.next] = v
	s.next = (s.next + 1) % len(s.ring)
	s.set[v] = true
	return true
}
