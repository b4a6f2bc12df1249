// Package blocktag is the pipeline stage that parses a call's block param
// once and resolves block tags against the chain's agreed head, recording
// the result on the call for the stages behind (pipeline.Call.Ref, and an
// eth_getLogs filter's range, Call.Range): "latest", "safe" and
// "finalized" become the agreed numbers before the call is forwarded, so
// every provider is asked about the same block and a client never sees
// the chain go backwards when its calls land on different providers. It
// also pins the call to its block, so routing picks only providers that
// have it. The block param is parsed by internal/blockref, as a node
// parses it: a number or tag, and for the methods that take one
// (go-ethereum's BlockNumberOrHash) a block hash, bare or in an EIP-1898
// object. An eth_getLogs range is checked as a node checks it.
package blocktag

import (
	"bytes"
	"context"
	"encoding/json"

	"github.com/rpcmesh/rpcmesh/internal/blockref"
	"github.com/rpcmesh/rpcmesh/internal/head"
	"github.com/rpcmesh/rpcmesh/internal/jsonrpc"
	"github.com/rpcmesh/rpcmesh/internal/pipeline"
)

// BlockTag rewrites the block param of the methods that have one.
type BlockTag struct {
	Next pipeline.Handler
	Head *head.Tracker
}

// Handle resolves the block params of a wave's calls (and eth_getLogs
// ranges) and passes them on together; a call whose block param is wrong
// is answered with the node's error.
func (b *BlockTag) Handle(ctx context.Context, wave []*pipeline.Call) {
	pipeline.HandleWave(ctx, wave, b.Next, b.way, nil)
}

// way resolves c's block param or log range, or answers c with why not.
func (b *BlockTag) way(c *pipeline.Call) pipeline.Way {
	var err *jsonrpc.Error
	if c.Method == "eth_getLogs" {
		err = b.logRange(c)
	} else {
		err = b.pin(c)
	}
	if err != nil {
		c.Answer(nil, err)
		return pipeline.Answered
	}
	return pipeline.PassOn
}

// pin rewrites c's block param to the block it resolves to, records it
// (c.Ref) and pins c to that block.
func (b *BlockTag) pin(c *pipeline.Call) *jsonrpc.Error {
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
	absent := idx >= len(params) || string(bytes.TrimSpace(params[idx])) == "null"
	if absent {
		// An optional block param left out (or null) means "latest" to a
		// node; a required one was answered by the methods stage.
		if !c.Info.DefaultLatest || idx > len(params) {
			return nil
		}
		c.Ref, c.HasRef = blockref.Ref{Kind: blockref.Latest}, true
		h, ok := b.Head.Latest()
		if !ok {
			return nil
		}
		var q [20]byte // room for a quoted quantity, on the stack
		if idx == len(params) {
			params = append(params, nil) // the place of the block param
		}
		c.Params = jsonrpc.EncodeParamsWith(params, idx, blockref.Quantity(q[:0], h.Number))
		c.Ref = blockref.Ref{Kind: blockref.Number, Number: h.Number}
		c.Block, c.HasBlock = h.Number, true
		return nil
	}
	ref, err := parse(params[idx], c.Info.ByHash)
	if err != nil {
		return jsonrpc.Errorf(jsonrpc.CodeInvalidParams, "invalid argument %d: %s", idx, err.Error())
	}
	res, pinned := resolve(b.Head, ref)
	c.Ref, c.HasRef = res, true
	c.Block, c.HasBlock = res.Number, pinned
	if res.Kind != ref.Kind { // a tag became the agreed number
		var q [96]byte // room for a block object, on the stack
		c.Params = jsonrpc.EncodeParamsWith(params, idx, res.AppendJSON(q[:0]))
	}
	return nil
}

// parse parses a block param as a node does: a number or tag, and when
// byHash also a block hash, bare or in an EIP-1898 object.
func parse(raw json.RawMessage, byHash bool) (blockref.Ref, error) {
	if byHash {
		return blockref.ParseNumberOrHash(raw)
	}
	return blockref.ParseNumber(raw)
}

// resolve turns a tag into the agreed number it stands for ("latest",
// "safe", "finalized"; kept as written when the head has no such number
// yet) and reports the block the call is pinned to (Number of the result)
// if any. "pending" stays "pending" but is pinned at the agreed head, so
// only providers there answer it; "earliest" is pinned at 0. A block by
// hash is not pinned: any provider that knows the hash may answer. A
// number beyond the agreed head is not pinned: for the gateway's clients
// that block is not there yet, and a provider answers it as a node does.
func resolve(t *head.Tracker, r blockref.Ref) (blockref.Ref, bool) {
	h, haveHead := t.Latest()
	switch r.Kind {
	case blockref.Latest:
		if !haveHead {
			return r, false
		}
		return number(r, h.Number), true
	case blockref.Pending:
		r.Number = h.Number
		return r, haveHead
	case blockref.Safe, blockref.Finalized:
		n, ok := t.Safe()
		if r.Kind == blockref.Finalized {
			n, ok = t.Finalized()
		}
		if !ok {
			return r, false
		}
		return number(r, n), true
	case blockref.Earliest:
		return r, true
	case blockref.Number:
		return r, haveHead && r.Number <= h.Number
	}
	return r, false // a hash
}

// number is r with its tag replaced by block n, in the form r was written.
func number(r blockref.Ref, n uint64) blockref.Ref {
	return blockref.Ref{Kind: blockref.Number, Number: n, Object: r.Object}
}
