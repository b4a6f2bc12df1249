package subscribe

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/rpcmesh/rpcmesh/internal/pause"
	"github.com/rpcmesh/rpcmesh/internal/pipeline"
)

// maxFilterItems bounds the addresses and the alternatives per topic of a
// logs filter, as nodes do.
const maxFilterItems = 1000

// logEntry is one log of an announced block.
type logEntry struct {
	raw     json.RawMessage
	address string
	topics  []string
}

// logFilter is a logs subscription's filter: any of the addresses (none =
// any), and per position any of the topics (an empty position = any).
type logFilter struct {
	addresses map[string]bool
	topics    [][]string
}

// parseLogFilter reads {"address": A | [A...], "topics": [T | [T...] | null, ...]}.
func parseLogFilter(params json.RawMessage) (*logFilter, error) {
	f := &logFilter{}
	if len(params) == 0 || string(params) == "null" {
		return f, nil
	}
	var raw struct {
		Address json.RawMessage   `json:"address"`
		Topics  []json.RawMessage `json:"topics"`
	}
	if err := json.Unmarshal(params, &raw); err != nil {
		return nil, fmt.Errorf("logs filter: %w", err)
	}
	addrs, err := oneOrMany(raw.Address)
	if err != nil {
		return nil, fmt.Errorf("logs filter: address: %w", err)
	}
	if len(addrs) > 0 {
		f.addresses = make(map[string]bool, len(addrs))
		for _, a := range addrs {
			f.addresses[strings.ToLower(a)] = true
		}
	}
	if len(raw.Topics) > 4 {
		return nil, fmt.Errorf("logs filter: %d topic positions, at most 4", len(raw.Topics))
	}
	for i, t := range raw.Topics {
		alts, err := oneOrMany(t)
		if err != nil {
			return nil, fmt.Errorf("logs filter: topics[%d]: %w", i, err)
		}
		for j := range alts {
			alts[j] = strings.ToLower(alts[j])
		}
		f.topics = append(f.topics, alts)
	}
	return f, nil
}

// oneOrMany reads null, "x" or ["x", ...].
func oneOrMany(raw json.RawMessage) ([]string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var one string
	if err := json.Unmarshal(raw, &one); err == nil {
		return []string{one}, nil
	}
	var many []string
	if err := json.Unmarshal(raw, &many); err != nil {
		return nil, fmt.Errorf("want a string or an array of strings: %w", err)
	}
	if len(many) > maxFilterItems {
		return nil, fmt.Errorf("%d items, at most %d", len(many), maxFilterItems)
	}
	return many, nil
}

// match reports whether l passes f.
func (f *logFilter) match(l *logEntry) bool {
	if f.addresses != nil && !f.addresses[l.address] {
		return false
	}
	if len(f.topics) > len(l.topics) {
		return false
	}
	for i, alts := range f.topics {
		if len(alts) > 0 && !slices.Contains(alts, l.topics[i]) {
			return false
		}
	}
	return true
}

// fetchLogs fetches a block's logs by its hash through the pipeline.
func (h *Hub) fetchLogs(ctx context.Context, hash string) ([]logEntry, error) {
	params, _ := json.Marshal([]any{map[string]string{"blockHash": hash}})
	var lastErr error
	for range fetchAttempts {
		res, err := pipeline.Do(ctx, h.opts.Fetch, pipeline.NewCall("eth_getLogs", params))
		if err == nil {
			logs, perr := parseLogs(res, hash)
			if perr == nil {
				return logs, nil
			}
			err = perr
		}
		lastErr = err
		if !pause.For(ctx, fetchPause) {
			return nil, ctx.Err()
		}
	}
	return nil, fmt.Errorf("subscribe: eth_getLogs of block %s: %w", hash, lastErr)
}

// parseLogs reads an eth_getLogs answer and checks every log is of block hash.
func parseLogs(res json.RawMessage, hash string) ([]logEntry, error) {
	var raws []json.RawMessage
	if err := json.Unmarshal(res, &raws); err != nil {
		return nil, fmt.Errorf("decode logs: %w", err)
	}
	out := make([]logEntry, 0, len(raws))
	for _, r := range raws {
		var l struct {
			Address   string   `json:"address"`
			Topics    []string `json:"topics"`
			BlockHash string   `json:"blockHash"`
		}
		if err := json.Unmarshal(r, &l); err != nil {
			return nil, fmt.Errorf("decode log: %w", err)
		}
		if !strings.EqualFold(l.BlockHash, hash) {
			return nil, fmt.Errorf("log of block %s in the answer for %s", l.BlockHash, hash)
		}
		for i := range l.Topics {
			l.Topics[i] = strings.ToLower(l.Topics[i])
		}
		out = append(out, logEntry{raw: r, address: strings.ToLower(l.Address), topics: l.Topics})
	}
	return out, nil
}

// sendLogs notifies every logs subscriber whose filter matches, marking
// the logs removed when their block left the agreed chain.
func (h *Hub) sendLogs(logs []logEntry, removed bool) {
	if len(logs) == 0 {
		return
	}
	subs := h.of(KindLogs)
	for i := range logs {
		l := &logs[i]
		raw := l.raw
		if removed {
			raw = markRemoved(raw)
		}
		for _, s := range subs {
			if s.filter.match(l) {
				s.sink(raw)
			}
		}
	}
}

// markRemoved returns the log with "removed": true.
func markRemoved(raw json.RawMessage) json.RawMessage {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return raw
	}
	fields["removed"] = json.RawMessage("true")
	out, err := json.Marshal(fields)
	if err != nil {
		return raw
	}
	return out
}
