package devnet

import (
	"context"
	"math/big"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"

	"github.com/rpcmesh/rpcmesh/internal/testwait"
)

// The activity the package's tests share, made by the first that needs it.
var (
	actOnce sync.Once
	act     *Activity
	actErr  error
)

func sharedActivity(t *testing.T) *Activity {
	t.Helper()
	actOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		act, actErr = dn.MakeActivity(ctx)
	})
	if actErr != nil {
		t.Fatalf("make activity: %v", actErr)
	}
	return act
}

// TestMakeActivity checks that the chain holds what the activity says, on
// every node.
func TestMakeActivity(t *testing.T) {
	a := sharedActivity(t)
	ctx := testwait.Context(t, 30*time.Second)
	if len(a.Txs) != 1+2*activityCalls || len(a.Blocks) < 4 {
		t.Fatalf("%d transactions in %d blocks, want %d in at least 4", len(a.Txs), len(a.Blocks), 1+2*activityCalls)
	}
	last := new(big.Int).SetUint64(a.Blocks[len(a.Blocks)-1])
	for _, n := range dn.Info().Nodes {
		c := directClient(t, n.Name)
		code, err := c.CodeAt(ctx, a.Contract, last)
		if err != nil || len(code) == 0 {
			t.Fatalf("%s: contract code %x, %v", n.Name, code, err)
		}
		slot, err := c.StorageAt(ctx, a.Contract, common.Hash{}, last)
		if err != nil || new(big.Int).SetBytes(slot).Int64() != activityCalls {
			t.Fatalf("%s: slot 0 = %x, %v; want %d", n.Name, slot, err, activityCalls)
		}
		logs, err := c.FilterLogs(ctx, ethereum.FilterQuery{FromBlock: new(big.Int).SetUint64(a.Blocks[0]), ToBlock: last,
			Addresses: []common.Address{a.Contract}, Topics: [][]common.Hash{{LogTopic}}})
		if err != nil || len(logs) != activityCalls {
			t.Fatalf("%s: %d logs, %v; want %d", n.Name, len(logs), err, activityCalls)
		}
		if bal, err := c.BalanceAt(ctx, a.Recipient, last); err != nil || bal.Int64() != activityCalls*(activityCalls+1)/2 {
			t.Fatalf("%s: recipient balance %v, %v", n.Name, bal, err)
		}
		if nonce, err := c.NonceAt(ctx, a.Payer, last); err != nil || nonce < activityCalls {
			t.Fatalf("%s: payer nonce %d, %v", n.Name, nonce, err)
		}
		if bal, err := c.BalanceAt(ctx, a.Empty, last); err != nil || bal.Sign() != 0 {
			t.Fatalf("%s: empty account balance %v, %v", n.Name, bal, err)
		}
		for _, h := range a.Txs {
			if r, err := c.TransactionReceipt(ctx, h); err != nil || r.Status != 1 {
				t.Fatalf("%s: receipt %s: %v", n.Name, h.Hex(), err)
			}
		}
	}
}
