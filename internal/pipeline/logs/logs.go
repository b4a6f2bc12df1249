// Package logs is the pipeline stage for eth_getLogs: it resolves the
// filter's block range against the agreed head, checks it as a node does
// (a range past the agreed head is -32602 "block range extends beyond
// current head block"), refuses ranges over the limit with a clear -32602, and splits long ranges into chunks that are
// routed independently (so across providers) and concatenated in order.
package logs

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"strings"
	"sync"

	"github.com/rpcmesh/rpcmesh/internal/blockref"
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
		return nil, jsonrpc.Errorf(jsonrpc.CodeInvalidParams, "invalid argument 0: the filter must be an object")
	}
	rawFrom, rawTo := member(filter, "fromBlock"), member(filter, "toBlock")
	if given(member(filter, "blockHash")) {
		if given(rawFrom) || given(rawTo) {
			return nil, jsonrpc.Errorf(jsonrpc.CodeInvalidParams,
				"invalid argument 0: cannot specify both BlockHash and FromBlock/ToBlock, choose one or the other")
		}
		return s.Next.Handle(ctx, c)
	}
	from, to, rerr := s.blockRange(rawFrom, rawTo)
	if rerr != nil {
		return nil, rerr
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

// Messages as a node words them (go-ethereum's eth/filters).
const (
	msgInvalidRange    = "invalid block range params"
	msgRangeIntoFuture = "block range extends beyond current head block"
	msgPendingLogs     = "pending logs are not supported"
)

// blockRange resolves a filter's fromBlock and toBlock (absent or null:
// "latest") against the agreed head and checks them as a node does: a
// range backwards, "pending", or a range past the agreed head is -32602,
// never cut to what exists (an indexer would skip blocks unknowingly).
func (s *Splitter) blockRange(rawFrom, rawTo json.RawMessage) (uint64, uint64, *jsonrpc.Error) {
	from, err := bound(rawFrom)
	if err != nil {
		return 0, 0, err
	}
	to, err := bound(rawTo)
	if err != nil {
		return 0, 0, err
	}
	if from.Kind == blockref.Number && to.Kind == blockref.Number && from.Number > to.Number {
		return 0, 0, jsonrpc.Errorf(jsonrpc.CodeInvalidParams, msgInvalidRange)
	}
	if from.Kind == blockref.Pending || to.Kind == blockref.Pending {
		return 0, 0, jsonrpc.Errorf(jsonrpc.CodeInvalidParams, msgPendingLogs)
	}
	for _, r := range []*blockref.Ref{&from, &to} {
		res, _ := blocktag.Resolve(s.Head, *r)
		switch res.Kind {
		case blockref.Earliest:
			res = blockref.Ref{Kind: blockref.Number}
		case blockref.Number:
		default: // a tag the agreed head cannot resolve yet
			return 0, 0, jsonrpc.Errorf(jsonrpc.CodeNoProvider, "no provider available: no agreed head to resolve %s", r.Kind)
		}
		*r = res
	}
	if from.Number > to.Number {
		return 0, 0, jsonrpc.Errorf(jsonrpc.CodeInvalidParams, msgInvalidRange)
	}
	if h, ok := s.Head.Latest(); ok && to.Number > h.Number {
		return 0, 0, jsonrpc.Errorf(jsonrpc.CodeInvalidParams, msgRangeIntoFuture)
	}
	return from.Number, to.Number, nil
}

// bound parses fromBlock or toBlock (absent or null: "latest").
func bound(raw json.RawMessage) (blockref.Ref, *jsonrpc.Error) {
	if !given(raw) {
		return blockref.Ref{Kind: blockref.Latest}, nil
	}
	r, err := blockref.ParseNumber(raw)
	if err != nil {
		return r, jsonrpc.Errorf(jsonrpc.CodeInvalidParams, "invalid argument 0: %s", err.Error())
	}
	return r, nil
}

// given reports whether a member is there and not null (a node decodes
// null as absent).
func given(raw json.RawMessage) bool {
	return raw != nil && string(bytes.TrimSpace(raw)) != "null"
}

// member is filter's member name, matched as encoding/json matches a
// node's struct fields: exactly, else without regard to case.
func member(filter map[string]json.RawMessage, name string) json.RawMessage {
	if v, ok := filter[name]; ok {
		return v
	}
	for k, v := range filter {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return nil
}

// sub builds the call for blocks from..to, pinned to to (capped at the head).
func (s *Splitter) sub(c *pipeline.Call, filter map[string]json.RawMessage, from, to uint64) *pipeline.Call {
	f := make(map[string]json.RawMessage, len(filter))
	for k, v := range filter {
		if !strings.EqualFold(k, "fromBlock") && !strings.EqualFold(k, "toBlock") {
			f[k] = v
		}
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
