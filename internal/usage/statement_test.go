package usage

import (
	"bytes"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/accounts"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/crypto"
)

// testKey is a fixed key, so that statements are comparable across runs.
func testKey(t testing.TB, seed byte) *ecdsa.PrivateKey {
	t.Helper()
	k, err := crypto.ToECDSA(bytes.Repeat([]byte{seed}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func testRecords(op string, n int) []Record {
	var rs []Record
	for i := range n {
		rs = append(rs, Record{Chain: "eth", Provider: fmt.Sprintf("%s-%d", op, i), Operator: op, EpochStart: 3600, EpochSeconds: 3600,
			Requests: uint64(10 + i), ComputeUnits: uint64(200 + i), Verified: uint64(i)})
	}
	return rs
}

// TestMerkleProofs checks every leaf's proof against the root, for trees
// of every shape up to 9 leaves, and that a proof does not carry another
// leaf.
func TestMerkleProofs(t *testing.T) {
	if MerkleRoot(nil) != [32]byte{} {
		t.Fatal("the root of no records is not zero")
	}
	for n := 1; n <= 9; n++ {
		ls := leaves(testRecords("op", n))
		root := MerkleRoot(ls)
		for i := range ls {
			p := MerkleProof(ls, i)
			if err := VerifyProof(ls[i], p, root); err != nil {
				t.Fatalf("n=%d i=%d: %v", n, i, err)
			}
			if err := VerifyProof(ls[(i+1)%n], p, root); n > 1 && err == nil {
				t.Fatalf("n=%d i=%d: the proof of leaf %d carries leaf %d", n, i, i, (i+1)%n)
			}
		}
	}
}

// TestSignatureRecoverable checks that go-ethereum's own recovery
// (crypto.Ecrecover and crypto.SigToPub over the EIP-191 hash of the
// statement's hash) yields the gateway's address, as any Ethereum tool
// checking a personal_sign signature does.
func TestSignatureRecoverable(t *testing.T) {
	key := testKey(t, 7)
	st, err := NewStatement(NewSigner(key), "op", 3600, 3600, testRecords("op", 3))
	if err != nil {
		t.Fatal(err)
	}
	want := crypto.PubkeyToAddress(key.PublicKey)
	hash, sig := hexutil.MustDecode(st.Hash), hexutil.MustDecode(st.Signature)
	if v := sig[64]; v != 27 && v != 28 {
		t.Fatalf("v = %d, want 27 or 28 (personal_sign)", v)
	}
	raw := append([]byte(nil), sig...)
	raw[64] -= 27
	pubBytes, err := crypto.Ecrecover(accounts.TextHash(hash), raw)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := crypto.UnmarshalPubkey(pubBytes)
	if err != nil {
		t.Fatal(err)
	}
	if got := crypto.PubkeyToAddress(*pub); got != want {
		t.Fatalf("Ecrecover: %s, want %s", got, want)
	}
	pub2, err := crypto.SigToPub(accounts.TextHash(hash), raw)
	if err != nil || crypto.PubkeyToAddress(*pub2) != want {
		t.Fatalf("SigToPub: %v %v", pub2, err)
	}
	if common.HexToAddress(st.Gateway) != want {
		t.Fatalf("gateway %s, want %s", st.Gateway, want)
	}
	if _, err := st.Verify(want); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Verify(common.HexToAddress("0x0000000000000000000000000000000000000001")); err == nil {
		t.Fatal("verified against a signer that did not sign")
	}
}

// TestStatementsDeterministic: the same records give byte-identical
// statements (signatures are deterministic, RFC 6979), whatever their
// order in.
func TestStatementsDeterministic(t *testing.T) {
	s := NewSigner(testKey(t, 7))
	rs := testRecords("op", 4)
	a, _ := NewStatement(s, "op", 3600, 3600, rs)
	rev := []Record{rs[3], rs[1], rs[2], rs[0]}
	b, _ := NewStatement(s, "op", 3600, 3600, rev)
	if !bytes.Equal(a.Encode(), b.Encode()) {
		t.Fatalf("statements differ:\n%s\n%s", a.Encode(), b.Encode())
	}
	if _, err := NewStatement(s, "other", 3600, 3600, rs); err == nil {
		t.Fatal("a statement of one operator took another's records")
	}
}

// TestKeyFile: created with mode 0600 when absent, read back the same,
// refused when others may read it.
func TestKeyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "usage.key")
	s1, err := LoadOrCreateKey(path)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v (%v), want 0600", st.Mode().Perm(), err)
	}
	s2, err := LoadOrCreateKey(path)
	if err != nil || s2.Address() != s1.Address() {
		t.Fatalf("reloaded key %v (%v), want %s", s2, err, s1.Address())
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateKey(path); err == nil {
		t.Fatal("a key file others may read was accepted")
	}
}

// TestInvalidIsErrInvalid: every reason Verify gives matches ErrInvalid.
func TestInvalidIsErrInvalid(t *testing.T) {
	st, _ := NewStatement(NewSigner(testKey(t, 7)), "op", 3600, 3600, testRecords("op", 2))
	st.Records[0].Requests++
	_, err := st.Verify(common.Address{})
	if !errors.Is(err, ErrInvalid) || strings.Contains(err.Error(), "invalid") {
		t.Fatalf("err = %v: want ErrInvalid, its reason in plain words", err)
	}
}
