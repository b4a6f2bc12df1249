package main

import (
	"testing"

	"github.com/rpcmesh/rpcmesh/internal/config"
)

func TestRuntimeSettings(t *testing.T) {
	env := func(kv map[string]string) func(string) string { return func(k string) string { return kv[k] } }
	for _, tc := range []struct {
		name   string
		server config.Server
		env    map[string]string
		want   runtimeConfig
	}{
		{"defaults", config.Server{GCPercent: 400}, nil, runtimeConfig{GCPercent: 400}},
		{"memory limit", config.Server{GCPercent: 200, MemoryLimitMiB: 512}, nil, runtimeConfig{GCPercent: 200, MemoryLimit: 512 << 20}},
		{"GOGC wins", config.Server{GCPercent: 400}, map[string]string{"GOGC": "100"}, runtimeConfig{GCPercent: -1}},
		{"GOMEMLIMIT wins", config.Server{GCPercent: 400, MemoryLimitMiB: 512}, map[string]string{"GOMEMLIMIT": "1GiB"}, runtimeConfig{GCPercent: 400}},
		{"max procs", config.Server{GCPercent: 400, MaxProcs: 1}, nil, runtimeConfig{GCPercent: 400, MaxProcs: 1}},
		{"GOMAXPROCS wins", config.Server{GCPercent: 400, MaxProcs: 1}, map[string]string{"GOMAXPROCS": "2"}, runtimeConfig{GCPercent: 400}},
	} {
		if got := runtimeSettings(tc.server, env(tc.env)); got != tc.want {
			t.Errorf("%s: got %+v, want %+v", tc.name, got, tc.want)
		}
	}
}
