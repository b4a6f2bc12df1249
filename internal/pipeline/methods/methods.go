// Package methods is the pipeline stage that refuses methods the gateway
// does not serve and answers the ones it knows better than any single
// provider: eth_chainId and net_version from the config, eth_blockNumber
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
	if c.Info.Kind == ethmethod.Refused {
		return nil, jsonrpc.Errorf(jsonrpc.CodeMethodNotFound, "method %s is not available through this gateway: %s", c.Method, c.Info.Reason)
	}
	if c.Info.Needs != "" && !m.Capabilities[c.Info.Needs] {
		return nil, jsonrpc.Errorf(jsonrpc.CodeMethodNotFound, "method %s is not available: no provider of chain %s serves the %s namespace", c.Method, m.Chain, c.Info.Needs)
	}
	switch c.Method {
	case "eth_chainId":
		return quoted(head.Quantity(m.ChainID)), nil
	case "net_version":
		return quoted(strconv.FormatUint(m.ChainID, 10)), nil
	case "eth_blockNumber":
		b, ok := m.Head.Latest()
		if !ok {
			return nil, jsonrpc.Errorf(jsonrpc.CodeNoProvider, "no provider available: chain %s has no agreed head yet", m.Chain)
		}
		return quoted(head.Quantity(b.Number)), nil
	}
	return m.Next.Handle(ctx, c)
}

func quoted(s string) json.RawMessage { return json.RawMessage(`"` + s + `"`) }
