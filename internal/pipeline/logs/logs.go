// Package logs is the pipeline stage for eth_getLogs: it refuses ranges
// over the limit with a clear -32602, and splits long ranges into chunks
// that are routed independently (so across providers) and concatenated in
// order. The range was resolved against the agreed head and checked as a
// node checks it by the block-tag stage (pipeline.Call.Range).
package logs

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"sync"

	"github.com/rpcmesh/rpcmesh/internal/jsonrpc"
	"github.com/rpcmesh/rpcmesh/internal/pipeline"
)

// maxChunks bounds the upstream calls of one eth_getLogs, whatever the config.
const maxChunks = 1000

// Splitter bounds and splits eth_getLogs.
type Splitter struct {
	Next pipeline.Handler
	// MaxRange is the most blocks one request may cover (0: no bound).
	MaxRange uint64
	// Chunk is the most blocks one upstream call covers (0: no split).
	Chunk uint64
	// Concurrency bounds the chunks in flight for one request.
	Concurrency int
}

// Handle bounds a wave's eth_getLogs ranges (resolved by the block-tag
// stage), runs the ones it splits on their own, and passes the rest on
// together.
func (s *Splitter) Handle(ctx context.Context, wave []*pipeline.Call) {
	pipeline.HandleWave(ctx, wave, s.Next, s.way, s)
}

// way refuses a range over the limits, and sends a range longer than a
// chunk to be split.
func (s *Splitter) way(c *pipeline.Call) pipeline.Way {
	if c.Method != "eth_getLogs" || !c.HasRange {
		return pipeline.PassOn // a filter by block hash is one block
	}
	from, to := c.Range.From, c.Range.To
	span := to - from + 1
	if span == 0 { // the whole uint64 range
		span = math.MaxUint64
	}
	if s.MaxRange > 0 && span > s.MaxRange {
		c.Answer(nil, jsonrpc.Errorf(jsonrpc.CodeInvalidParams,
			"invalid params: eth_getLogs range of %d blocks (%d to %d) is over the limit of %d blocks; split the query", span, from, to, s.MaxRange))
		return pipeline.Answered
	}
	chunk := s.Chunk
	if chunk > 0 && span/chunk > maxChunks {
		c.Answer(nil, jsonrpc.Errorf(jsonrpc.CodeInvalidParams,
			"invalid params: eth_getLogs range of %d blocks would need more than %d upstream calls; split the query", span, maxChunks))
		return pipeline.Answered
	}
	if chunk == 0 || span <= chunk {
		return pipeline.PassOn
	}
	return pipeline.Alone
}

// Run answers an eth_getLogs longer than a chunk (one Handle runs alone):
// its range as chunks, each an eth_getLogs of its own, with bounded
// concurrency, their arrays joined in order.
func (s *Splitter) Run(ctx context.Context, c *pipeline.Call) {
	params, _ := jsonrpc.ParamsArray(c.Params) // one filter object: the block-tag stage checked it
	var filter map[string]json.RawMessage
	if len(params) != 1 || json.Unmarshal(params[0], &filter) != nil {
		c.Answer(nil, jsonrpc.Errorf(jsonrpc.CodeInvalidParams, "invalid params: eth_getLogs takes one filter object"))
		return
	}
	c.Answer(s.chunks(ctx, c, filter))
}

// sub builds the call for blocks from..to, pinned to to.
func (s *Splitter) sub(c *pipeline.Call, filter map[string]json.RawMessage, from, to uint64) *pipeline.Call {
	sc := c.Clone()
	sc.SetRange(filter, pipeline.BlockRange{From: from, To: to})
	sc.Block = to // c is pinned to its range's end, or not at all
	return sc
}

// chunks runs the chunks with bounded concurrency and joins their arrays.
func (s *Splitter) chunks(ctx context.Context, c *pipeline.Call, filter map[string]json.RawMessage) (json.RawMessage, error) {
	from, to, chunk := c.Range.From, c.Range.To, s.Chunk
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
				results[i], errs[i] = pipeline.Do(ctx, s.Next, calls[i])
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
	c.Report = weakest(calls)
	return concat(results)
}

// strength orders how answers were established, weakest first.
func strength(c pipeline.Class) int {
	switch c {
	case pipeline.ClassProof:
		return 2
	case pipeline.ClassQuorum:
		return 1
	}
	return 0
}

// weakest is the report of the chunk whose answer was established the
// weakest way (the whole answer is no stronger), nil when none has one.
func weakest(calls []*pipeline.Call) *pipeline.Report {
	var w *pipeline.Report
	for _, sc := range calls {
		if r := sc.Report; r != nil && r.Class() != "" && (w == nil || strength(r.Class()) < strength(w.Class())) {
			w = r
		}
	}
	return w
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
