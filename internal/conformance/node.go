package conformance

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/ethereum/go-ethereum/beacon/engine"
	"github.com/ethereum/go-ethereum/core"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto/kzg4844"
	"github.com/ethereum/go-ethereum/eth"
	"github.com/ethereum/go-ethereum/eth/catalyst"
	"github.com/ethereum/go-ethereum/eth/ethconfig"
	"github.com/ethereum/go-ethereum/p2p"
	"github.com/ethereum/go-ethereum/rlp"

	"github.com/rpcmesh/rpcmesh/internal/gethnode"
)

// rpcModules are the namespaces hive's go-ethereum client serves
// (clients/go-ethereum/geth.sh: --http.api).
var rpcModules = []string{"admin", "debug", "eth", "miner", "net", "txpool", "web3", "testing"}

// importBatch is how many blocks go to InsertChain at once, as geth import does.
const importBatch = 2500

// Node is one go-ethereum node running in this process with the test chain
// imported, set up as hive's go-ethereum client runs for rpc-compat: full
// sync, path state scheme, the engine API registered (so the testing_
// namespace exists) and no consensus client, so it never makes a block.
type Node struct {
	*gethnode.Node
}

// StartNode starts a node of the test chain in dir (genesis.json,
// chain.rlp, headfcu.json), imports the chain and applies the head
// forkchoice. The database is in memory. genesis.json's config already is
// what hive's mapper.jq builds from forkenv.json, so it is used as it is.
func StartNode(ctx context.Context, name, dir string) (*Node, error) {
	genesis, err := loadGenesis(filepath.Join(dir, "genesis.json"))
	if err != nil {
		return nil, err
	}
	cfg := gethnode.Config("rpcmesh-conformance-"+name, rpcModules)
	cfg.AuthAddr, cfg.AuthPort = "127.0.0.1", 0
	cfg.P2P = p2p.Config{ListenAddr: "", NoDial: true, MaxPeers: 0, NoDiscovery: true}
	ecfg := ethconfig.Defaults
	ecfg.Genesis = genesis
	ecfg.NetworkId = genesis.Config.ChainID.Uint64()
	ecfg.SyncMode = ethconfig.FullSync
	ecfg.StateScheme = "path"
	gn, err := gethnode.New(name, &cfg, &ecfg)
	if err != nil {
		return nil, err
	}
	n := &Node{gn}
	// What geth's makeFullNode adds beside what gethnode registers: the
	// engine API with the testing_ namespace.
	if err := catalyst.Register(n.Stack, n.Eth); err != nil {
		_ = n.Close()
		return nil, fmt.Errorf("node %s: engine API: %w", name, err)
	}
	if err := importChain(ctx, n.Eth, filepath.Join(dir, "chain.rlp")); err != nil {
		_ = n.Close()
		return nil, fmt.Errorf("node %s: %w", name, err)
	}
	if err := n.Start(); err != nil {
		return nil, err
	}
	if err := applyHeadForkchoice(ctx, n.Eth, filepath.Join(dir, "headfcu.json")); err != nil {
		_ = n.Close()
		return nil, fmt.Errorf("node %s: %w", name, err)
	}
	return n, nil
}

// Head is the number of the node's current head block.
func (n *Node) Head() uint64 { return n.Eth.BlockChain().CurrentBlock().Number.Uint64() }

func loadGenesis(path string) (*core.Genesis, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("genesis: %w", err)
	}
	g := new(core.Genesis)
	if err := json.Unmarshal(b, g); err != nil {
		return nil, fmt.Errorf("genesis %s: %w", path, err)
	}
	return g, nil
}

// importChain inserts the blocks of an RLP chain file, as geth import does.
func importChain(ctx context.Context, backend *eth.Ethereum, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("import chain: %w", err)
	}
	defer f.Close()
	stream := rlp.NewStream(f, 0)
	chain := backend.BlockChain()
	for {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("import chain: %w", err)
		}
		var blocks types.Blocks
		for len(blocks) < importBatch {
			b := new(types.Block)
			if err := stream.Decode(b); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				return fmt.Errorf("import chain: block %d: %w", len(blocks), err)
			}
			if b.NumberU64() == 0 {
				continue // the genesis is already there
			}
			blocks = append(blocks, b)
		}
		if len(blocks) == 0 {
			return nil
		}
		if _, err := chain.InsertChain(blocks); err != nil {
			return fmt.Errorf("import chain: %w", err)
		}
	}
}

// applyHeadForkchoice sends headfcu.json's engine_forkchoiceUpdatedV3
// through the in-process engine API, as hive does before the tests.
func applyHeadForkchoice(ctx context.Context, backend *eth.Ethereum, path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("head forkchoice: %w", err)
	}
	var req struct {
		Method string            `json:"method"`
		Params []json.RawMessage `json:"params"`
	}
	if err := json.Unmarshal(b, &req); err != nil || len(req.Params) == 0 {
		return fmt.Errorf("head forkchoice %s: not a forkchoice call: %v", path, err)
	}
	if req.Method != "engine_forkchoiceUpdatedV3" {
		return fmt.Errorf("head forkchoice %s: method %s, want engine_forkchoiceUpdatedV3", path, req.Method)
	}
	var state engine.ForkchoiceStateV1
	if err := json.Unmarshal(req.Params[0], &state); err != nil {
		return fmt.Errorf("head forkchoice %s: %w", path, err)
	}
	resp, err := catalyst.NewConsensusAPI(backend).ForkchoiceUpdatedV3(ctx, state, nil)
	if err != nil {
		return fmt.Errorf("head forkchoice: %w", err)
	}
	if resp.PayloadStatus.Status != engine.VALID {
		return fmt.Errorf("head forkchoice: status %s", resp.PayloadStatus.Status)
	}
	return nil
}

// WarmKZG loads go-ethereum's KZG trusted setup, which it does once per
// process on first use. That takes seconds on a small machine, more than
// the 5 s a request may take, so send-blob-tx would time out on whichever
// node verifies a blob first; a long-running node has long paid it.
func WarmKZG() error {
	if _, err := kzg4844.BlobToCommitment(new(kzg4844.Blob)); err != nil {
		return fmt.Errorf("kzg: %w", err)
	}
	return nil
}
