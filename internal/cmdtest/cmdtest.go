// Package cmdtest runs a command's main as a real child process in its
// tests (the test binary re-executed), so that signal handling and exit
// codes are tested on a process as a user or a service manager runs it.
package cmdtest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// envArgs holds the child's arguments, as JSON, in the child's environment.
const envArgs = "RPCMESH_TEST_MAIN"

// Main is the body of a command's TestMain: in a child started by Command
// it runs the command's run function with the arguments given and exits
// with its code; otherwise it runs the tests.
func Main(m *testing.M, run func(args []string, stdout, stderr io.Writer) int) {
	if raw := os.Getenv(envArgs); raw != "" {
		var args []string
		if err := json.Unmarshal([]byte(raw), &args); err != nil {
			os.Exit(3)
		}
		os.Exit(run(args, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// Command is the command under test run with args, as a child process (the
// test binary, whose TestMain calls Main).
func Command(args ...string) *exec.Cmd {
	raw, _ := json.Marshal(args)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envArgs+"="+string(raw))
	return cmd
}

// Start starts Command(args...) with its output in two buffers; the test's
// cleanup kills it if it is still running.
func Start(t *testing.T, args ...string) (*exec.Cmd, *SyncBuffer, *SyncBuffer) {
	t.Helper()
	cmd := Command(args...)
	var stdout, stderr SyncBuffer
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

// SyncBuffer is a buffer a child process or another goroutine writes while
// the test reads it.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String is what was written so far.
func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// RPCCall posts a JSON-RPC call of method with no params to url, on a fresh
// connection, within 5 s.
func RPCCall(url, method string) (*http.Response, error) {
	body := `{"jsonrpc":"2.0","id":1,"method":"` + method + `","params":[]}`
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	return c.Post(url, "application/json", strings.NewReader(body))
}
