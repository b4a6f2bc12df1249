package main

import (
	"log/slog"
	"runtime"
	"runtime/debug"

	"github.com/rpcmesh/rpcmesh/internal/config"
)

// runtimeConfig is what serve sets of Go's runtime; a zero or negative
// field leaves that setting as it is.
type runtimeConfig struct {
	GCPercent   int   // -1: GOGC is set
	MemoryLimit int64 // bytes; 0: none configured, or GOMEMLIMIT is set
	MaxProcs    int   // 0: Go's default, or GOMAXPROCS is set
}

// runtimeSettings is what serve sets of Go's runtime from the server
// config; the environment's GOGC, GOMEMLIMIT and GOMAXPROCS win.
func runtimeSettings(s config.Server, getenv func(string) string) runtimeConfig {
	rc := runtimeConfig{GCPercent: s.GCPercent}
	if getenv("GOGC") != "" {
		rc.GCPercent = -1
	}
	if s.MemoryLimitMiB > 0 && getenv("GOMEMLIMIT") == "" {
		rc.MemoryLimit = s.MemoryLimitMiB << 20
	}
	if s.MaxProcs > 0 && getenv("GOMAXPROCS") == "" {
		rc.MaxProcs = s.MaxProcs
	}
	return rc
}

// applyRuntime sets the garbage collector from server.gc_percent and
// server.memory_limit_mib and the processors from server.max_procs,
// unless the environment does.
func applyRuntime(s config.Server, getenv func(string) string, logger *slog.Logger) {
	rc := runtimeSettings(s, getenv)
	if rc.GCPercent > 0 {
		debug.SetGCPercent(rc.GCPercent)
	}
	if rc.MemoryLimit > 0 {
		debug.SetMemoryLimit(rc.MemoryLimit)
	}
	if rc.MaxProcs > 0 {
		runtime.GOMAXPROCS(rc.MaxProcs)
	}
	logger.Debug("runtime", "gc_percent", rc.GCPercent, "memory_limit_bytes", rc.MemoryLimit, "max_procs", runtime.GOMAXPROCS(0))
}
