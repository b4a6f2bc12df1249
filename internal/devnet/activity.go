package devnet

import (
	"context"
	"crypto/ecdsa"
	"fmt"
	"math/big"
	"net/http"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/ethereum/go-ethereum/params"
	"github.com/ethereum/go-ethereum/rpc"

	"github.com/rpcmesh/rpcmesh/internal/pause"
)

// LogTopic is the topic of the log the activity contract emits.
var LogTopic = common.HexToHash("0x00000000000000000000000000000000000000000000000000000000000000aa")

// logContractInit deploys a contract that, on any call, stores the first
// calldata word in slot 0 and emits LOG1(LogTopic) with the calldata.
var logContractInit = common.FromHex("603280600b6000396000f3" +
	"366000600037" + "600035600055" + "7f" + LogTopic.Hex()[2:] + "366000a1" + "00")

// The prefunded accounts the activity sends from (of the default ten).
const (
	activityDeployerKey = 7
	activityPayerKey    = 8
)

// activityCalls is how many calls to the contract (and as many transfers)
// MakeActivity sends, in groups of three per block.
const activityCalls = 12

// Activity is what MakeActivity put on the chain: every kind of state and
// history a verifying client reads, at known blocks.
type Activity struct {
	// Contract has code, a balance, storage slot 0 (the last call's first
	// calldata word: 1, 2, ... activityCalls) and emitted one LOG1(LogTopic)
	// per call, with the calldata as data.
	Contract common.Address
	// Deployer deployed and called the contract: a balance and a nonce.
	Deployer common.Address
	// Payer sent the transfers: a balance and a nonce.
	Payer common.Address
	// Recipient held nothing before the activity; it received the transfers.
	Recipient common.Address
	// Empty was never touched: no balance, nonce or code.
	Empty common.Address
	// Txs is every transaction, in the order sent: the deployment, then
	// calls and transfers alternating. Each has a receipt; the calls have
	// a log.
	Txs []common.Hash
	// Blocks are the blocks holding Txs, ascending, distinct.
	Blocks []uint64
}

// Accounts are the activity's addresses, each holding something different
// (code and storage, balances and nonces, nothing at all).
func (a *Activity) Accounts() []common.Address {
	return []common.Address{a.Contract, a.Deployer, a.Payer, a.Recipient, a.Empty}
}

// MakeActivity deploys a contract that stores and logs, calls it and sends
// transfers over several blocks, and returns once every node that imports
// blocks has the block after the last transaction (bounded by ctx). It
// needs the default ten accounts (it sends from the eighth and ninth) and
// may be called more than once: it reads the senders' nonces.
func (d *Devnet) MakeActivity(ctx context.Context) (*Activity, error) {
	if len(d.keys) <= activityPayerKey {
		return nil, fmt.Errorf("devnet activity: needs %d prefunded accounts, the devnet has %d", activityPayerKey+1, len(d.keys))
	}
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	// Send to and read from a node that imports blocks, bypassing its proxy.
	node := d.driver.importer()
	rc, err := rpc.DialOptions(ctx, d.nodes[node].URL(), rpc.WithHTTPClient(&http.Client{Transport: tr}))
	if err != nil {
		return nil, fmt.Errorf("devnet activity: %w", err)
	}
	c := ethclient.NewClient(rc)
	defer c.Close()
	s := &activitySender{c: c, chainID: new(big.Int).SetUint64(d.opts.ChainID), nonces: map[common.Address]uint64{}}
	deployer, payer := d.keys[activityDeployerKey], d.keys[activityPayerKey]
	act := &Activity{
		Deployer:  crypto.PubkeyToAddress(deployer.PublicKey),
		Payer:     crypto.PubkeyToAddress(payer.PublicKey),
		Recipient: common.HexToAddress("0x00000000000000000000000000000000000b0b01"),
		Empty:     common.HexToAddress("0x000000000000000000000000000000000000dead"),
	}
	deploy, err := s.send(ctx, deployer, nil, 0, logContractInit, 200_000)
	if err != nil {
		return nil, fmt.Errorf("devnet activity: deploy: %w", err)
	}
	r, err := waitMined(ctx, c, deploy)
	if err != nil {
		return nil, fmt.Errorf("devnet activity: deploy: %w", err)
	}
	act.Contract = r.ContractAddress
	pending := []common.Hash{deploy}
	for i := range activityCalls {
		word := common.BigToHash(big.NewInt(int64(i + 1))).Bytes()
		h, err := s.send(ctx, deployer, &act.Contract, 1, word, 100_000)
		if err != nil {
			return nil, fmt.Errorf("devnet activity: call %d: %w", i, err)
		}
		pending = append(pending, h)
		if h, err = s.send(ctx, payer, &act.Recipient, int64(i+1), nil, 21_000); err != nil {
			return nil, fmt.Errorf("devnet activity: transfer %d: %w", i, err)
		}
		pending = append(pending, h)
		if i%3 == 2 && i+1 < activityCalls { // spread over several blocks
			if !pause.For(ctx, d.opts.BlockTime+d.opts.BlockTime/5) {
				return nil, fmt.Errorf("devnet activity: %w", ctx.Err())
			}
		}
	}
	seen := map[uint64]bool{}
	for _, h := range pending {
		r, err := waitMined(ctx, c, h)
		if err != nil {
			return nil, fmt.Errorf("devnet activity: %w", err)
		}
		act.Txs = append(act.Txs, h)
		if n := r.BlockNumber.Uint64(); !seen[n] {
			seen[n] = true
			act.Blocks = append(act.Blocks, n)
		}
	}
	if err := d.waitImported(ctx, act.Blocks[len(act.Blocks)-1]+1); err != nil {
		return nil, fmt.Errorf("devnet activity: %w", err)
	}
	return act, nil
}

