// Package gethnode runs a go-ethereum node inside this process, as the
// devnet and the conformance suite need one: its database in memory, its
// HTTP and WebSocket JSON-RPC on one loopback port, and the APIs a real
// geth registers beside eth.New (log filters, tracers). What differs
// between them (p2p, chain and state settings, more services) the caller
// sets on the configurations it passes.
package gethnode

import (
	"fmt"
	"strings"

	"github.com/ethereum/go-ethereum/eth"
	"github.com/ethereum/go-ethereum/eth/ethconfig"
	"github.com/ethereum/go-ethereum/eth/filters"
	"github.com/ethereum/go-ethereum/eth/tracers"
	"github.com/ethereum/go-ethereum/node"
	"github.com/ethereum/go-ethereum/rpc"

	// Registers the native tracers (callTracer, prestateTracer) for debug_trace*.
	_ "github.com/ethereum/go-ethereum/eth/tracers/native"
)

// Node is one go-ethereum node running in this process.
type Node struct {
	name  string
	Stack *node.Node    // the service stack: RPC, p2p
	Eth   *eth.Ethereum // the eth service: chain, pool, miner
}

// Config is the service stack configuration called id, with nothing on
// disk (no data directory, no IPC) and modules served over HTTP and
// WebSocket on one port that 127.0.0.1 picks, to any host and origin.
func Config(id string, modules []string) node.Config {
	cfg := node.DefaultConfig
	cfg.Name = id
	cfg.DataDir = "" // in memory
	cfg.IPCPath = ""
	cfg.HTTPHost, cfg.HTTPPort = "127.0.0.1", 0
	cfg.HTTPModules = modules
	cfg.HTTPVirtualHosts = []string{"*"}
	cfg.WSHost, cfg.WSPort = "127.0.0.1", 0 // shares the HTTP listener
	cfg.WSModules = modules
	cfg.WSOrigins = []string{"*"}
	return cfg
}

// New creates node name's service stack from cfg and its eth service from
// ecfg, and registers the log filter and tracer APIs (eth.New registers
// neither; geth's makeFullNode adds both). The node does not run until
// Start, so that a caller may register more services or import blocks
// first.
func New(name string, cfg *node.Config, ecfg *ethconfig.Config) (*Node, error) {
	stack, err := node.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("node %s: create: %w", name, err)
	}
	backend, err := eth.New(stack, ecfg)
	if err != nil {
		stack.Close()
		return nil, fmt.Errorf("node %s: eth service: %w", name, err)
	}
	fs := filters.NewFilterSystem(backend.APIBackend, filters.Config{
		LogCacheSize: ecfg.FilterLogCacheSize, LogQueryLimit: ecfg.LogQueryLimit, RangeLimit: ecfg.RangeLimit,
	})
	stack.RegisterAPIs([]rpc.API{{Namespace: "eth", Service: filters.NewFilterAPI(fs)}})
	stack.RegisterAPIs(tracers.APIs(backend.APIBackend))
	return &Node{name: name, Stack: stack, Eth: backend}, nil
}

// Start starts the node's networking and RPC; a node that fails to start
// is closed.
func (n *Node) Start() error {
	if err := n.Stack.Start(); err != nil {
		n.Stack.Close()
		return fmt.Errorf("node %s: start: %w", n.name, err)
	}
	return nil
}

// Name is the name the node was created with, as its errors name it.
func (n *Node) Name() string { return n.name }

// URL is the node's HTTP JSON-RPC endpoint.
func (n *Node) URL() string { return n.Stack.HTTPEndpoint() }

// WSURL is the node's WebSocket endpoint (the same listener).
func (n *Node) WSURL() string {
	return "ws://" + strings.TrimPrefix(n.Stack.HTTPEndpoint(), "http://")
}

// Close stops the node.
func (n *Node) Close() error {
	if err := n.Stack.Close(); err != nil {
		return fmt.Errorf("node %s: close: %w", n.name, err)
	}
	return nil
}
