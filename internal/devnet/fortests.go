// What tests ask of a devnet beyond its API: a node by name and a plain
// transaction, each failing the test when it cannot be had.

package devnet

import (
	"crypto/ecdsa"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
)

// Transfer is a test's transaction on the devnet: 1 wei from key, with
// nonce, to an address nobody holds. A transaction that cannot be signed
// fails the test.
func (d *Devnet) Transfer(t testing.TB, key *ecdsa.PrivateKey, nonce uint64) *types.Transaction {
	t.Helper()
	to := common.HexToAddress("0x000000000000000000000000000000000000c0de")
	tx, err := SignTx(key, d.Info().ChainID, nonce, &to, 1, nil, 21000)
	if err != nil {
		t.Fatal(err)
	}
	return tx
}

// MustNode is the node named name; a name the devnet does not have fails
// the test.
func (d *Devnet) MustNode(t testing.TB, name string) NodeInfo {
	t.Helper()
	n, ok := d.Node(name)
	if !ok {
		t.Fatalf("no devnet node %s", name)
	}
	return n
}
