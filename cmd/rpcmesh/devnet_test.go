package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/devnet"
)

// startChild runs `rpcmesh args...` as a child process.
func startChild(t *testing.T, args ...string) (*exec.Cmd, *bytes.Buffer, *bytes.Buffer) {
	t.Helper()
	raw, _ := json.Marshal(args)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "RPCMESH_TEST_MAIN="+string(raw))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_, _ = cmd.Process.Wait()
		}
	})
	return cmd, &stdout, &stderr
}

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

func rpcCall(url, method string) (*http.Response, error) {
	body := `{"jsonrpc":"2.0","id":1,"method":"` + method + `","params":[]}`
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	return c.Post(url, "application/json", strings.NewReader(body))
}

// TestDevnetCommandStartsAndStopsOnInterrupt runs `rpcmesh devnet` for real:
// five nodes must be serving within 15 s, and SIGINT must stop every one of
// them and exit cleanly.
func TestDevnetCommandStartsAndStopsOnInterrupt(t *testing.T) {
	out := filepath.Join(t.TempDir(), "devnet.json")
	start := time.Now()
	cmd, stdout, stderr := startChild(t, "devnet", "--gateway=false", "--control", "127.0.0.1:0", "--out", out)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	raw, err := waitFile(ctx, out)
	if err != nil {
		t.Fatalf("devnet not up within 15s: %v\nstdout: %s\nstderr: %s", err, stdout, stderr)
	}
	var info devnet.Info
	if err := json.Unmarshal(raw, &info); err != nil {
		t.Fatal(err)
	}
	if len(info.Nodes) != 5 || info.ChainID != 1337 || len(info.Accounts) == 0 || info.Control == "" {
		t.Fatalf("--out document incomplete: %s", raw)
	}
	for _, n := range info.Nodes {
		resp, err := rpcCall(n.HTTP, "eth_chainId")
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("%s not serving: %v", n.Name, err)
		}
		resp.Body.Close()
	}
	t.Logf("5 nodes serving %s after start", time.Since(start).Round(time.Millisecond))
	if !strings.Contains(stdout.String(), info.Accounts[0].PrivateKey) {
		t.Fatalf("account keys not printed:\n%s", stdout)
	}

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
	case <-time.After(15 * time.Second):
		t.Fatal("devnet did not stop within 15s of SIGINT")
	}
	for _, n := range append(info.Nodes, devnet.NodeInfo{Name: "control", HTTP: info.Control}) {
		if _, err := rpcCall(n.HTTP, "eth_chainId"); !errors.Is(err, syscall.ECONNREFUSED) {
			t.Fatalf("%s still reachable after exit: %v", n.Name, err)
		}
	}
}

// TestDevnetSurvivesSIGHUP runs `rpcmesh devnet` as a process, as a
// service manager or a closed terminal would, and sends it SIGHUP: its node
// keeps answering and it says it ignored the signal; SIGTERM then stops it
// with exit status 0. On b7e1cca SIGHUP killed it.
func TestDevnetSurvivesSIGHUP(t *testing.T) {
	survivesSIGHUP(t, []string{"devnet", "--nodes", "1", "--gateway=false", "--control", "127.0.0.1:0"}, func(line string) (string, bool) {
		f := strings.Fields(line)
		if len(f) < 2 || f[0] != "node1" {
			return "", false
		}
		return f[1], true
	})
}

func TestDevnetCommandRejectsBadFlags(t *testing.T) {
	cases := [][]string{
		{"devnet", "--nodes", "0"},
		{"devnet", "--block-time", "1ms"},
		{"devnet", "--log-level", "loud"},
		{"devnet", "extra"},
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