// activitySender signs and sends dynamic-fee transactions, counting nonces.
type activitySender struct {
	c       *ethclient.Client
	chainID *big.Int
	nonces  map[common.Address]uint64
}

func (s *activitySender) send(ctx context.Context, key *ecdsa.PrivateKey, to *common.Address, value int64, data []byte, gas uint64) (common.Hash, error) {
	from := crypto.PubkeyToAddress(key.PublicKey)
	nonce, ok := s.nonces[from]
	if !ok {
		n, err := s.c.PendingNonceAt(ctx, from)
		if err != nil {
			return common.Hash{}, err
		}
		nonce = n
	}
	tx, err := SignTx(key, s.chainID.Uint64(), nonce, to, value, data, gas)
	if err != nil {
		return common.Hash{}, err
	}
	if err := s.c.SendTransaction(ctx, tx); err != nil {
		return common.Hash{}, err
	}
	s.nonces[from] = nonce + 1
	return tx.Hash(), nil
}

// SignTx signs a dynamic-fee transaction from key for the chain chainID:
// to (nil creates a contract), value in wei, data and gas, with a 1 gwei tip
// and a 100 gwei fee cap, which every devnet block takes.
func SignTx(key *ecdsa.PrivateKey, chainID, nonce uint64, to *common.Address, value int64, data []byte, gas uint64) (*types.Transaction, error) {
	id := new(big.Int).SetUint64(chainID)
	return types.SignNewTx(key, types.LatestSignerForChainID(id), &types.DynamicFeeTx{
		ChainID: id, Nonce: nonce, GasTipCap: big.NewInt(params.GWei), GasFeeCap: big.NewInt(100 * params.GWei),
		Gas: gas, To: to, Value: big.NewInt(value), Data: data,
	})
}

// waitMined polls for the transaction's receipt and fails unless it succeeded.
func waitMined(ctx context.Context, c *ethclient.Client, h common.Hash) (*types.Receipt, error) {
	for {
		r, err := c.TransactionReceipt(ctx, h)
		if err == nil {
			if r.Status != types.ReceiptStatusSuccessful {
				return nil, fmt.Errorf("transaction %s failed", h.Hex())
			}
			return r, nil
		}
		if !pause.For(ctx, 50*time.Millisecond) {
			return nil, fmt.Errorf("receipt %s: %w (last: %v)", h.Hex(), ctx.Err(), err)
		}
	}
}

// waitImported waits until every node that imports blocks (not lagging,
// not on a side branch) has block n or higher.
func (d *Devnet) waitImported(ctx context.Context, n uint64) error {
	for !d.driver.imported(n) {
		if !pause.For(ctx, 50*time.Millisecond) {
			return fmt.Errorf("nodes did not import block %d: %w", n, ctx.Err())
		}
	}
	return nil
}

// importer is the first node that imports blocks (0 when none does).
func (c *chainDriver) importer() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	i, _ := c.producer()
	return i
}

// imported reports whether every node the driver feeds has block n.
func (c *chainDriver) imported(n uint64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, node := range c.nodes {
		if !c.held(i) && node.Eth.BlockChain().CurrentBlock().Number.Uint64() < n {
			return false
		}
	}
	return true
}
