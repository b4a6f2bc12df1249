package devnet

import (
	"fmt"
	"strings"

	"github.com/ethereum/go-ethereum/core"
	"github.com/ethereum/go-ethereum/eth"
	"github.com/ethereum/go-ethereum/eth/ethconfig"
	"github.com/ethereum/go-ethereum/eth/filters"
	"github.com/ethereum/go-ethereum/eth/tracers"
	"github.com/ethereum/go-ethereum/node"
	"github.com/ethereum/go-ethereum/p2p"
	"github.com/ethereum/go-ethereum/rpc"

	// Registers the native tracers (callTracer, prestateTracer) for debug_trace*.
	_ "github.com/ethereum/go-ethereum/eth/tracers/native"
)

// rpcModules are the namespaces each node serves over HTTP and WS.
var rpcModules = []string{"eth", "net", "web3", "txpool", "debug"}

// gethNode is one real go-ethereum node running in this process. Its RPC
// listens on an internal loopback port; clients reach it through its proxy.
type gethNode struct {
	name  string
	stack *node.Node
	eth   *eth.Ethereum
}

// startNode starts one full, archive node of the devnet chain with an
// in-memory database (nothing is left on disk when it stops).
func startNode(name string, genesis *core.Genesis) (*gethNode, error) {
	cfg := node.DefaultConfig
	cfg.Name = "rpcmesh-devnet-" + name
	cfg.DataDir = "" // ephemeral, in memory
	cfg.IPCPath = ""
	cfg.HTTPHost = "127.0.0.1"
	cfg.HTTPPort = 0
	cfg.HTTPModules = rpcModules
	cfg.HTTPVirtualHosts = []string{"*"}
	cfg.HTTPCors = []string{"*"}
	cfg.WSHost = "127.0.0.1"
	cfg.WSPort = 0 // equal to HTTPPort: WS shares the HTTP listener
	cfg.WSModules = rpcModules
	cfg.WSOrigins = []string{"*"}
	cfg.AuthPort = 0
	cfg.P2P = p2p.Config{
		ListenAddr:  "127.0.0.1:0",
		MaxPeers:    32,
		NoDiscovery: true,
		DiscoveryV4: false,
		DiscoveryV5: false,
		NAT:         nil,
	}
	stack, err := node.New(&cfg)
	if err != nil {
		return nil, fmt.Errorf("node %s: create: %w", name, err)
	}
	ecfg := ethconfig.Defaults
	ecfg.Genesis = genesis
	ecfg.NetworkId = genesis.Config.ChainID.Uint64()
	ecfg.SyncMode = ethconfig.FullSync // snap mode refuses fed blocks
	ecfg.StateScheme = "hash"          // with NoPruning: state (and proofs) at every height
	ecfg.NoPruning = true
	ecfg.DatabaseCache = 64
	ecfg.TrieCleanCache = 16
	ecfg.TrieDirtyCache = 16
	ecfg.SnapshotCache = 0
	ecfg.RPCTxFeeCap = 0
	// No log index: its renderer copies a whole filter map per block on
	// every node, the devnet's largest CPU cost (seconds per block under
	// the race detector). eth_getLogs scans receipts instead, which is
	// fast at devnet heights.
	ecfg.LogNoHistory = true
	backend, err := eth.New(stack, &ecfg)
	if err != nil {
		stack.Close()
		return nil, fmt.Errorf("node %s: eth service: %w", name, err)
	}
	// eth.New registers neither the filter APIs (eth_getLogs, eth_subscribe)
	// nor the tracers; a real geth registers both.
	fs := filters.NewFilterSystem(backend.APIBackend, filters.Config{LogCacheSize: ecfg.FilterLogCacheSize, LogQueryLimit: ecfg.LogQueryLimit})
	stack.RegisterAPIs([]rpc.API{{Namespace: "eth", Service: filters.NewFilterAPI(fs)}})
	stack.RegisterAPIs(tracers.APIs(backend.APIBackend))
	if err := stack.Start(); err != nil {
		stack.Close()
		return nil, fmt.Errorf("node %s: start: %w", name, err)
	}
	// Every node is "synced": blocks reach it only from the devnet's feeder,
	// and a node that is not synced ignores transactions gossiped by peers.
	backend.SetSynced()
	return &gethNode{name: name, stack: stack, eth: backend}, nil
}

// httpURL is the node's own RPC endpoint (behind the proxy).
func (n *gethNode) httpURL() string { return n.stack.HTTPEndpoint() }

// wsURL is the node's own WebSocket endpoint (behind the proxy).
func (n *gethNode) wsURL() string {
	return "ws://" + strings.TrimPrefix(n.stack.HTTPEndpoint(), "http://")
}

func (n *gethNode) close() error {
	if err := n.stack.Close(); err != nil {
		return fmt.Errorf("node %s: close: %w", n.name, err)
	}
	return nil
}
