package devnet

import (
	"crypto/ecdsa"
	"encoding/binary"
	"fmt"
	"maps"
	"math/big"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/params"

	"github.com/rpcmesh/rpcmesh/internal/forks"
)

// prefundWei is each derived account's genesis balance: 1,000,000 ether.
var prefundWei = new(big.Int).Mul(big.NewInt(1_000_000), big.NewInt(params.Ether))

// chainConfig is the all-forks-at-genesis schedule the verification code
// also assumes for unknown chains, with the mainnet deposit contract.
func chainConfig(chainID uint64) *params.ChainConfig {
	c := forks.AllAtGenesis(chainID)
	c.DepositContractAddress = common.HexToAddress("0x00000000219ab540356cbb839cbe05303d7705fa")
	return c
}

// deriveKeys derives n private keys from seed: key i is keccak256(seed || i),
// so the same seed always yields the same accounts.
func deriveKeys(seed string, n int) ([]*ecdsa.PrivateKey, error) {
	keys := make([]*ecdsa.PrivateKey, 0, n)
	for i := 0; len(keys) < n; i++ {
		var idx [8]byte
		binary.BigEndian.PutUint64(idx[:], uint64(i))
		k, err := crypto.ToECDSA(crypto.Keccak256([]byte(seed), idx[:]))
		if err != nil {
			// A hash outside the curve order is astronomically unlikely; skip it.
			if i > 10*n {
				return nil, fmt.Errorf("derive account keys: %w", err)
			}
			continue
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// accountsOf turns keys into the printable account list.
func accountsOf(keys []*ecdsa.PrivateKey) []Account {
	out := make([]Account, len(keys))
	for i, k := range keys {
		out[i] = Account{
			Address:    crypto.PubkeyToAddress(k.PublicKey).Hex(),
			PrivateKey: hexutil.Encode(crypto.FromECDSA(k)),
		}
	}
	return out
}

// genesisBlock is the devnet's genesis: the system contracts the enabled forks
// call into, plus the prefunded accounts.
func genesisBlock(chainID uint64, keys []*ecdsa.PrivateKey, gasLimit uint64) *core.Genesis {
	alloc := types.GenesisAlloc{}
	maps.Copy(alloc, core.SystemContractAllocs())
	for _, k := range keys {
		alloc[crypto.PubkeyToAddress(k.PublicKey)] = types.Account{Balance: new(big.Int).Set(prefundWei)}
	}
	return &core.Genesis{
		Config:     chainConfig(chainID),
		GasLimit:   gasLimit,
		BaseFee:    big.NewInt(params.InitialBaseFee),
		Difficulty: big.NewInt(0),
		Timestamp:  0,
		Alloc:      alloc,
	}
}
