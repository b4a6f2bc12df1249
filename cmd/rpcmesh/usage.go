package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/ethereum/go-ethereum/common"
	meter "github.com/rpcmesh/rpcmesh/internal/usage"
)

// Exit codes of rpcmesh usage verify.
const (
	exitInvalid = 1 // the statement or record does not check out
	exitUsage   = 2 // bad arguments or unreadable files: nothing was checked
)

const usageHelp = `usage: rpcmesh usage verify STATEMENT.json [--record RECORD.json] [--signer 0x...]

Checks a usage statement (from the admin listener's /usage/statements): its
records hash to its Merkle root, its hash is its contents', and its EIP-191
signature recovers the gateway address it names (and --signer, when given).
With --record, also checks that the record (a record as the statement lists
it, or {"record": {...}, "proof": [...]}) is committed to by the root.

Exit status: 0 valid, 1 invalid (the reason is printed), 2 bad arguments or
unreadable files. See docs/meter.md.`

// runUsage runs "rpcmesh usage verify ...".
func runUsage(_ context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "verify" {
		fmt.Fprintln(stderr, usageHelp)
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
			return flag.ErrHelp
		}
		return &exitError{exitUsage, errors.New("missing subcommand (want: verify STATEMENT.json)")}
	}
	return runUsageVerify(args[1:], stdout, stderr)
}

func runUsageVerify(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("usage verify", usageHelp, stderr)
	recordPath := fs.String("record", "", "an operator's record `file` to check against the statement's root")
	signerHex := fs.String("signer", "", "the gateway `address` that must have signed (0x...)")
	// Flags may come before or after the statement's file.
	var files []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return err
			}
			return &exitError{exitUsage, err}
		}
		if fs.NArg() == 0 {
			break
		}
		files, args = append(files, fs.Arg(0)), fs.Args()[1:]
	}
	if len(files) != 1 {
		fs.Usage()
		return &exitError{exitUsage, fmt.Errorf("want one statement file, got %d", len(files))}
	}
	var signer common.Address
	if *signerHex != "" {
		if !common.IsHexAddress(*signerHex) {
			return &exitError{exitUsage, fmt.Errorf("--signer %q is not a 0x-prefixed 20-byte address", *signerHex)}
		}
		signer = common.HexToAddress(*signerHex)
	}
	b, err := os.ReadFile(files[0])
	if err != nil {
		return &exitError{exitUsage, err}
	}
	var rec meter.Record
	var proof []meter.ProofStep
	if *recordPath != "" { // read every input before saying anything is valid
		if rec, proof, err = readRecord(*recordPath); err != nil {
			return err
		}
	}
	st, err := meter.DecodeStatement(b)
	if err != nil {
		return &exitError{exitInvalid, fmt.Errorf("%s: INVALID: not a usage statement: %w", files[0], err)}
	}
	got, err := st.Verify(signer)
	if err != nil {
		return &exitError{exitInvalid, fmt.Errorf("%s: INVALID: %w", files[0], err)}
	}
	start := time.Unix(st.EpochStart, 0).UTC()
	fmt.Fprintf(stdout, "%s: valid statement for operator %s, epoch %s to %s, %d records, signed by %s\n",
		files[0], st.Operator, start.Format(time.RFC3339), start.Add(time.Duration(st.EpochSeconds)*time.Second).Format(time.RFC3339),
		len(st.Records), got.Hex())
	if *recordPath == "" {
		return nil
	}
	if err := st.VerifyRecord(rec, proof); err != nil {
		return &exitError{exitInvalid, fmt.Errorf("%s: INVALID: %w", *recordPath, err)}
	}
	fmt.Fprintf(stdout, "%s: record of %s on chain %s is in the statement: %d requests, %d compute units, %d verified, audits %d passed %d failed\n",
		*recordPath, rec.Provider, rec.Chain, rec.Requests, rec.ComputeUnits, rec.Verified, rec.AuditsPassed, rec.AuditsFailed)
	return nil
}

// readRecord reads a record file: a record, or {"record": ..., "proof": [...]}.
func readRecord(path string) (meter.Record, []meter.ProofStep, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return meter.Record{}, nil, &exitError{exitUsage, err}
	}
	var wrapped struct {
		Record json.RawMessage   `json:"record"`
		Proof  []meter.ProofStep `json:"proof"`
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if dec.Decode(&wrapped) == nil && wrapped.Record != nil {
		r, err := meter.DecodeRecord(wrapped.Record)
		if err != nil {
			return r, nil, &exitError{exitInvalid, fmt.Errorf("%s: INVALID: %w", path, err)}
		}
		return r, wrapped.Proof, nil
	}
	r, err := meter.DecodeRecord(b)
	if err != nil {
		return r, nil, &exitError{exitInvalid, fmt.Errorf("%s: INVALID: %w", path, err)}
	}
	return r, nil, nil
}
