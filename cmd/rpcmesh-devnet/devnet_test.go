package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/cmdtest"
	"github.com/rpcmesh/rpcmesh/internal/devnet"
)

// TestMain lets a test run this binary's main as a child process, so
// signal handling is tested on a real process.
func TestMain(m *testing.M) { cmdtest.Main(m, run) }

func waitFile(ctx context.Context, path string) ([]byte, error) {
	for {
		if b, err := os.ReadFile(path); err == nil && len(b) > 0 && json.Valid(b) {
			return b, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// waitInfo waits, at most within, for the devnet's --out document at path
// and returns it decoded and as written; a devnet not up by then fails the
// test with its output.
func waitInfo(t *testing.T, path string, within time.Duration, stdout, stderr fmt.Stringer) (devnet.Info, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	raw, err := waitFile(ctx, path)
	if err != nil {
		t.Fatalf("devnet not up within %s: %v\nstdout: %s\nstderr: %s", within, err, stdout, stderr)
	}
	var info devnet.Info
	if err := json.Unmarshal(raw, &info); err != nil {
		t.Fatal(err)
	}
	return info, raw
}

// TestDevnetCommandStartsAndStopsOnInterrupt runs `rpcmesh-devnet` for real:
// five nodes must be serving within 15 s, and SIGINT must stop every one of
// them and exit cleanly.
func TestDevnetCommandStartsAndStopsOnInterrupt(t *testing.T) {
	out := filepath.Join(t.TempDir(), "devnet.json")
	start := time.Now()
	cmd, stdout, stderr := cmdtest.Start(t, "--gateway=false", "--control", "127.0.0.1:0", "--out", out)
	info, raw := waitInfo(t, out, 15*time.Second, stdout, stderr)
	if len(info.Nodes) != 5 || info.ChainID != 1337 || len(info.Accounts) == 0 || info.Control == "" {
		t.Fatalf("--out document incomplete: %s", raw)
	}
	for _, n := range info.Nodes {
		resp, err := cmdtest.RPCCall(n.HTTP, "eth_chainId")
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("%s not serving: %v", n.Name, err)
		}
		resp.Body.Close()
	}
	t.Logf("5 nodes serving %s after start", time.Since(start).Round(time.Millisecond))
	if !strings.Contains(stdout.String(), info.Accounts[0].PrivateKey) {
		t.Fatalf("account keys not printed:\n%s", stdout)
	}

	stopBySIGINT(t, cmd, stderr, 15*time.Second)
	for _, n := range append(info.Nodes, devnet.NodeInfo{Name: "control", HTTP: info.Control}) {
		if _, err := cmdtest.RPCCall(n.HTTP, "eth_chainId"); !errors.Is(err, syscall.ECONNREFUSED) {
			t.Fatalf("%s still reachable after exit: %v", n.Name, err)
		}
	}
}

// TestDevnetSurvivesSIGHUP runs `rpcmesh-devnet` as a process, as a
// service manager or a closed terminal would, and sends it SIGHUP: its node
// keeps answering and it says it ignored the signal; SIGTERM then stops it
// with exit status 0. On b7e1cca SIGHUP killed it.
func TestDevnetSurvivesSIGHUP(t *testing.T) {
	cmdtest.SurvivesSIGHUP(t, []string{"--nodes", "1", "--gateway=false", "--control", "127.0.0.1:0"}, func(line string) (string, bool) {
		f := strings.Fields(line)
		if len(f) < 2 || f[0] != "node1" {
			return "", false
		}
		return f[1], true
	})
}

func TestDevnetCommandRejectsBadFlags(t *testing.T) {
	cases := [][]string{
		{"--nodes", "0"},
		{"--block-time", "1ms"},
		{"--log-level", "loud"},
		{"extra"},
	}
	for _, args := range cases {
		var stdout, stderr bytes.Buffer
		if code := run(args, &stdout, &stderr); code == 0 {
			t.Fatalf("%v: exit 0, want an error", args)
		} else if stderr.Len() == 0 {
			t.Fatalf("%v: no message", args)
		}
	}
}

// TestDevnetCommandServesThroughTheGateway runs `rpcmesh-devnet` with its
// gateway (the default) on free ports: the gateway URL it writes to --out
// answers eth_chainId with the devnet's chain and eth_blockNumber, as the
// README's first command promises.
func TestDevnetCommandServesThroughTheGateway(t *testing.T) {
	out := filepath.Join(t.TempDir(), "devnet.json")
	cmd, stdout, stderr := cmdtest.Start(t, "--nodes", "1", "--control", "127.0.0.1:0",
		"--gateway-listen", "127.0.0.1:0", "--gateway-admin", "127.0.0.1:0", "--out", out)
	info, raw := waitInfo(t, out, 30*time.Second, stdout, stderr)
	if info.Gateway == nil || !strings.HasSuffix(info.Gateway.HTTP, "/devnet") {
		t.Fatalf("--out has no gateway URL: %s", raw)
	}
	if !strings.Contains(stdout.String(), info.Gateway.HTTP) {
		t.Fatalf("gateway URL not printed:\n%s", stdout)
	}
	for method, want := range map[string]string{"eth_chainId": `"result":"0x539"`, "eth_blockNumber": `"result":"0x`} {
		resp, err := cmdtest.RPCCall(info.Gateway.HTTP, method)
		if err != nil {
			t.Fatalf("%s through the gateway: %v", method, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(body), want) {
			t.Fatalf("%s through the gateway: %s, want %s", method, body, want)
		}
	}
	stopBySIGINT(t, cmd, stderr, 20*time.Second)
}

// stopBySIGINT sends the devnet SIGINT and waits, at most limit, for it to
// exit cleanly.
func stopBySIGINT(t *testing.T, cmd *exec.Cmd, stderr fmt.Stringer, limit time.Duration) {
	t.Helper()
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit after SIGINT: %v\nstderr: %s", err, stderr)
		}
	case <-time.After(limit):
		t.Fatalf("devnet did not stop within %s of SIGINT", limit)
	}
}

// TestPrintDevnetNamesStatusPage: the summary names the status page at
// the gateway's root, beside the chain's URL.
func TestPrintDevnetNamesStatusPage(t *testing.T) {
	var b bytes.Buffer
	printDevnet(&b, devnet.Info{ChainID: 1337, Gateway: &devnet.GatewayInfo{HTTP: "http://127.0.0.1:8545/devnet",
		WS: "ws://127.0.0.1:8545/devnet", Admin: "http://127.0.0.1:9545"}}, time.Second)
	if !strings.Contains(b.String(), "status    http://127.0.0.1:8545/   ") {
		t.Fatalf("no status page line:\n%s", b.String())
	}
}
