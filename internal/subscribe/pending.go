package subscribe

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	// gorilla/websocket is already a dependency (go-ethereum and
	// internal/upstream use it): one WS library in the binary.
	"github.com/gorilla/websocket"
)

// seenHashes is how many recent pending transaction hashes are remembered
// to drop the copies other providers send.
const seenHashes = 16384

// runPending keeps upstream newPendingTransactions feeds open while at
// least one client subscribes, and merges them until ctx ends.
func (h *Hub) runPending(ctx context.Context) {
	merged := make(chan string, 1024)
	seen := newSeenSet(seenHashes)
	var stop func()
	var wg sync.WaitGroup
	defer func() {
		if stop != nil {
			stop()
		}
		wg.Wait()
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case <-h.pendingWake:
			want := h.Count(KindPending) > 0 && len(h.opts.PendingURLs) > 0
			switch {
			case want && stop == nil:
				stop = h.startFeeds(ctx, merged, &wg)
			case !want && stop != nil:
				stop()
				wg.Wait()
				stop = nil
			}
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

// startFeeds starts one feed per provider and returns what stops them.
func (h *Hub) startFeeds(ctx context.Context, out chan<- string, wg *sync.WaitGroup) context.CancelFunc {
	sctx, cancel := context.WithCancel(ctx)
	for _, u := range h.opts.PendingURLs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h.feedPending(sctx, u, out)
		}()
	}
	return cancel
}

// feedPending follows one provider's pending transaction hashes, redialling
// with backoff, until ctx ends.
func (h *Hub) feedPending(ctx context.Context, url string, out chan<- string) {
	backoff := 500 * time.Millisecond
	for ctx.Err() == nil {
		start := time.Now()
		err := h.pendingOnce(ctx, url, out)
		if ctx.Err() != nil {
			return
		}
		if time.Since(start) > time.Minute {
			backoff = 500 * time.Millisecond
		}
		h.log.Debug("pending transactions feed ended", "url", url, "err", err, "retry_in", backoff)
		if !sleep(ctx, backoff) {
			return
		}
		backoff = min(2*backoff, 30*time.Second)
	}
}

// pendingOnce runs one upstream subscription until it fails or ctx ends.
func (h *Hub) pendingOnce(ctx context.Context, url string, out chan<- string) error {
	dialer := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	conn, resp, err := dialer.DialContext(ctx, url, http.Header{"User-Agent": {"rpcmesh"}})
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	if err != nil {
		return fmt.Errorf("dial %s: %w", url, err)
	}
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-ctx.Done():
		case <-done:
		}
		conn.Close()
	}()
	conn.SetReadLimit(1 << 20)
	_ = conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if err := conn.WriteMessage(websocket.TextMessage, []byte(`{"jsonrpc":"2.0","id":1,"method":"eth_subscribe","params":["newPendingTransactions"]}`)); err != nil {
		return fmt.Errorf("%s: eth_subscribe: %w", url, err)
	}
	for {
		// A devnet or a quiet chain may have no pending transaction for a
		// while; the read deadline only catches a dead connection.
		_ = conn.SetReadDeadline(time.Now().Add(2 * time.Minute))
		var msg struct {
			Method string `json:"method"`
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
