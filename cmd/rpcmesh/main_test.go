package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rpcmesh/rpcmesh/internal/cmdtest"
)

// TestMain lets a test run this binary's main as a child process, so
// signal handling is tested on a real process.
func TestMain(m *testing.M) { cmdtest.Main(m, run) }

// TestToolCommandsSayHowToGetThem asks the gateway for the devnet, the
// demo, the chaos matrix and the load generator, binaries of their own,
// with none of them beside it or on PATH: it names the command to run and
// fails, so a script stops with a message instead of running something else.
func TestToolCommandsSayHowToGetThem(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"devnet"}, "go run ./cmd/rpcmesh-devnet [flags]"},
		{[]string{"devnet", "--nodes", "1"}, "go run ./cmd/rpcmesh-devnet [flags]"},
		{[]string{"demo"}, "go run ./cmd/rpcmesh-devnet demo [flags]"},
		{[]string{"chaos", "--short"}, "go run ./cmd/rpcmesh-devnet chaos [flags]"},
		{[]string{"bench", "upstream"}, "go run ./cmd/rpcmesh-bench [flags]"},
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

// TestToolCommandsRunTheSibling runs rpcmesh demo, chaos and devnet as a
// process with an rpcmesh-devnet on PATH (a script that prints its
// arguments and exits 7): rpcmesh becomes it, passing the arguments
// through, and its exit status is rpcmesh's.
func TestToolCommandsRunTheSibling(t *testing.T) {
	dir := t.TempDir()
	script := "#!/bin/sh\necho \"rpcmesh-devnet $*\"\nexit 7\n"
	if err := os.WriteFile(filepath.Join(dir, "rpcmesh-devnet"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"demo", "--block-time", "1s"}, "rpcmesh-devnet demo --block-time 1s"},
		{[]string{"chaos", "--short", "--json", "out.json"}, "rpcmesh-devnet chaos --short --json out.json"},
		{[]string{"devnet", "--nodes", "1"}, "rpcmesh-devnet --nodes 1"},
	} {
		cmd := cmdtest.Command(c.args...)
		cmd.Env = append(cmd.Env, "PATH="+dir)
		out, err := cmd.Output()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 7 {
			t.Fatalf("%v: %v, want the sibling's exit status 7", c.args, err)
		}
		if strings.TrimSpace(string(out)) != c.want {
			t.Fatalf("%v: ran %q, want %q", c.args, out, c.want)
		}
	}
}

// TestToolCommandsPreferTheSiblingBesideRpcmesh runs a copy of rpcmesh
// with an rpcmesh-devnet beside it and another on PATH: the one beside it
// runs, as after make tools (bin/rpcmesh, bin/rpcmesh-devnet).
func TestToolCommandsPreferTheSiblingBesideRpcmesh(t *testing.T) {
	bin, onPath := t.TempDir(), t.TempDir()
	self, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	gateway := filepath.Join(bin, "rpcmesh")
	for path, body := range map[string][]byte{
		gateway:                                 self,
		filepath.Join(bin, "rpcmesh-devnet"):    []byte("#!/bin/sh\necho beside $*\n"),
		filepath.Join(onPath, "rpcmesh-devnet"): []byte("#!/bin/sh\necho on-path $*\n"),
	} {
		if err := os.WriteFile(path, body, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cmd := cmdtest.Command("chaos", "--short")
	cmd.Path, cmd.Args[0] = gateway, gateway
	cmd.Env = append(cmd.Env, "PATH="+onPath)
	out, err := cmd.Output()
	if err != nil || strings.TrimSpace(string(out)) != "beside chaos --short" {
		t.Fatalf("ran %q (%v), want the rpcmesh-devnet beside rpcmesh with chaos --short", out, err)
	}
}
