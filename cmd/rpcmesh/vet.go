package main

import (
	"context"
	"fmt"
	"io"

	"github.com/rpcmesh/rpcmesh/internal/vet"
)

// runVet runs `rpcmesh vet URL`: a vetting run against a candidate
// provider (internal/vet, docs/vetting.md). Its exit status says the
// verdict: 0 admit, 1 reject, 2 bad usage or input.
func runVet(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if code := vet.Main(ctx, args, stdout, stderr); code != vet.ExitAdmit {
		return exitCode(code)
	}
	return nil
}

// exitCode is a command's exit status when the command already said why.
type exitCode int

func (c exitCode) Error() string { return fmt.Sprintf("exit status %d", int(c)) }
