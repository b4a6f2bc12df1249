package txbroadcast

import (
	"encoding/json"
	"errors"
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/rpcmesh/rpcmesh/internal/jsonrpc"
)

func TestDecodeAcceptsEveryType(t *testing.T) {
	from := crypto.PubkeyToAddress(testKey(t).PublicKey)
	for _, tc := range []struct {
		name string
		tx   *types.Transaction
	}{
		{"legacy EIP-155", signed(t, testChainID, legacyTx(nil))},
		{"access list", signed(t, testChainID, accessListTx())},
		{"dynamic fee", signed(t, testChainID, dynamicTx(testChainID))},
		{"blob with sidecar", signed(t, testChainID, blobTx(t, true))},
		{"set code", signed(t, testChainID, setCodeTx(t))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Decode(rawParams(t, tc.tx), testLimits)
			if err != nil {
				t.Fatal(err)
			}
			if got.Hash != tc.tx.Hash() || got.From != from || got.Nonce != tc.tx.Nonce() {
				t.Fatalf("decoded hash %s from %s nonce %d; want %s %s %d", got.Hash, got.From, got.Nonce, tc.tx.Hash(), from, tc.tx.Nonce())
			}
		})
	}
}

func TestDecodeRefuses(t *testing.T) {
	// A signature no key can make: s above the curve order's half, r zero.
	bad := dynamicTx(testChainID).(*types.DynamicFeeTx)
	bad.V, bad.R, bad.S = big.NewInt(0), big.NewInt(0), new(big.Int).Set(secp256k1N)
	badHigh := dynamicTx(testChainID).(*types.DynamicFeeTx)
	badHigh.V, badHigh.R, badHigh.S = big.NewInt(1), big.NewInt(1), new(big.Int).Sub(secp256k1N, big.NewInt(1))
	unprotected, err := types.SignNewTx(testKey(t), types.HomesteadSigner{}, legacyTx(nil))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		params string
		reason Reason
	}{
		{"no params", `[]`, ReasonBadParams},
		{"two params", `["0x01","0x02"]`, ReasonBadParams},
		{"object", `{"tx":"0x01"}`, ReasonBadParams},
		{"not hex", `["hello"]`, ReasonBadParams},
		{"empty", `["0x"]`, ReasonMalformed},
		{"malformed RLP", `["0xf86c0a8502540be400825208"]`, ReasonMalformed},
		{"unknown type", `["0x7f01"]`, ReasonMalformed},
		{"wrong chain ID", string(rawParams(t, signed(t, 1, dynamicTx(1)))), ReasonChainID},
		{"legacy wrong chain ID", string(rawParams(t, signed(t, 5, legacyTx(nil)))), ReasonChainID},
		{"unprotected legacy", string(rawParams(t, unprotected)), ReasonChainID},
		{"zero signature", string(rawParams(t, types.NewTx(bad))), ReasonSignature},
		{"high-s signature", string(rawParams(t, types.NewTx(badHigh))), ReasonSignature},
		{"oversize", string(rawParams(t, signed(t, testChainID, legacyTx(make([]byte, 130<<10))))), ReasonOversize},
		{"oversize hex before decoding", `["0x` + string(make([]byte, 0)) + repeat("00", 1<<20+16) + `"]`, ReasonOversize},
		{"blob without sidecar", string(rawParams(t, signed(t, testChainID, blobTx(t, false)))), ReasonMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode(json.RawMessage(tc.params), testLimits)
			var je *jsonrpc.Error
			if !errors.As(err, &je) || je.Code != jsonrpc.CodeInvalidParams {
				t.Fatalf("err = %v, want a -32602 error", err)
			}
			if got := ReasonOf(err); got != tc.reason {
				t.Fatalf("reason %q (%s), want %q", got, je.Message, tc.reason)
			}
		})
	}
}

// secp256k1N is the order of the secp256k1 curve.
var secp256k1N, _ = new(big.Int).SetString("fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141", 16)

func repeat(s string, n int) string {
	b := make([]byte, 0, len(s)*n)
	for range n {
		b = append(b, s...)
	}
	return string(b)
}

// FuzzDecode feeds arbitrary params to the decoder: it must never panic,
// and anything it accepts must re-encode to the same bytes and hash.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(rawParams(f, signed(f, testChainID, dynamicTx(testChainID)))))
	f.Add([]byte(rawParams(f, signed(f, testChainID, legacyTx([]byte{1, 2, 3})))))
	f.Add([]byte(rawParams(f, signed(f, testChainID, accessListTx()))))
	f.Add([]byte(rawParams(f, signed(f, testChainID, setCodeTx(f)))))
	f.Add([]byte(`["0x"]`))
	f.Add([]byte(`["0x02"]`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, params []byte) {
		tx, err := Decode(params, testLimits)
		if err != nil {
			if ReasonOf(err) == "" {
				t.Fatalf("error without a reason: %v", err)
			}
			return
		}
		raw, err := tx.Tx.MarshalBinary()
		if err != nil || tx.Tx.Hash() != tx.Hash {
			t.Fatalf("accepted transaction does not round-trip: %v", err)
		}
		_ = raw
	})
}
