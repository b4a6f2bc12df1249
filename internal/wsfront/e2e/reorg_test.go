package e2e

import (
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/ethereum/go-ethereum/params"

	"github.com/rpcmesh/rpcmesh/internal/devnet"
	"github.com/rpcmesh/rpcmesh/internal/devnetgw"
	"github.com/rpcmesh/rpcmesh/internal/testwait"
)

// logContractInit deploys a contract that, on any call, stores the first
// calldata word in slot 0 and emits LOG1(0xaa) with the calldata (as in
// internal/devnet's tests).
var logContractInit = common.FromHex("603280600b6000396000f3" +
	"366000600037" + "600035600055" + "7f" + "00000000000000000000000000000000000000000000000000000000000000aa" + "366000a1" + "00")

// signTx builds and signs a dynamic-fee transaction from key.
func signTx(t *testing.T, key *ecdsa.PrivateKey, nonce uint64, to *common.Address, data []byte, gas uint64) *types.Transaction {
	t.Helper()
	id := new(big.Int).SetUint64(dn.Info().ChainID)
	tx, err := types.SignNewTx(key, types.LatestSignerForChainID(id), &types.DynamicFeeTx{
		ChainID: id, Nonce: nonce, GasTipCap: big.NewInt(params.GWei), GasFeeCap: big.NewInt(100 * params.GWei),
		Gas: gas, To: to, Value: big.NewInt(0), Data: data,
	})
	if err != nil {
		t.Fatalf("sign tx: %v", err)
	}
	return tx
}

