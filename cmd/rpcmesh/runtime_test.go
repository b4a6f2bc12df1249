package main

import (
	"testing"

	"github.com/rpcmesh/rpcmesh/internal/config"
)

func TestRuntimeSettings(t *testing.T) {
	env := func(kv map[string]string) func(string) string { return func(k string) string { return kv[k] } }
	for _, tc := range []struct {
		name      string
		server    config.Server
		env       map[string]string
		gc        int
		memLimitB int64
	}{
		{"defaults", config.Server{GCPercent: 400}, nil, 400, 0},
		{"memory limit", config.Server{GCPercent: 200, MemoryLimitMiB: 512}, nil, 200, 512 << 20},
		{"GOGC wins", config.Server{GCPercent: 400}, map[string]string{"GOGC": "100"}, -1, 0},
		{"GOMEMLIMIT wins", config.Server{GCPercent: 400, MemoryLimitMiB: 512}, map[string]string{"GOMEMLIMIT": "1GiB"}, 400, 0},
	} {
		gc, limit := runtimeSettings(tc.server, env(tc.env))
		if gc != tc.gc || limit != tc.memLimitB {
			t.Errorf("%s: gc %d limit %d, want %d %d", tc.name, gc, limit, tc.gc, tc.memLimitB)
		}
	}
}
