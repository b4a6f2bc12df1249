package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestServeLoggerLimitsRepeats pushes the same WARN line as a chain with
// no agreed head logs it for every failed request: the output stays small.
func TestServeLoggerLimitsRepeats(t *testing.T) {
	for _, format := range []string{"text", "json"} {
		var out bytes.Buffer
		logger, err := serveLogger(&out, "info", format)
		if err != nil {
			t.Fatal(err)
		}
		for i := range 100_000 {
			logger.Warn("call failed", "chain", "eth", "err", "no provider available: chain eth has no agreed head yet", "request", i)
		}
		flushLogger(logger)
		lines := strings.Count(out.String(), "\n")
		if lines > 20 || out.Len() > 8<<10 {
			t.Fatalf("%s: %d lines, %d bytes for 100000 repeats; want at most 20 lines", format, lines, out.Len())
		}
		if !strings.Contains(out.String(), "repeated log lines suppressed") || !strings.Contains(out.String(), "99990") {
			t.Fatalf("%s: no count of the dropped lines:\n%s", format, out.String())
		}
	}
}

// syncBuffer is a buffer a child process writes while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestServeSurvivesSIGHUP runs `rpcmesh serve` as a process, as a service
// manager runs it, sends it SIGHUP by PID (a reload request): it keeps
// answering and says it ignored the signal; SIGTERM then drains and exits 0.
func TestServeSurvivesSIGHUP(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "rpcmesh.yaml")
	cfg := "server:\n  listen: 127.0.0.1:0\nadmin:\n  listen: 127.0.0.1:0\nchains:\n  - name: dev\n    chain_id: 1337\n" +
		"    providers:\n      - name: a\n        http: http://127.0.0.1:1\n        labels: { operator: alice }\n"
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	survivesSIGHUP(t, []string{"serve", "--config", cfgPath}, func(line string) (string, bool) {
		a, ok := strings.CutPrefix(line, "rpcmesh gateway on http://")
		if !ok {
			return "", false
		}
		return "http://" + strings.Fields(a)[0] + "/dev", true
	})
}

// survivesSIGHUP runs `rpcmesh args...` as a process and waits for the
// line of its stdout from which url gets the URL of a JSON-RPC endpoint of
// chain 1337, then sends the process SIGHUP by PID three times: it must go
// on answering eth_chainId there and say it ignored the signal; SIGTERM
// then stops it with exit status 0.
func survivesSIGHUP(t *testing.T, args []string, url func(line string) (string, bool)) {
	t.Helper()
	raw, _ := json.Marshal(args)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "RPCMESH_TEST_MAIN="+string(raw))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr syncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1) // the exit, once
	done := make(chan struct{})   // closed at exit
	t.Cleanup(func() {
		select {
		case <-done:
		default:
			_ = cmd.Process.Kill()
			<-done
		}
	})
	endpoints := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if u, ok := url(sc.Text()); ok {
				select {
				case endpoints <- u:
				default:
				}
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
		exited <- cmd.Wait()
		close(done)
	}()
	var endpoint string
	select {
	case endpoint = <-endpoints:
	case err := <-exited:
		t.Fatalf("%s exited before listening: %v\n%s", args[0], err, stderr.String())
	case <-time.After(20 * time.Second):
		t.Fatalf("%s not listening within 20s\n%s", args[0], stderr.String())
	}
	answers := func() bool {
		resp, err := rpcCall(endpoint, "eth_chainId")
		if err != nil {
			return false
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return strings.Contains(string(b), `"result":"0x539"`)
	}
	if !answers() {
		t.Fatalf("%s does not answer eth_chainId before SIGHUP\n%s", args[0], stderr.String())
	}

	for range 3 {
		if err := syscall.Kill(cmd.Process.Pid, syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
	}
	// Wait for the process to say it ignored the signal (or to die of it).
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for !strings.Contains(stderr.String(), "SIGHUP received and ignored") {
		select {
		case err := <-exited:
			t.Fatalf("%s died on SIGHUP: %v\n%s", args[0], err, stderr.String())
		case <-ctx.Done():
			t.Fatalf("no log line for SIGHUP within 10s\n%s", stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	if !answers() {
		t.Fatalf("%s stopped answering after SIGHUP\n%s", args[0], stderr.String())
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("%s did not stop within 20s of SIGTERM", args[0])
	}
}
