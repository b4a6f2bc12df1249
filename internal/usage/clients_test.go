package usage_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/crypto"
	"github.com/rpcmesh/rpcmesh/internal/clientlibs"
	"github.com/rpcmesh/rpcmesh/internal/usage"
)

// recoverJS recovers a statement's signer with ethers and with viem, as
// an operator checking the gateway's signature with its own tools would.
const recoverJS = `
import { readFileSync } from 'node:fs';
import { verifyMessage, getBytes } from 'ethers';
import { recoverMessageAddress } from 'viem';
const st = JSON.parse(readFileSync(process.env.STATEMENT, 'utf8'));
console.log(verifyMessage(getBytes(st.hash), st.signature));
console.log(await recoverMessageAddress({ message: { raw: st.hash }, signature: st.signature }));
`

// TestSignatureRecoveredByEthersAndViem: ethers' verifyMessage and viem's
// recoverMessageAddress over the statement's hash give the gateway's
// address (EIP-191 personal_sign).
func TestSignatureRecoveredByEthersAndViem(t *testing.T) {
	dir, node := clientlibs.Dir(t)
	key, err := ecdsa.GenerateKey(crypto.S256(), nil)
	if err != nil {
		t.Fatal(err)
	}
	s := usage.NewSigner(key)
	st, err := usage.NewStatement(s, "alpha", 3600, 3600, []usage.Record{{Chain: "eth", Provider: "a1", Operator: "alpha",
		EpochStart: 3600, EpochSeconds: 3600, Requests: 5, ComputeUnits: 100}})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "st.json")
	if err := os.WriteFile(path, st.Encode(), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "--input-type=module", "-e", recoverJS)
	cmd.Dir = dir // where node_modules resolves
	cmd.Env = append(os.Environ(), "STATEMENT="+path)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, stderr.String())
	}
	got := strings.Fields(string(out))
	want := s.Address().Hex()
	if len(got) != 2 || got[0] != want || got[1] != want {
		t.Fatalf("ethers and viem recovered %v, want %s twice", got, want)
	}
}
