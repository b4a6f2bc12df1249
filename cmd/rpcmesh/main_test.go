package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/rpcmesh/rpcmesh/internal/cmdtest"
)

// TestMain lets a test run this binary's main as a child process, so
// signal handling is tested on a real process.
func TestMain(m *testing.M) { cmdtest.Main(m, run) }

// TestMovedCommandsSayWhereTheyAre asks the gateway for the devnet and the
// load generator, which are commands of their own: it names the command to
// run and fails, so a script written for the old layout stops with a
// message instead of running something else.
func TestMovedCommandsSayWhereTheyAre(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"devnet"}, "go run ./cmd/rpcmesh-devnet"},
		{[]string{"devnet", "--nodes", "1"}, "go run ./cmd/rpcmesh-devnet"},
		{[]string{"bench", "upstream"}, "go run ./cmd/rpcmesh-bench"},
	}
	for _, c := range cases {
		var stdout, stderr bytes.Buffer
		if code := run(c.args, &stdout, &stderr); code != 2 {
			t.Fatalf("%v: exit %d, want 2", c.args, code)
		}
		if !strings.Contains(stderr.String(), c.want) {
			t.Fatalf("%v: %q does not say %q", c.args, stderr.String(), c.want)
		}
	}
	var stdout, stderr bytes.Buffer
	if code := run([]string{"--help"}, &stdout, &stderr); code != 0 || !strings.Contains(stdout.String(), "rpcmesh-devnet") {
		t.Fatalf("--help: exit %d, does not name the devnet command:\n%s", code, stdout.String())
	}
}
