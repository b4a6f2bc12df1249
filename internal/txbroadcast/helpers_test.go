package txbroadcast

import (
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/json"
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/crypto/kzg4844"
	"github.com/holiman/uint256"
)

const testChainID = 1337

var testLimits = Limits{ChainID: testChainID, MaxTxBytes: 128 << 10, MaxBlobTxBytes: 1 << 20}

func testKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := crypto.HexToECDSA("b71c71a67e1177ad4e901695e1b4b9ee17ae16c6668d313eac2f96dbcda3f291")
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// signed signs data as a transaction of chain chainID.
func signed(t testing.TB, chainID uint64, data types.TxData) *types.Transaction {
	t.Helper()
	tx, err := types.SignNewTx(testKey(t), types.LatestSignerForChainID(new(big.Int).SetUint64(chainID)), data)
	if err != nil {
		t.Fatal(err)
	}
	return tx
}

var to = common.HexToAddress("0x000000000000000000000000000000000000c0de")

func legacyTx(payload []byte) types.TxData {
	return &types.LegacyTx{Nonce: 1, GasPrice: big.NewInt(1e9), Gas: 21000 + 16*uint64(len(payload)), To: &to, Value: big.NewInt(1), Data: payload}
}

func accessListTx() types.TxData {
	return &types.AccessListTx{ChainID: big.NewInt(testChainID), Nonce: 2, GasPrice: big.NewInt(1e9), Gas: 30000, To: &to,
		AccessList: types.AccessList{{Address: to, StorageKeys: []common.Hash{{1}}}}}
}

func dynamicTx(chainID int64) types.TxData {
	return &types.DynamicFeeTx{ChainID: big.NewInt(chainID), Nonce: 3, GasTipCap: big.NewInt(1e9), GasFeeCap: big.NewInt(1e10), Gas: 21000, To: &to}
}

func setCodeTx(t testing.TB) types.TxData {
	auth, err := types.SignSetCode(testKey(t), types.SetCodeAuthorization{ChainID: *uint256.NewInt(testChainID), Address: to, Nonce: 5})
	if err != nil {
		t.Fatal(err)
	}
	return &types.SetCodeTx{ChainID: uint256.NewInt(testChainID), Nonce: 4, GasTipCap: uint256.NewInt(1e9), GasFeeCap: uint256.NewInt(1e10),
		Gas: 50000, To: to, Value: uint256.NewInt(0), AuthList: []types.SetCodeAuthorization{auth}}
}

func blobTx(t testing.TB, withSidecar bool) types.TxData {
	var blob kzg4844.Blob
	commit, err := kzg4844.BlobToCommitment(&blob)
	if err != nil {
		t.Fatal(err)
	}
	proof, err := kzg4844.ComputeBlobProof(&blob, commit)
	if err != nil {
		t.Fatal(err)
	}
	tx := &types.BlobTx{ChainID: uint256.NewInt(testChainID), Nonce: 6, GasTipCap: uint256.NewInt(1e9), GasFeeCap: uint256.NewInt(1e10),
		Gas: 21000, To: to, Value: uint256.NewInt(0), BlobFeeCap: uint256.NewInt(1e9),
		BlobHashes: []common.Hash{kzg4844.CalcBlobHashV1(sha256.New(), &commit)}}
	if withSidecar {
		tx.Sidecar = types.NewBlobTxSidecar(types.BlobSidecarVersion0, []kzg4844.Blob{blob}, []kzg4844.Commitment{commit}, []kzg4844.Proof{proof})
	}
	return tx
}

// rawParams is eth_sendRawTransaction's params for tx.
func rawParams(t testing.TB, tx *types.Transaction) json.RawMessage {
	t.Helper()
	raw, err := tx.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return bytesParams(raw)
}

func bytesParams(raw []byte) json.RawMessage {
	b, _ := json.Marshal([]hexutil.Bytes{raw})
	return b
}
