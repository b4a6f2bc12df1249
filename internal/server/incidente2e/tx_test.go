package incidente2e

import (
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
)

// pendingNonce asks the gateway for the account's "pending" nonce.
func pendingNonce(ctx context.Context, t *testing.T, key *ecdsa.PrivateKey) uint64 {
	t.Helper()
	a, err := call(ctx, "eth_getTransactionCount", `["`+crypto.PubkeyToAddress(key.PublicKey).Hex()+`","pending"]`)
	var n hexutil.Uint64
	if err == nil && a.err == nil {
		err = json.Unmarshal(a.result, &n)
	}
	if err != nil || a.err != nil {
		t.Fatalf("nonce: %v %s", err, a.err)
	}
	return uint64(n)
}

// send sends tx through the gateway and checks the answer is its hash.
func send(ctx context.Context, t *testing.T, tx *types.Transaction) {
	t.Helper()
	raw, _ := tx.MarshalBinary()
	a, err := call(ctx, "eth_sendRawTransaction", `["`+hexutil.Encode(raw)+`"]`)
	var h common.Hash
	if err == nil && a.err == nil {
		err = json.Unmarshal(a.result, &h)
	}
	if err != nil || a.err != nil || h != tx.Hash() {
		t.Fatalf("send: %v %s, hash %s want %s", err, a.err, h, tx.Hash())
	}
}
