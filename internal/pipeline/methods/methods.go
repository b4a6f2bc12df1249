// Package methods is the pipeline stage that refuses methods the gateway
// does not serve, checks the number of params as a node does (-32602 "too
// many arguments, want at most N", "missing value for required argument
// N"), and answers the methods it knows better than any single provider: eth_chainId and net_version from the config, eth_blockNumber
// from the agreed head (so it never goes backwards).
package methods

import (
	"context"
	"encoding/json"
	"strconv"

	"github.com/rpcmesh/rpcmesh/internal/ethmethod"
	"github.com/rpcmesh/rpcmesh/internal/head"
	"github.com/rpcmesh/rpcmesh/internal/jsonrpc"
	"github.com/rpcmesh/rpcmesh/internal/pipeline"
)

// Methods answers or refuses by method name.
type Methods struct {
	Next    pipeline.Handler
	Chain   string
	ChainID uint64
	Head    *head.Tracker
	// Capabilities are the provider capabilities some provider of the
	// chain has ("debug", "trace").
	Capabilities map[string]bool
}

// Handle answers or refuses what it can of a wave and passes the rest on.
func (m *Methods) Handle(ctx context.Context, wave []*pipeline.Call) {
	pipeline.HandleWave(ctx, wave, m.Next, m.way, nil)
}

// way answers or refuses c when its method says so.
func (m *Methods) way(c *pipeline.Call) pipeline.Way {
	if m.local(c) {
		return pipeline.Answered
	}
	return pipeline.PassOn
}

// local answers or refuses c when its method says so, and reports
// whether it did.
func (m *Methods) local(c *pipeline.Call) bool {
	if c.Info.Kind == ethmethod.Refused {
		return refuse(c, jsonrpc.Errorf(jsonrpc.CodeMethodNotFound, "method %s is not available through this gateway: %s", c.Method, c.Info.Reason))
	}
	if c.Info.Needs != "" && !m.Capabilities[c.Info.Needs] {
		return refuse(c, jsonrpc.Errorf(jsonrpc.CodeMethodNotFound, "method %s is not available: no provider of chain %s serves the %s namespace", c.Method, m.Chain, c.Info.Needs))
	}
	if msg := checkArgs(c); msg != "" {
		return refuse(c, jsonrpc.Errorf(jsonrpc.CodeInvalidParams, "%s", msg))
	}
	switch c.Method {
	case "eth_chainId":
		return quoted(c, head.Quantity(m.ChainID))
	case "net_version":
		return quoted(c, strconv.FormatUint(m.ChainID, 10))
	case "eth_blockNumber":
		b, ok := m.Head.Latest()
		if !ok {
			return refuse(c, jsonrpc.Errorf(jsonrpc.CodeNoProvider, "no provider available: chain %s has no agreed head yet", m.Chain))
		}
		return quoted(c, head.Quantity(b.Number))
	}
	return false
}

// checkArgs is the node's check of c's argument count: its message, or "".
func checkArgs(c *pipeline.Call) string {
	if !c.Info.Args.Known {
		return ""
	}
	var buf [8]json.RawMessage // the params, split on the stack
	params, err := jsonrpc.AppendValidParamsArray(buf[:0], c.Params)
	return c.Info.Args.CheckArgs(err == nil, params)
}

// quoted answers c with the JSON string s.
func quoted(c *pipeline.Call, s string) bool {
	c.Answer(json.RawMessage(`"`+s+`"`), nil)
	return true
}

// refuse answers c with err.
func refuse(c *pipeline.Call, err *jsonrpc.Error) bool {
	c.Answer(nil, err)
	return true
}
