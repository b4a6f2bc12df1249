package config

import (
	"testing"
	"time"
)

func TestIncidentsSection(t *testing.T) {
	for _, tc := range []struct {
		name, src, want string // want: "" for valid, else the text of the error
		store           string // StorePath when valid
	}{
		{"defaults", "", "", ""},
		{"set", "incidents:\n  evaluate_interval: 200ms\n  open_after: 1s\n  close_after: 2s\n  keep: 5\n  slow_answer: 1s\n  frozen_blocks: 2\n", "", ""},
		{"open_after zero", "incidents:\n  open_after: 0s\n", "t.yaml:2: incidents.open_after: must be a positive duration", ""},
		{"keep zero", "incidents:\n  keep: 0\n", "t.yaml:2: incidents.keep: must be between 1 and 10000", ""},
		{"keep huge", "incidents:\n  keep: 1000000\n", "incidents.keep: must be between 1 and 10000", ""},
		{"frozen below one", "incidents:\n  frozen_blocks: 0.5\n", "incidents.frozen_blocks: must be at least 1", ""},
		{"unknown key", "incidents:\n  open_afer: 1s\n", `incidents.open_afer: unknown key "open_afer"`, ""},
		{"store", "store: /var/lib/rpcmesh.db\n", "", "/var/lib/rpcmesh.db"},
		{"broadcast.store still works", "broadcast:\n  store: /tmp/tx.db\n", "", "/tmp/tx.db"},
		{"both the same", "store: /tmp/a.db\nbroadcast:\n  store: /tmp/a.db\n", "", "/tmp/a.db"},
		{"both differ", "store: /tmp/a.db\nbroadcast:\n  store: /tmp/b.db\n", `broadcast.store: is "/tmp/b.db" but store is "/tmp/a.db"`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := parseWant(t, tc.src, tc.want)
			if tc.want == "" && cfg.StorePath() != tc.store {
				t.Fatalf("StorePath %q, want %q", cfg.StorePath(), tc.store)
			}
			if tc.name == "defaults" && (cfg.Incidents.OpenAfter.D() != 10*time.Second || cfg.Incidents.CloseAfter.D() != time.Minute || cfg.Incidents.Keep != 200) {
				t.Fatalf("defaults %+v", cfg.Incidents)
			}
		})
	}
}
