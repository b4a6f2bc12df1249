package main

import (
	"log/slog"
	"runtime/debug"

	"github.com/rpcmesh/rpcmesh/internal/config"
)

// runtimeSettings is what serve sets of Go's runtime: the GC percent (-1:
// leave it, GOGC is set) and the soft memory limit in bytes (0: leave it,
// none configured or GOMEMLIMIT is set).
func runtimeSettings(s config.Server, getenv func(string) string) (gcPercent int, memoryLimit int64) {
	gcPercent = s.GCPercent
	if getenv("GOGC") != "" {
		gcPercent = -1
	}
	if s.MemoryLimitMiB > 0 && getenv("GOMEMLIMIT") == "" {
		memoryLimit = s.MemoryLimitMiB << 20
	}
	return gcPercent, memoryLimit
}

// applyRuntime sets the garbage collector from server.gc_percent and
// server.memory_limit_mib, unless the environment does.
func applyRuntime(s config.Server, getenv func(string) string, logger *slog.Logger) {
	gc, limit := runtimeSettings(s, getenv)
	if gc > 0 {
		debug.SetGCPercent(gc)
	}
	if limit > 0 {
		debug.SetMemoryLimit(limit)
	}
	logger.Debug("runtime", "gc_percent", gc, "memory_limit_bytes", limit)
}
