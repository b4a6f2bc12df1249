package subscribe

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/jsonrpc"
	"github.com/rpcmesh/rpcmesh/internal/pause"
)

// Polling bounds: the longest pause after failures, and how many failed
// eth_getFilterChanges in a row make the poller drop its filter and make
// a new one (a node may lose a filter without saying "filter not found").
const (
	maxPollBackoff      = 30 * time.Second
	maxFilterFailures   = 3
	uninstallFilterWait = 2 * time.Second
)

// errFilterGone: the node no longer has the filter (it restarted, or it
// dropped a filter not polled for its timeout, 5 minutes on go-ethereum).
var errFilterGone = errors.New("filter not found")

// pollPending polls src with a pending transaction filter while its WS
// feed is missing or down for longer than the fallback bound, until run
// ends. The filter is removed from the node when polling stops while the
// hub still runs (hub is the hub's context, run the feeds').
func (h *Hub) pollPending(hub, run context.Context, src PendingSource, st *feedState, out chan<- string) {
	interval := h.opts.PendingPoll
	f := &filterPoller{name: src.Name, call: src.Poll, timeout: h.opts.CallTimeout}
	defer f.uninstall(hub)
	var wait time.Duration // the first poll creates the filter at once
	polling := false
	for {
		if !pause.For(run, wait) {
			return
		}
		wait = interval
		if src.WS != "" && st.downFor(time.Now()) < h.opts.PendingFallback {
			if polling {
				h.log.Info("pending transactions: WS feed back, polling stops", "provider", src.Name)
				polling = false
				f.uninstall(hub)
			}
			continue
		}
		if !polling && src.WS != "" {
			h.log.Info("pending transactions: WS feed down, polling", "provider", src.Name, "down_for", st.downFor(time.Now()).Round(time.Second))
		}
		polling = true
		hashes, err := f.poll(run)
		switch {
		case run.Err() != nil:
			return
		case errors.Is(err, errFilterGone):
			h.log.Info("pending transactions: filter lost, re-creating it", "provider", src.Name, "err", err)
			wait = 0
			continue
		case err != nil:
			wait = min(interval<<min(f.failures, 6), maxPollBackoff)
			h.log.Debug("pending transactions: poll failed", "provider", src.Name, "err", err, "retry_in", wait)
			continue
		}
		for _, tx := range hashes {
			select {
			case out <- strings.ToLower(tx):
			case <-run.Done():
				return
			}
		}
	}
}

// filterPoller holds one node's pending transaction filter.
type filterPoller struct {
	name    string
	call    Caller
	timeout time.Duration

	id       string // the node's filter ID; "" before it is made
	worked   bool   // the filter answered eth_getFilterChanges at least once
	failures int    // failed polls in a row
}

// poll returns the hashes that entered the node's pool since the last
// poll. Without a filter it makes one and returns none.
func (f *filterPoller) poll(ctx context.Context) ([]string, error) {
	if f.id == "" {
		res, err := f.do(ctx, "eth_newPendingTransactionFilter", json.RawMessage(`[]`))
		if err != nil {
			f.failures++
			return nil, err
		}
		var id string
		if err := json.Unmarshal(res, &id); err != nil || id == "" {
			f.failures++
			return nil, fmt.Errorf("pending %s: eth_newPendingTransactionFilter: bad filter ID %.64s", f.name, res)
		}
		f.id, f.worked, f.failures = id, false, 0
		return nil, nil
	}
	params, _ := json.Marshal([]string{f.id})
	res, err := f.do(ctx, "eth_getFilterChanges", params)
	if err == nil {
		var hashes []string
		if err = json.Unmarshal(res, &hashes); err == nil {
			f.worked, f.failures = true, 0
			return hashes, nil
		}
		err = fmt.Errorf("pending %s: eth_getFilterChanges: %w", f.name, err)
	}
	f.failures++
	switch {
	case filterGone(err) && f.worked && ctx.Err() == nil:
		// Made again at once. Not for a filter that never answered: a
		// provider that spreads calls over several nodes behind one URL
		// loses every filter, and would get a new one per poll.
		f.id = ""
		return nil, fmt.Errorf("%w: %w", errFilterGone, err)
	case f.failures >= maxFilterFailures:
		f.id = "" // made again at the next poll, after the backoff
	}
	return nil, err
}

// uninstall removes the filter from the node, bounded, unless the hub is
// stopping (then the node drops it after its own timeout).
func (f *filterPoller) uninstall(hub context.Context) {
	if f.id == "" || hub.Err() != nil {
		return
	}
	params, _ := json.Marshal([]string{f.id})
	f.id = ""
	ctx, cancel := context.WithTimeout(hub, min(f.timeout, uninstallFilterWait))
	defer cancel()
	_, _ = f.call.Call(ctx, "eth_uninstallFilter", params)
}

// do sends one call bounded by the poll timeout.
func (f *filterPoller) do(ctx context.Context, method string, params json.RawMessage) (json.RawMessage, error) {
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	res, err := f.call.Call(ctx, method, params)
	if err != nil {
		return nil, fmt.Errorf("pending %s: %s: %w", f.name, method, err)
	}
	return res, nil
}

// filterGone reports whether the node answered that it has no such filter
// (go-ethereum, Erigon, Reth, Besu: "filter not found"; Nethermind:
// "Filter with id ... does not exist").
func filterGone(err error) bool {
	var je *jsonrpc.Error
	if !errors.As(err, &je) {
		return false
	}
	m := strings.ToLower(je.Message)
	return strings.Contains(m, "filter") && (strings.Contains(m, "not found") || strings.Contains(m, "does not exist"))
}
