// Package blocktag is the pipeline stage that resolves block tags against
// the chain's agreed head: "latest", "safe" and "finalized" become the
// agreed numbers before the call is forwarded, so every provider is asked
// about the same block and a client never sees the chain go backwards when
// its calls land on different providers. It also pins the call to its
// block, so routing picks only providers that have it.
package blocktag

import (
	"bytes"
	"context"
	"encoding/json"
	"strconv"

	"github.com/rpcmesh/rpcmesh/internal/head"
	"github.com/rpcmesh/rpcmesh/internal/jsonrpc"
	"github.com/rpcmesh/rpcmesh/internal/pipeline"
)

// BlockTag rewrites the block param of the methods that have one.
type BlockTag struct {
	Next pipeline.Handler
	Head *head.Tracker
}

// Handle resolves the block param and passes the call on.
func (b *BlockTag) Handle(ctx context.Context, c *pipeline.Call) (json.RawMessage, error) {
	if err := b.pin(c); err != nil {
		return nil, err
	}
	return b.Next.Handle(ctx, c)
}

// HandleBatch resolves the block params of a wave's calls and passes them
// on together.
func (b *BlockTag) HandleBatch(ctx context.Context, calls []*pipeline.Call, out []pipeline.Answer) {
	pipeline.HandleWave(ctx, b, b.Next.(pipeline.BatchHandler), calls, out, func(i int, c *pipeline.Call) pipeline.Way {
		if err := b.pin(c); err != nil {
			out[i] = pipeline.Answer{Err: err}
			return pipeline.Answered
		}
		return pipeline.PassOn
	})
}

// Batches reports whether the stages behind take waves whole.
func (b *BlockTag) Batches() bool { return pipeline.CanBatch(b.Next) }

// pin rewrites c's block param to the block it resolves to and pins c to
// that block. A nil error is a nil error interface, never a nil
// *jsonrpc.Error in one.
func (b *BlockTag) pin(c *pipeline.Call) error {
	idx := c.Info.BlockParam
	if idx < 0 {
		return nil
	}
	var buf [4]json.RawMessage // the params, split on the stack
	// A call's params are valid JSON (the front door checked the body).
	params, perr := jsonrpc.AppendValidParamsArray(buf[:0], c.Params)
	if perr != nil {
		return nil // let the node explain its own params
	}
	var q [20]byte // room for a quoted quantity, on the stack
	switch {
	case idx < len(params):
		raw, n, pinned, err := resolve(b.Head, params[idx], q[:0])
		if err != nil {
			return err
		}
		c.Params = jsonrpc.EncodeParamsWith(params, idx, raw)
		c.Block, c.HasBlock = n, pinned
	case idx == len(params) && c.Info.DefaultLatest:
		if h, ok := b.Head.Latest(); ok {
			params = append(params, nil) // the place of the block param
			c.Params = jsonrpc.EncodeParamsWith(params, idx, quantity(q[:0], h.Number))
			c.Block, c.HasBlock = h.Number, true
		}
	}
	return nil
}

// Resolve turns one block param (a tag, a number, or an EIP-1898 object)
// into the param to forward and the block it pins, if any. A block beyond
// the agreed head is not pinned: a provider answers it as it sees fit.
func Resolve(t *head.Tracker, raw json.RawMessage) (json.RawMessage, uint64, bool, *jsonrpc.Error) {
	return resolve(t, raw, nil)
}

// resolve is Resolve writing a block number it substitutes into q's
// storage (the caller copies the param before q goes).
func resolve(t *head.Tracker, raw json.RawMessage, q []byte) (json.RawMessage, uint64, bool, *jsonrpc.Error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '{' {
		return resolveObject(t, raw)
	}
	return resolveTag(t, raw, q)
}

// resolveTag resolves a tag or a number (raw trimmed). Apart from resolve
// so that the recursion of resolveObject does not include it: escape
// analysis would then move the caller's q to the heap.
func resolveTag(t *head.Tracker, raw json.RawMessage, q []byte) (json.RawMessage, uint64, bool, *jsonrpc.Error) {
	tag, ok := jsonrpc.StringValue(raw)
	if !ok {
		return nil, 0, false, jsonrpc.Errorf(jsonrpc.CodeInvalidParams, "invalid params: block must be a tag, a hex number or an object")
	}
	h, haveHead := t.Latest()
	switch tag {
	case "latest":
		if !haveHead {
			return raw, 0, false, nil
		}
		return quantity(q, h.Number), h.Number, true, nil
	case "pending":
		// Keep "pending", but only providers at the agreed head may answer it.
		return raw, h.Number, haveHead, nil
	case "safe", "finalized":
		n, ok := t.Safe()
		if tag == "finalized" {
			n, ok = t.Finalized()
		}
		if !ok {
			return raw, 0, false, nil
		}
		return quantity(q, n), n, true, nil
	case "earliest":
		return raw, 0, true, nil
	}
	n, err := head.ParseQuantity(tag)
	if err != nil {
		return nil, 0, false, jsonrpc.Errorf(jsonrpc.CodeInvalidParams, "invalid params: block %q: %v", tag, err)
	}
	if !haveHead || n > h.Number {
		return raw, n, false, nil
	}
	return raw, n, true, nil
}

// resolveObject handles {"blockNumber": ...} and {"blockHash": ...}.
func resolveObject(t *head.Tracker, raw json.RawMessage) (json.RawMessage, uint64, bool, *jsonrpc.Error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		return nil, 0, false, jsonrpc.Errorf(jsonrpc.CodeInvalidParams, "invalid params: block object: %v", err)
	}
	num, ok := obj["blockNumber"]
	if !ok {
		return raw, 0, false, nil // by hash: any provider that knows the hash
	}
	var r json.RawMessage
	var n uint64
	var pinned bool
	var err *jsonrpc.Error
	if num = bytes.TrimSpace(num); len(num) > 0 && num[0] == '{' {
		r, n, pinned, err = resolveObject(t, num)
	} else {
		r, n, pinned, err = resolveTag(t, num, nil)
	}
	if err != nil {
		return nil, 0, false, err
	}
	obj["blockNumber"] = r
	out, mErr := json.Marshal(obj)
	if mErr != nil {
		return nil, 0, false, jsonrpc.Errorf(jsonrpc.CodeInvalidParams, "invalid params: block object: %v", mErr)
	}
	return out, n, pinned, nil
}

// quantity appends n as a quoted JSON quantity (as head.Quantity) to q.
func quantity(q []byte, n uint64) json.RawMessage {
	q = append(q, `"0x`...)
	q = strconv.AppendUint(q, n, 16)
	return append(q, '"')
}
