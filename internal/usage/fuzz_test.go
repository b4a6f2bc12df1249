package usage

import (
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common"
)

// FuzzVerify feeds `rpcmesh usage verify`'s parsers and checks any bytes:
// no input crashes them, and whatever passes Verify was signed by the
// key that signed the seed (a valid statement cannot be forged by editing).
func FuzzVerify(f *testing.F) {
	s := NewSigner(testKey(f, 7))
	st, err := NewStatement(s, "op", 3600, 3600, testRecords("op", 3))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(st.Encode(), st.Records[1].Canonical())
	f.Add([]byte(`{"kind":"rpcmesh-usage-statement/1","records":[],"proofs":[[{"hash":"0x00","left":true}]]}`), []byte(`{}`))
	f.Add([]byte(`{"signature":"0x1b"}`), []byte(`null`))
	f.Fuzz(func(t *testing.T, stmt, record []byte) {
		got, err := DecodeStatement(stmt)
		if err != nil {
			return
		}
		signer, err := got.Verify(common.Address{})
		if r, rerr := DecodeRecord(record); rerr == nil {
			_ = got.VerifyRecord(r, nil)
			if len(got.Proofs) > 0 {
				_ = got.VerifyRecord(r, got.Proofs[0])
			}
		}
		if err == nil && signer == s.Address() && !strings.EqualFold(got.Hash, st.Hash) {
			// A different valid statement under the seed's key would be a forgery.
			t.Fatalf("an edited statement verifies as signed by %s:\n%s", signer.Hex(), stmt)
		}
	})
}
