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
	idx := c.Info.BlockParam
	if idx < 0 {
		return b.Next.Handle(ctx, c)
	}
	params, perr := jsonrpc.ParamsArray(c.Params)
	if perr != nil {
		return b.Next.Handle(ctx, c) // let the node explain its own params
	}
	switch {
	case idx < len(params):
		raw, n, pinned, err := Resolve(b.Head, params[idx])
		if err != nil {
			return nil, err
		}
		params[idx] = raw
		c.Params = jsonrpc.EncodeParams(params)
		c.Block, c.HasBlock = n, pinned
	case idx == len(params) && c.Info.DefaultLatest:
		if h, ok := b.Head.Latest(); ok {
			params = append(params, json.RawMessage(`"`+head.Quantity(h.Number)+`"`))
			c.Params = jsonrpc.EncodeParams(params)
			c.Block, c.HasBlock = h.Number, true
		}
	}
	return b.Next.Handle(ctx, c)
}

// Resolve turns one block param (a tag, a number, or an EIP-1898 object)
// into the param to forward and the block it pins, if any. A block beyond
// the agreed head is not pinned: a provider answers it as it sees fit.
func Resolve(t *head.Tracker, raw json.RawMessage) (json.RawMessage, uint64, bool, *jsonrpc.Error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '{' {
		return resolveObject(t, raw)
	}
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
		return quantity(h.Number), h.Number, true, nil
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
		return quantity(n), n, true, nil
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
	r, n, pinned, err := Resolve(t, num)
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

func quantity(n uint64) json.RawMessage { return json.RawMessage(`"` + head.Quantity(n) + `"`) }
