package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/crypto"
	meter "github.com/rpcmesh/rpcmesh/internal/usage"
)

// signedStatement is a statement of three records of operator "alpha",
// signed by a fixed key (seed 5), and the signer's address.
func signedStatement(t *testing.T, seed byte) (*meter.Statement, string) {
	t.Helper()
	key, err := crypto.ToECDSA(bytes.Repeat([]byte{seed}, 32))
	if err != nil {
		t.Fatal(err)
	}
	var rs []meter.Record
	for i, p := range []string{"a1", "a2", "a3"} {
		rs = append(rs, meter.Record{Chain: "eth", Provider: p, Operator: "alpha", EpochStart: 7200, EpochSeconds: 3600,
			Requests: uint64(100 * (i + 1)), ComputeUnits: uint64(2000 * (i + 1)), Verified: uint64(90 * (i + 1)), AuditsPassed: 3})
	}
	s := meter.NewSigner(key)
	st, err := meter.NewStatement(s, "alpha", 7200, 3600, rs)
	if err != nil {
		t.Fatal(err)
	}
	return st, s.Address().Hex()
}

func writeJSON(t *testing.T, dir, name string, b []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestUsageVerifyTampering runs `rpcmesh usage verify` on a statement
// changed in each way a party could change it, and on records an operator
// could present: only the untouched ones pass, each failure in plain
// words and with exit code 1; unreadable input is exit code 2.
func TestUsageVerifyTampering(t *testing.T) {
	_, gateway := signedStatement(t, 5)
	_, attacker := signedStatement(t, 6)
	resign := func(st *meter.Statement, seed byte) {
		// The attacker rebuilds a self-consistent statement with its own key.
		key, _ := crypto.ToECDSA(bytes.Repeat([]byte{seed}, 32))
		ns, err := meter.NewStatement(meter.NewSigner(key), st.Operator, st.EpochStart, st.EpochSeconds, st.Records)
		if err != nil {
			t.Fatal(err)
		}
		*st = *ns
	}
	cases := []struct {
		name   string
		tamper func(st *meter.Statement)
		raw    func(b []byte) []byte // a change to the file's bytes instead
		signer string
		want   int
		says   string
	}{
		{name: "untouched", want: 0, says: "valid statement for operator alpha"},
		{name: "untouched, expected signer", signer: gateway, want: 0, says: "signed by " + gateway},
		{name: "requests raised", tamper: func(st *meter.Statement) { st.Records[1].Requests++ }, want: 1, says: "do not hash to the statement's root"},
		{name: "compute units raised", tamper: func(st *meter.Statement) { st.Records[0].ComputeUnits *= 2 }, want: 1, says: "do not hash to the statement's root"},
		{name: "verified raised", tamper: func(st *meter.Statement) { st.Records[2].Verified = st.Records[2].Requests }, want: 1, says: "root"},
		{name: "record removed", tamper: func(st *meter.Statement) { st.Records, st.Proofs = st.Records[:2], st.Proofs[:2] }, want: 1, says: "root"},
		{name: "record added", tamper: func(st *meter.Statement) {
			r := st.Records[2]
			r.Provider = "a4"
			st.Records, st.Proofs = append(st.Records, r), nil
		}, want: 1, says: "root"},
		{name: "records reordered", tamper: func(st *meter.Statement) { st.Records[0], st.Records[1] = st.Records[1], st.Records[0] }, want: 1, says: "out of order"},
		{name: "operator renamed", tamper: func(st *meter.Statement) { st.Operator = "beta" }, want: 1, says: "not of this statement's operator"},
		{name: "operator renamed everywhere", tamper: func(st *meter.Statement) {
			st.Operator = "beta"
			for i := range st.Records {
				st.Records[i].Operator = "beta"
			}
			st.Proofs = nil
		}, want: 1, says: "root"},
		{name: "epoch moved", tamper: func(st *meter.Statement) { st.EpochStart, st.Records = 10800, nil; st.Proofs = nil }, want: 1, says: "root"},
		{name: "root and records changed together", tamper: func(st *meter.Statement) {
			st.Records[0].Requests = 1_000_000
			l := make([][32]byte, len(st.Records))
			for i, r := range st.Records {
				l[i] = r.Leaf()
			}
			root := meter.MerkleRoot(l)
			st.Root, st.Proofs = hexutil.Encode(root[:]), nil
		}, want: 1, says: "hash is not the hash of its contents"},
		{name: "gateway address swapped", tamper: func(st *meter.Statement) { st.Gateway = attacker }, want: 1, says: "hash is not the hash of its contents"},
		{name: "signature flipped", tamper: func(st *meter.Statement) {
			sig := hexutil.MustDecode(st.Signature)
			sig[10] ^= 1
			st.Signature = hexutil.Encode(sig)
		}, want: 1, says: "signature"},
		{name: "signature truncated", tamper: func(st *meter.Statement) { st.Signature = st.Signature[:60] }, want: 1, says: "signature"},
		{name: "re-signed by another key", tamper: func(st *meter.Statement) { resign(st, 6) }, signer: gateway, want: 1, says: "not by the expected signer " + gateway},
		{name: "re-signed by another key, signer not given", tamper: func(st *meter.Statement) { resign(st, 6) }, want: 0, says: "signed by " + attacker},
		{name: "proof changed", tamper: func(st *meter.Statement) { st.Proofs[0][0].Left = !st.Proofs[0][0].Left }, want: 1, says: "proof 0"},
		{name: "kind changed", tamper: func(st *meter.Statement) { st.Kind = "other" }, want: 1, says: "kind"},
		{name: "extra key", raw: func(b []byte) []byte { return bytes.Replace(b, []byte(`{"kind"`), []byte(`{"bonus":1,"kind"`), 1) }, want: 1, says: "unknown field"},
		{name: "not JSON", raw: func([]byte) []byte { return []byte("hello") }, want: 1, says: "not a usage statement"},
	}
	dir := t.TempDir()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st, _ := signedStatement(t, 5)
			if tc.tamper != nil {
				tc.tamper(st)
			}
			b := st.Encode()
			if tc.raw != nil {
				b = tc.raw(b)
			}
			path := writeJSON(t, dir, "st.json", b)
			args := []string{"usage", "verify", path}
			if tc.signer != "" {
				args = append(args, "--signer", tc.signer)
			}
			var stdout, stderr bytes.Buffer
			code := run(args, &stdout, &stderr)
			out := stdout.String() + stderr.String()
			if code != tc.want || !strings.Contains(out, tc.says) {
				t.Fatalf("exit %d, want %d; output does not say %q:\n%s", code, tc.want, tc.says, out)
			}
			if tc.want != 0 && !strings.Contains(out, "INVALID") {
				t.Fatalf("a failure not marked INVALID:\n%s", out)
			}
		})
	}
}

