package config

import (
	"testing"
	"time"
)

func TestBroadcastSection(t *testing.T) {
	for _, tc := range []struct {
		name, src, want string // want: "" for valid, else the text of the error
	}{
		{"defaults", "", ""},
		{"set", "broadcast:\n  fanout: 5\n  store: /tmp/tx.db\n  rebroadcast_blocks: 2\n  watch_interval: 500ms\n", ""},
		{"fanout zero", "broadcast:\n  fanout: 0\n", "t.yaml:2: broadcast.fanout: must be at least 1"},
		{"watch interval zero", "broadcast:\n  watch_interval: 0s\n", "t.yaml:2: broadcast.watch_interval"},
		{"blob limit below tx limit", "broadcast:\n  max_tx_bytes: 2000\n  max_blob_tx_bytes: 1000\n", "t.yaml:3: broadcast.max_blob_tx_bytes: 1000 is less than broadcast.max_tx_bytes"},
		{"unknown key", "broadcast:\n  fan_out: 2\n", `t.yaml:2: broadcast.fan_out: unknown key "fan_out"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := parseWant(t, tc.src, tc.want)
			if tc.name == "defaults" && (cfg.Broadcast.Fanout != 3 || cfg.Broadcast.WatchInterval.D() != 2*time.Second || cfg.Broadcast.Store != "") {
				t.Fatalf("defaults %+v", cfg.Broadcast)
			}
		})
	}
}
