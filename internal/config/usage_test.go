package config

import (
	"testing"
	"time"
)

func TestUsageSection(t *testing.T) {
	const on = "usage:\n  enabled: true\n  key_file: /tmp/k\n"
	const store = "broadcast:\n  store: /tmp/gw.db\n"
	for _, tc := range []struct {
		name, src, want string // want: "" for valid, else the text of the error
	}{
		{"off by default", "", ""},
		{"off: nothing checked", "usage:\n  epoch: 0s\n", ""},
		{"embedded", store + on, ""},
		{"postgres", on + "  store: postgres\n  postgres_dsn: postgres://u@db/rpcmesh\n", ""},
		{"overrides", store + on + "  compute_units:\n    - method: eth_call\n      units: 40\n", ""},
		{"embedded without store file", on, "usage.store: \"embedded\" keeps usage in the gateway's store file"},
		{"postgres without dsn", on + "  store: postgres\n", "usage.postgres_dsn: must be set"},
		{"unknown store", store + on + "  store: redis\n", `usage.store: must be "embedded" or "postgres"`},
		{"no key file", store + "usage:\n  enabled: true\n", "usage.key_file: must name the file"},
		{"epoch too short", store + on + "  epoch: 500ms\n", "usage.epoch: must be whole seconds between 1s and 744h"},
		{"epoch not whole seconds", store + on + "  epoch: 1500ms\n", "usage.epoch: must be whole seconds"},
		{"flush longer than epoch", store + on + "  epoch: 10s\n  flush_interval: 1m\n", "usage.flush_interval: 1m0s is longer than usage.epoch"},
		{"flush zero", store + on + "  flush_interval: 0s\n", "usage.flush_interval: must be a positive duration"},
		{"bad method", store + on + "  compute_units:\n    - method: call\n      units: 4\n", "usage.compute_units[0].method: must be a JSON-RPC method name"},
		{"zero units", store + on + "  compute_units:\n    - method: eth_call\n      units: 0\n", "usage.compute_units[0].units: must be between 1 and 1000000"},
		{"method twice", store + on + "  compute_units:\n    - method: eth_call\n      units: 4\n    - method: eth_call\n      units: 5\n", `usage.compute_units[1].method: "eth_call" is listed twice`},
		{"default units zero", store + on + "  default_units: 0\n", "usage.default_units: must be at least 1"},
		{"unknown key", "usage:\n  epochs: 1h\n", `usage.epochs: unknown key "epochs"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := parseWant(t, tc.src, tc.want)
			if tc.name == "off by default" {
				u := cfg.Usage
				if u.Enabled || u.Epoch.D() != time.Hour || u.FlushInterval.D() != 5*time.Second || u.Store != UsageStoreEmbedded || u.DefaultUnits != 20 {
					t.Fatalf("defaults %+v", u)
				}
			}
		})
	}
}
