package main

import (
	"log/slog"
	"os"

	gethlog "github.com/ethereum/go-ethereum/log"
)

// quietGeth keeps go-ethereum's own (process-global) logger to warnings and
// errors, so the nodes' routine chatter does not drown rpcmesh's output.
func quietGeth() {
	gethlog.SetDefault(gethlog.NewLogger(gethlog.NewTerminalHandlerWithLevel(stderrWriter{}, slog.LevelError, false)))
}

type stderrWriter struct{}

func (stderrWriter) Write(p []byte) (int, error) { return os.Stderr.Write(p) }
