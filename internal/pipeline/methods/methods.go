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

// Handle answers locally, refuses, or passes the call on.
func (m *Methods) Handle(ctx context.Context, c *pipeline.Call) (json.RawMessage, error) {
	if a, ok := m.local(c); ok {
		return a.Result, a.Err
	}
	return m.Next.Handle(ctx, c)
}

// HandleBatch answers or refuses what it can of a wave and passes the rest on.
func (m *Methods) HandleBatch(ctx context.Context, calls []*pipeline.Call, out []pipeline.Answer) {
	pipeline.HandleWave(ctx, m, m.Next.(pipeline.BatchHandler), calls, out, func(i int, c *pipeline.Call) pipeline.Way {
		a, ok := m.local(c)
		if !ok {
			return pipeline.PassOn
		}
		out[i] = a
		return pipeline.Answered
	})
}

// Batches reports whether the stages behind take waves whole.
func (m *Methods) Batches() bool { return pipeline.CanBatch(m.Next) }

// local answers or refuses c when its method says so (ok).
func (m *Methods) local(c *pipeline.Call) (pipeline.Answer, bool) {
	if c.Info.Kind == ethmethod.Refused {
		return refuse(jsonrpc.Errorf(jsonrpc.CodeMethodNotFound, "method %s is not available through this gateway: %s", c.Method, c.Info.Reason))
	}
	if c.Info.Needs != "" && !m.Capabilities[c.Info.Needs] {
		return refuse(jsonrpc.Errorf(jsonrpc.CodeMethodNotFound, "method %s is not available: no provider of chain %s serves the %s namespace", c.Method, m.Chain, c.Info.Needs))
	}
	if msg := checkArgs(c); msg != "" {
		return refuse(jsonrpc.Errorf(jsonrpc.CodeInvalidParams, "%s", msg))
	}
	switch c.Method {
	case "eth_chainId":
		return quoted(head.Quantity(m.ChainID)), true
	case "net_version":
		return quoted(strconv.FormatUint(m.ChainID, 10)), true
	case "eth_blockNumber":
		b, ok := m.Head.Latest()
		if !ok {
			return refuse(jsonrpc.Errorf(jsonrpc.CodeNoProvider, "no provider available: chain %s has no agreed head yet", m.Chain))
		}
		return quoted(head.Quantity(b.Number)), true
	}
	return pipeline.Answer{}, false
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

func quoted(s string) pipeline.Answer { return pipeline.Answer{Result: json.RawMessage(`"` + s + `"`)} }

func refuse(err *jsonrpc.Error) (pipeline.Answer, bool) { return pipeline.Answer{Err: err}, true }
