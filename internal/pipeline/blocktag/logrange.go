package blocktag

import (
	"bytes"
	"encoding/json"
	"strings"

	"github.com/rpcmesh/rpcmesh/internal/blockref"
	"github.com/rpcmesh/rpcmesh/internal/jsonrpc"
	"github.com/rpcmesh/rpcmesh/internal/pipeline"
)

// Messages as a node words them (go-ethereum's eth/filters).
const (
	msgInvalidRange    = "invalid block range params"
	msgRangeIntoFuture = "block range extends beyond current head block"
	msgPendingLogs     = "pending logs are not supported"
)

// logRange resolves an eth_getLogs filter's fromBlock and toBlock (absent
// or null: "latest") against the agreed head, checks them as a node does,
// writes them into the filter as numbers, records them (c.Range) and pins
// c to the range's end. A filter by blockHash is left as it is.
func (b *BlockTag) logRange(c *pipeline.Call) *jsonrpc.Error {
	params, perr := jsonrpc.ParamsArray(c.Params)
	if perr != nil || len(params) != 1 {
		return jsonrpc.Errorf(jsonrpc.CodeInvalidParams, "invalid params: eth_getLogs takes one filter object")
	}
	var filter map[string]json.RawMessage
	if err := json.Unmarshal(params[0], &filter); err != nil {
		return jsonrpc.Errorf(jsonrpc.CodeInvalidParams, "invalid argument 0: the filter must be an object")
	}
	rawFrom, rawTo := member(filter, "fromBlock"), member(filter, "toBlock")
	if given(member(filter, "blockHash")) {
		if given(rawFrom) || given(rawTo) {
			return jsonrpc.Errorf(jsonrpc.CodeInvalidParams,
				"invalid argument 0: cannot specify both BlockHash and FromBlock/ToBlock, choose one or the other")
		}
		return nil
	}
	from, to, err := b.blockRange(rawFrom, rawTo)
	if err != nil {
		return err
	}
	c.SetRange(filter, pipeline.BlockRange{From: from, To: to})
	h, ok := b.Head.Latest()
	c.Block, c.HasBlock = to, ok && to <= h.Number
	return nil
}

// blockRange resolves a filter's fromBlock and toBlock (absent or null:
// "latest") against the agreed head and checks them as a node does: a
// range backwards, "pending", or a range past the agreed head is -32602,
// never cut to what exists (an indexer would skip blocks unknowingly).
func (b *BlockTag) blockRange(rawFrom, rawTo json.RawMessage) (uint64, uint64, *jsonrpc.Error) {
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
		res, _ := resolve(b.Head, *r)
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
	if h, ok := b.Head.Latest(); ok && to.Number > h.Number {
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
