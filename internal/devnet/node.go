package devnet

import (
	"github.com/ethereum/go-ethereum/core"
	"github.com/ethereum/go-ethereum/eth/ethconfig"
	"github.com/ethereum/go-ethereum/p2p"

	"github.com/rpcmesh/rpcmesh/internal/gethnode"
)

// rpcModules are the namespaces each node serves over HTTP and WS.
var rpcModules = []string{"eth", "net", "web3", "txpool", "debug"}

// startNode starts one full, archive node of the devnet chain with an
// in-memory database (nothing is left on disk when it stops). Its RPC
// listens on an internal loopback port; clients reach it through its proxy.
func startNode(name string, genesis *core.Genesis) (*gethnode.Node, error) {
	cfg := gethnode.Config("rpcmesh-devnet-"+name, rpcModules)
	cfg.HTTPCors = []string{"*"}
	cfg.AuthPort = 0
	cfg.P2P = p2p.Config{
		ListenAddr:  "127.0.0.1:0",
		MaxPeers:    32,
		NoDiscovery: true,
		DiscoveryV4: false,
		DiscoveryV5: false,
		NAT:         nil,
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
	n, err := gethnode.New(name, &cfg, &ecfg)
	if err != nil {
		return nil, err
	}
	if err := n.Start(); err != nil {
		return nil, err
	}
	// Every node is "synced": blocks reach it only from the devnet's feeder,
	// and a node that is not synced ignores transactions gossiped by peers.
	n.Eth.SetSynced()
	return n, nil
}