// deployLogContract deploys the log contract with key and returns its address.
func deployLogContract(t *testing.T, ctx context.Context, c *ethclient.Client, key *ecdsa.PrivateKey) (common.Address, uint64) {
	t.Helper()
	nonce, err := c.PendingNonceAt(ctx, crypto.PubkeyToAddress(key.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	tx := signTx(t, key, nonce, nil, logContractInit, 200000)
	if err := c.SendTransaction(ctx, tx); err != nil {
		t.Fatal(err)
	}
	var r *types.Receipt
	err = testwait.Until(ctx, "the deploy receipt", func() bool {
		r, err = c.TransactionReceipt(ctx, tx.Hash())
		return err == nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != 1 {
		t.Fatalf("deploy failed: %+v", r)
	}
	return r.ContractAddress, nonce + 1
}

// logSeen is one logs notification.
type logSeen struct {
	BlockHash   string `json:"blockHash"`
	BlockNumber string `json:"blockNumber"`
	TxHash      string `json:"transactionHash"`
	Removed     bool   `json:"removed"`
}

// TestReorgSendsNewBranchAndRemovedLogs keeps a contract emitting a log in
// every block, reorgs the last two blocks on every node, and checks that
// newHeads shows the new branch and the logs subscription gets the dropped
// blocks' logs with removed: true, then the same transactions' logs again.
func TestReorgSendsNewBranchAndRemovedLogs(t *testing.T) {
	devnetgw.AwaitHealthy(t, gw)
	ctx := testwait.Context(t, 90*time.Second)
	direct, ok := dn.DirectURL(dn.Info().Nodes[1].Name)
	if !ok {
		t.Fatal("no direct URL")
	}
	ec, err := ethclient.DialContext(ctx, direct)
	if err != nil {
		t.Fatal(err)
	}
	defer ec.Close()
	key := dn.Keys()[6]
	contract, nonce := deployLogContract(t, ctx, ec, key)

	c := dialWS(t)
	_, headsCh := c.subscribe(t, ctx, `["newHeads"]`)
	_, logsCh := c.subscribe(t, ctx, `["logs",{"address":"`+strings.ToLower(contract.Hex())+`","topics":["0x00000000000000000000000000000000000000000000000000000000000000aa"]}]`)
	var hl headLog
	var mu sync.Mutex
	var logs []logSeen
	readCtx, stopReading := context.WithCancel(ctx)
	defer stopReading()
	readersDone := make(chan struct{}, 2)
	go func() { hl.run(readCtx, headsCh); readersDone <- struct{}{} }()
	go func() {
		defer func() { readersDone <- struct{}{} }()
		for {
			select {
			case <-readCtx.Done():
				return
			case raw := <-logsCh:
				var l logSeen
				_ = json.Unmarshal(raw, &l)
				mu.Lock()
				logs = append(logs, l)
				mu.Unlock()
			}
		}
	}()

	// One call to the contract every 200ms: every block holds logs.
	sendCtx, stopSending := context.WithCancel(ctx)
	defer stopSending()
	var sendWG sync.WaitGroup
	sendWG.Add(1)
	go func() {
		defer sendWG.Done()
		for i := 0; sendCtx.Err() == nil; i++ {
			tx := signTx(t, key, nonce, &contract, common.LeftPadBytes(big.NewInt(int64(i)).Bytes(), 32), 100000)
			if err := ec.SendTransaction(sendCtx, tx); err == nil {
				nonce++
			}
			select {
			case <-sendCtx.Done():
			case <-time.After(200 * time.Millisecond):
			}
		}
	}()
	countLogs := func() int { mu.Lock(); defer mu.Unlock(); return len(logs) }
	if err := testwait.Until(ctx, "four logs before the reorg", func() bool { return countLogs() >= 4 }); err != nil {
		t.Fatal(err)
	}
	// Reorg only once the client has the devnet's head, so that the
	// dropped blocks are ones it was sent (a slow machine lags a block or two).
	err = testwait.Until(ctx, "the client to catch up with the devnet head", func() bool {
		n, _ := dn.Head()
		hs := hl.snapshot()
		return len(hs) > 0 && hs[len(hs)-1].number >= n
	})
	if err != nil {
		t.Fatal(err)
	}
	f, err := dn.SetFault(ctx, devnet.FaultSpec{Target: "all", Kind: devnet.FaultReorg, Params: json.RawMessage(`{"depth":2}`)})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("reorg from %d: %v -> %v", f.Reorg.FromNumber, f.Reorg.OldHashes, f.Reorg.NewHashes)
	newTop := strings.ToLower(f.Reorg.NewHashes[1].Hex())
	seen := func() bool {
		for _, h := range hl.snapshot() {
			if h.hash == newTop {
				return true
			}
		}
		return false
	}
	if err := testwait.Until(ctx, "the new branch head "+newTop, seen); err != nil {
		t.Fatal(err)
	}
	// The blocks after the fork, and their logs: the hub sends logs in
	// block order, so a log of the second block past the new branch's top
	// comes after every log of the branch.
	past := f.Reorg.FromNumber + uint64(len(f.Reorg.NewHashes)) + 1
	err = testwait.Until(ctx, fmt.Sprintf("a log of block %d", past), func() bool {
		mu.Lock()
		defer mu.Unlock()
		for _, l := range logs {
			if n, err := hexutil.DecodeUint64(l.BlockNumber); err == nil && n >= past && !l.Removed {
				return true
			}
		}
		return false
	})
	if err != nil {
		t.Fatal(err)
	}
	stopSending()
	sendWG.Wait()
	stopReading()
	<-readersDone
	<-readersDone
	_ = dn.ClearFault(f.ID)

	// newHeads: linked by parent hash, going back to the fork point once.
	heads := hl.snapshot()
	sent := map[uint64]string{}
	back := 0
	for i, h := range heads {
		if p, ok := sent[h.number-1]; ok && p != h.parent {
			t.Errorf("head %d (%s) has parent %s, the sent head %d was %s", h.number, h.hash, h.parent, h.number-1, p)
		}
		if i > 0 && h.number <= heads[i-1].number {
			back++
			if h.number != f.Reorg.FromNumber || h.hash != strings.ToLower(f.Reorg.NewHashes[0].Hex()) {
				t.Errorf("went back to %d %s, want the fork point %d %s", h.number, h.hash, f.Reorg.FromNumber, f.Reorg.NewHashes[0].Hex())
			}
		}
		sent[h.number] = h.hash
	}
	if back != 1 {
		t.Errorf("heads went back %d times, want once (the reorg)", back)
	}

	// logs: removed ones are of old blocks and are followed by the same
	// transactions' logs in new blocks.
	old := map[string]bool{}
	for _, h := range f.Reorg.OldHashes {
		old[strings.ToLower(h.Hex())] = true
	}
	neu := map[string]bool{}
	for _, h := range f.Reorg.NewHashes {
		neu[strings.ToLower(h.Hex())] = true
	}
	var removed []string
	firstRemoved := -1
	for i, l := range logs {
		if l.Removed {
			if !old[strings.ToLower(l.BlockHash)] {
				t.Errorf("removed log of block %s, not a dropped block", l.BlockHash)
			}
			if firstRemoved < 0 {
				firstRemoved = i
			}
			removed = append(removed, strings.ToLower(l.TxHash))
		}
	}
	if len(removed) == 0 {
		t.Fatalf("no removed logs among %d", len(logs))
	}
	var readded []string
	for _, l := range logs[firstRemoved:] {
		if !l.Removed && neu[strings.ToLower(l.BlockHash)] {
			readded = append(readded, strings.ToLower(l.TxHash))
		}
	}
	for _, tx := range removed {
		if !slices.Contains(readded, tx) {
			t.Errorf("transaction %s: log removed but not sent again from the new branch (re-added %v)", tx, readded)
		}
	}
	t.Logf("%d heads, %d logs, %d removed and re-added", len(heads), len(logs), len(removed))
}
