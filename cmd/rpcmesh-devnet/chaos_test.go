package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/chaos"
	"github.com/rpcmesh/rpcmesh/internal/cmdtest"
)

func TestChaosAndDemoRejectBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"chaos", "--scenarios", "nonsense"},
		{"chaos", "extra"},
		{"chaos", "--log-level", "loud"},
		{"chaos", "--block-time", "1ms", "--scenarios", "down node2"},
		{"demo", "--hold-blocks", "0"},
		{"demo", "--log-level", "loud"},
		{"demo", "extra"},
	} {
		var stdout, stderr bytes.Buffer
		if code := run(args, &stdout, &stderr); code == 0 || stderr.Len() == 0 {
			t.Errorf("%v: exit %d, stderr %q; want an error with a message", args, code, stderr.String())
		}
	}
}

// TestChaosListsScenarios: --list names the scenarios --scenarios picks from.
func TestChaosListsScenarios(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run([]string{"chaos", "--short", "--list"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	var want []string
	for _, s := range chaos.Matrix(true) {
		want = append(want, s.Name)
	}
	if got := strings.TrimSpace(stdout.String()); got != strings.Join(want, "\n") {
		t.Fatalf("listed:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
}

// waitExit waits, at most limit, for a child to exit, and returns its error.
func waitExit(t *testing.T, wait func() error, limit time.Duration) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(limit):
		t.Fatalf("did not exit within %s", limit)
		return nil
	}
}

// TestChaosCommandWritesTableAndJSON runs `rpcmesh-devnet chaos` on one
// scenario as a process: it prints the table with the scenario's row,
// writes the JSON report with the command and the result, and exits 0.
func TestChaosCommandWritesTableAndJSON(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a devnet")
	}
	out := filepath.Join(t.TempDir(), "chaos.json")
	cmd, stdout, stderr := cmdtest.Start(t, "chaos", "--scenarios", "reorg all depth 1", "--json", out)
	if err := waitExit(t, cmd.Wait, 2*time.Minute); err != nil {
		t.Fatalf("exit: %v\nstdout: %s\nstderr: %s", err, stdout, stderr)
	}
	if !strings.Contains(stdout.String(), "scenario") || !strings.Contains(stdout.String(), "reorg all depth 1") {
		t.Fatalf("no table row:\n%s", stdout)
	}
	raw, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var rep chaos.Report
	if err := json.Unmarshal(raw, &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Scenarios) != 1 || rep.Scenarios[0].Name != "reorg all depth 1" || rep.Scenarios[0].Requests == 0 ||
		!strings.HasPrefix(rep.Command, "rpcmesh-devnet chaos --scenarios") || rep.Machine == "" {
		t.Fatalf("report incomplete: %s", raw)
	}
}

// TestDemoCommandNarratesTheTimeline runs `rpcmesh-devnet demo` with short
// acts as a process: it prints the status page URL, each act of the
// timeline as it happens, the incident the gateway reported for each act
// that is a fault (the cloud outage, the liar, the censor, the frozen
// head) with its message, the stale header an answer carried while the
// head stood, and the closing summary with the incidents opened and
// closed, and exits 0.
func TestDemoCommandNarratesTheTimeline(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a devnet")
	}
	cmd, stdout, stderr := cmdtest.Start(t, "demo", "--block-time", "250ms", "--hold-blocks", "4",
		"--gateway-listen", "127.0.0.1:0", "--gateway-admin", "", "--control", "")
	if err := waitExit(t, cmd.Wait, 4*time.Minute); err != nil {
		t.Fatalf("exit: %v\nstdout: %s\nstderr: %s", err, stdout, stderr)
	}
	text := stdout.String()
	acts := strings.Split(text, "▶ ")
	if len(acts) != len(chaos.Timeline())+1 {
		t.Fatalf("%d acts narrated, want %d:\n%s", len(acts)-1, len(chaos.Timeline()), text)
	}
	for i, a := range chaos.Timeline() {
		act := acts[i+1]
		wants := []string{strconv.Itoa(i+1) + "/5 " + a.Title + ": "}
		if len(a.Expect) > 0 {
			// The incident as the gateway reported it: its kind and message.
			wants = append(wants, "incident "+string(a.Expect[0])+" opened (", "the gateway reported it: "+string(a.Expect[0])+", ")
		} else {
			wants = append(wants, "no incident due: ")
		}
		if a.Title == "a frozen head" {
			wants = append(wants, "carries X-Rpcmesh-Stale: ", "chain devnet: answers may be stale: ")
		}
		for _, w := range wants {
			if !strings.Contains(act, w) {
				t.Errorf("act %d (%s) did not say %q:\n%s", i+1, a.Title, w, act)
			}
		}
		if strings.Contains(act, "NOT REPORTED") {
			t.Errorf("act %d (%s): its incident was not reported:\n%s", i+1, a.Title, act)
		}
	}
	for _, w := range []string{"status page  http://127.0.0.1:", "summary: ", "transactions mined", "incidents: "} {
		if !strings.Contains(text, w) {
			t.Errorf("the demo did not say %q:\n%s", w, text)
		}
	}
	if m := regexp.MustCompile(`incidents: (\d+) opened, (\d+) closed`).FindStringSubmatch(text); m == nil || m[1] == "0" || m[1] != m[2] {
		t.Errorf("the summary's incidents %q: want some opened, every one closed", m)
	}
	t.Log("\n" + text)
}