// TestUsageVerifyRecord checks an operator's record against a statement's
// root: its own record (alone, or with the statement's proof) passes; a
// changed one, or one with a changed proof, does not.
func TestUsageVerifyRecord(t *testing.T) {
	dir := t.TempDir()
	st, gateway := signedStatement(t, 5)
	stPath := writeJSON(t, dir, "st.json", st.Encode())
	withProof := func(r meter.Record, p []meter.ProofStep) []byte {
		b, _ := json.Marshal(map[string]any{"record": r, "proof": p})
		return b
	}
	badProof := append([]meter.ProofStep(nil), st.Proofs[1]...)
	badProof[0].Hash = hexutil.Encode(make([]byte, 32))
	raised := st.Records[1]
	raised.Requests++
	other := st.Records[1]
	other.Operator = "beta"
	cases := []struct {
		name   string
		record []byte
		want   int
		says   string
	}{
		{"own record", st.Records[1].Canonical(), 0, "record of a2 on chain eth is in the statement: 200 requests"},
		{"own record with proof", withProof(st.Records[1], st.Proofs[1]), 0, "is in the statement"},
		{"requests raised", raised.Canonical(), 1, "not in the statement"},
		{"requests raised, with the proof", withProof(raised, st.Proofs[1]), 1, "does not lead to the statement's root"},
		{"proof changed", withProof(st.Records[1], badProof), 1, "does not lead to the statement's root"},
		{"another operator's", other.Canonical(), 1, "not in the statement"},
		{"extra key", []byte(`{"chain":"eth","provider":"a2","bonus":1}`), 1, "unknown field"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := writeJSON(t, dir, "rec.json", tc.record)
			var stdout, stderr bytes.Buffer
			code := run([]string{"usage", "verify", "--signer", gateway, stPath, "--record", rec}, &stdout, &stderr)
			out := stdout.String() + stderr.String()
			if code != tc.want || !strings.Contains(out, tc.says) {
				t.Fatalf("exit %d, want %d; output does not say %q:\n%s", code, tc.want, tc.says, out)
			}
		})
	}
}

// TestUsageVerifyArguments: bad arguments and unreadable files are exit
// code 2, and nothing is called valid.
func TestUsageVerifyArguments(t *testing.T) {
	dir := t.TempDir()
	st, _ := signedStatement(t, 5)
	stPath := writeJSON(t, dir, "st.json", st.Encode())
	for _, args := range [][]string{
		{"usage"},
		{"usage", "check", stPath},
		{"usage", "verify"},
		{"usage", "verify", stPath, stPath},
		{"usage", "verify", filepath.Join(dir, "missing.json")},
		{"usage", "verify", stPath, "--signer", "0x1234"},
		{"usage", "verify", stPath, "--record", filepath.Join(dir, "missing.json")},
	} {
		var stdout, stderr bytes.Buffer
		if code := run(args, &stdout, &stderr); code != 2 || strings.Contains(stdout.String(), "valid") {
			t.Fatalf("%v: exit %d, want 2\n%s%s", args, code, stdout.String(), stderr.String())
		}
	}
}
