// Package logs is the pipeline stage for eth_getLogs: it resolves the
// filter's block range against the agreed head, refuses ranges over the
// limit with a clear -32602, and splits long ranges into chunks that are
// routed independently (so across providers) and concatenated in order.
package logs

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"sync"

	"github.com/rpcmesh/rpcmesh/internal/head"
	"github.com/rpcmesh/rpcmesh/internal/jsonrpc"
	"github.com/rpcmesh/rpcmesh/internal/pipeline"
	"github.com/rpcmesh/rpcmesh/internal/pipeline/blocktag"
)

// maxChunks bounds the upstream calls of one eth_getLogs, whatever the config.
const maxChunks = 1000

// Splitter bounds and splits eth_getLogs.
type Splitter struct {
	Next pipeline.Handler
	Head *head.Tracker
	// MaxRange is the most blocks one request may cover (0: no bound).
	MaxRange uint64
	// Chunk is the most blocks one upstream call covers (0: no split).
	Chunk uint64
	// Concurrency bounds the chunks in flight for one request.
	Concurrency int
}

// HandleBatch runs a wave's eth_getLogs calls on their own (each may be
// split into chunks) and passes the rest on together.
func (s *Splitter) HandleBatch(ctx context.Context, calls []*pipeline.Call, out []pipeline.Answer) {
	pipeline.HandleWave(ctx, s, s.Next.(pipeline.BatchHandler), calls, out, func(_ int, c *pipeline.Call) pipeline.Way {
		if c.Method == "eth_getLogs" {
			return pipeline.Alone
		}
		return pipeline.PassOn
	})
}

// Batches reports whether the stages behind take waves whole.
func (s *Splitter) Batches() bool { return pipeline.CanBatch(s.Next) }

// Handle bounds and splits eth_getLogs and passes anything else on.
func (s *Splitter) Handle(ctx context.Context, c *pipeline.Call) (json.RawMessage, error) {
	if c.Method != "eth_getLogs" {
		return s.Next.Handle(ctx, c)
	}
	params, perr := jsonrpc.ParamsArray(c.Params)
	if perr != nil || len(params) != 1 {
		return nil, jsonrpc.Errorf(jsonrpc.CodeInvalidParams, "invalid params: eth_getLogs takes one filter object")
	}
	var filter map[string]json.RawMessage
	if err := json.Unmarshal(params[0], &filter); err != nil {
		return nil, jsonrpc.Errorf(jsonrpc.CodeInvalidParams, "invalid params: eth_getLogs filter: %v", err)
	}
	if _, byHash := filter["blockHash"]; byHash {
		return s.Next.Handle(ctx, c)
	}
	from, err := s.bound(filter, "fromBlock")
	if err != nil {
		return nil, err
	}
	to, err := s.bound(filter, "toBlock")
	if err != nil {
		return nil, err
	}
	if h, ok := s.Head.Latest(); ok && to > h.Number && from <= h.Number {
		to = h.Number // no logs beyond the head; keeps the span meaningful
	}
	if from > to {
		return nil, jsonrpc.Errorf(jsonrpc.CodeInvalidParams, "invalid params: fromBlock %d is after toBlock %d", from, to)
	}
	span := to - from + 1
	if span == 0 { // the whole uint64 range
		span = math.MaxUint64
	}
	if s.MaxRange > 0 && span > s.MaxRange {
		return nil, jsonrpc.Errorf(jsonrpc.CodeInvalidParams,
			"invalid params: eth_getLogs range of %d blocks (%d to %d) is over the limit of %d blocks; split the query", span, from, to, s.MaxRange)
	}
	chunk := s.Chunk
	if chunk > 0 && span/chunk > maxChunks {
		return nil, jsonrpc.Errorf(jsonrpc.CodeInvalidParams,
			"invalid params: eth_getLogs range of %d blocks would need more than %d upstream calls; split the query", span, maxChunks)
	}
	if chunk == 0 || span <= chunk {
		return s.Next.Handle(ctx, s.sub(c, filter, from, to))
	}
	return s.split(ctx, c, filter, from, to, chunk)
}

