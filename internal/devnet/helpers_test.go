package devnet

import (
	"context"
	"crypto/ecdsa"
	"fmt"
	"math/big"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/ethereum/go-ethereum/params"

	"github.com/rpcmesh/rpcmesh/internal/testwait"
)

// dial connects a client with its own connection pool, so that connections
// a fault cut in one test are not reused by the next.
func dial(t *testing.T, url string) *ethclient.Client {
	t.Helper()
	return ethclient.NewClient(DialRPC(t, url))
}

// waitBlock waits, bounded by ctx, until c's head is at block h or above;
// what names the wait when it fails the test.
func waitBlock(t *testing.T, ctx context.Context, c *ethclient.Client, what string, h uint64) {
	t.Helper()
	if err := testwait.Until(ctx, what, func() bool {
		got, err := c.BlockNumber(ctx)
		return err == nil && got >= h
	}); err != nil {
		t.Fatal(err)
	}
}

// signTx builds and signs a dynamic-fee transaction from key.
func signTx(t *testing.T, chainID uint64, key *ecdsa.PrivateKey, nonce uint64, to *common.Address, value *big.Int, data []byte, gas uint64) *types.Transaction {
	t.Helper()
	tx, err := types.SignNewTx(key, types.LatestSignerForChainID(new(big.Int).SetUint64(chainID)), &types.DynamicFeeTx{
		ChainID:   new(big.Int).SetUint64(chainID),
		Nonce:     nonce,
		GasTipCap: big.NewInt(params.GWei),
		GasFeeCap: big.NewInt(100 * params.GWei),
		Gas:       gas,
		To:        to,
		Value:     value,
		Data:      data,
	})
	if err != nil {
		t.Fatalf("sign tx: %v", err)
	}
	return tx
}

// waitReceipt polls c until the transaction is mined or ctx ends.
func waitReceipt(ctx context.Context, c *ethclient.Client, hash common.Hash) (*types.Receipt, error) {
	for {
		r, err := c.TransactionReceipt(ctx, hash)
		if err == nil {
			return r, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("receipt %s: %w (last: %v)", hash.Hex(), ctx.Err(), err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// keyAddr is the address of key.
func keyAddr(k *ecdsa.PrivateKey) common.Address { return crypto.PubkeyToAddress(k.PublicKey) }
