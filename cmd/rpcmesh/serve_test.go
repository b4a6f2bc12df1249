package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rpcmesh/rpcmesh/internal/cmdtest"
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
	cmdtest.SurvivesSIGHUP(t, []string{"serve", "--config", cfgPath}, func(line string) (string, bool) {
		a, ok := strings.CutPrefix(line, "rpcmesh gateway on http://")
		if !ok {
			return "", false
		}
		return "http://" + strings.Fields(a)[0] + "/dev", true
	})
}