// bound resolves fromBlock/toBlock (default "latest") to a number.
func (s *Splitter) bound(filter map[string]json.RawMessage, key string) (uint64, *jsonrpc.Error) {
	raw, ok := filter[key]
	if !ok || string(raw) == "null" {
		raw = json.RawMessage(`"latest"`)
	}
	res, n, pinned, err := blocktag.Resolve(s.Head, raw)
	if err != nil {
		return 0, err
	}
	var tag string
	if pinned || json.Unmarshal(res, &tag) == nil && len(tag) > 2 && tag[:2] == "0x" {
		return n, nil
	}
	return 0, jsonrpc.Errorf(jsonrpc.CodeNoProvider, "no provider available: no agreed head to resolve %s", key)
}

// sub builds the call for blocks from..to, pinned to to (capped at the head).
func (s *Splitter) sub(c *pipeline.Call, filter map[string]json.RawMessage, from, to uint64) *pipeline.Call {
	f := make(map[string]json.RawMessage, len(filter))
	for k, v := range filter {
		f[k] = v
	}
	f["fromBlock"] = json.RawMessage(`"` + head.Quantity(from) + `"`)
	f["toBlock"] = json.RawMessage(`"` + head.Quantity(to) + `"`)
	raw, _ := json.Marshal(f) // values are raw JSON already validated
	sc := c.Clone()
	sc.Params = jsonrpc.EncodeParams([]json.RawMessage{raw})
	sc.Block, sc.HasBlock = to, true
	if h, ok := s.Head.Latest(); !ok || to > h.Number {
		sc.HasBlock = false
	}
	return sc
}

// split runs the chunks with bounded concurrency and joins their arrays.
func (s *Splitter) split(ctx context.Context, c *pipeline.Call, filter map[string]json.RawMessage, from, to, chunk uint64) (json.RawMessage, error) {
	var calls []*pipeline.Call
	for lo := from; ; lo += chunk {
		hi := to
		if to-lo >= chunk { // no overflow: lo+chunk-1 < to
			hi = lo + chunk - 1
		}
		calls = append(calls, s.sub(c, filter, lo, hi))
		if hi == to {
			break
		}
	}
	results := make([]json.RawMessage, len(calls))
	errs := make([]error, len(calls))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	workers := min(max(s.Concurrency, 1), len(calls))
	next := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				results[i], errs[i] = s.Next.Handle(ctx, calls[i])
				if errs[i] != nil {
					cancel()
				}
			}
		}()
	}
feed:
	for i := range calls {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	if err := ctx.Err(); err != nil { // the client's deadline, before every chunk ran
		return nil, err
	}
	c.Provider, c.Attempts = calls[0].Provider, 0
	for _, sc := range calls {
		c.Attempts += sc.Attempts
	}
	return concat(results)
}

// concat joins JSON arrays in order without decoding their items.
func concat(parts []json.RawMessage) (json.RawMessage, error) {
	n := 2
	for _, p := range parts {
		n += len(p)
	}
	out := make([]byte, 0, n)
	out = append(out, '[')
	first := true
	for _, p := range parts {
		p = bytes.TrimSpace(p)
		if string(p) == "null" {
			continue
		}
		if len(p) < 2 || p[0] != '[' || p[len(p)-1] != ']' {
			return nil, jsonrpc.Errorf(jsonrpc.CodeUpstreamError, "upstream error: eth_getLogs answer is not an array")
		}
		inner := bytes.TrimSpace(p[1 : len(p)-1])
		if len(inner) == 0 {
			continue
		}
		if !first {
			out = append(out, ',')
		}
		out = append(out, inner...)
		first = false
	}
	return append(out, ']'), nil
}
