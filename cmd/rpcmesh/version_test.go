package main

import (
	"bytes"
	"runtime/debug"
	"strings"
	"testing"
)

func TestVersionLine(t *testing.T) {
	rev := debug.BuildSetting{Key: "vcs.revision", Value: "981d686f0123456789abcdef"}
	dirty := debug.BuildSetting{Key: "vcs.modified", Value: "true"}
	clean := debug.BuildSetting{Key: "vcs.modified", Value: "false"}
	tests := []struct {
		name string
		bi   *debug.BuildInfo
		want string
	}{
		{"no build info", nil, "rpcmesh (unknown version: built without module information)"},
		{"go run, no VCS stamp", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}}, "rpcmesh (devel) go1.26.8"},
		{"empty version", &debug.BuildInfo{GoVersion: "go1.26.8"}, "rpcmesh (devel) go1.26.8"},
		{"tagged, clean", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.2.0"}, Settings: []debug.BuildSetting{rev, clean}},
			"rpcmesh v1.2.0 revision 981d686f0123 go1.26.8"},
		{"checkout with edits", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{rev, dirty}},
			"rpcmesh (devel) revision 981d686f0123, modified go1.26.8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := versionLine(tt.bi); got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// TestVersionCommand runs "rpcmesh version" as a user would: one line
// naming rpcmesh and the Go version, exit 0; extra arguments are refused.
func TestVersionCommand(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run([]string{"version"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if out := stdout.String(); !strings.HasPrefix(out, "rpcmesh ") || !strings.Contains(out, " go1.") || strings.Count(out, "\n") != 1 {
		t.Fatalf("version line %q", out)
	}
	if code := run([]string{"version", "extra"}, &stdout, &stderr); code == 0 {
		t.Fatal("extra argument accepted")
	}
}
