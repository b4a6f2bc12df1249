package main

import (
	"context"
	"io"

	"github.com/rpcmesh/rpcmesh/internal/vet"
)

// runVet runs `rpcmesh vet URL`: a vetting run against a candidate
// provider (internal/vet, docs/vetting.md). Its exit status says the
// verdict: 0 admit, 1 reject, 2 bad usage or input.
func runVet(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if code := vet.Main(ctx, args, stdout, stderr); code != vet.ExitAdmit {
		return &exitError{code: code} // vet has said why
	}
	return nil
}
