package clients

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/devnet"
	"github.com/rpcmesh/rpcmesh/internal/devnetgw"

	"github.com/rpcmesh/rpcmesh/internal/clientlibs"
)

var (
	dn      *devnet.Devnet
	control string // the devnet control API's URL
)

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(devnet.RunSuite("clients", testing.Short(), devnet.Options{Accounts: keysPerTarget * len(targets)}, nil, func(d *devnet.Devnet) int {
		srv := httptest.NewServer(d.ControlHandler(d.Info))
		defer srv.Close()
		dn, control = d, srv.URL
		return m.Run()
	}))
}

// target is one endpoint the Node tests run against, named as
// clients/known-failures.json names it.
type target struct {
	name string
	// providers is how many devnet nodes the gateway has as providers (0:
	// no gateway, the tests talk to node1 directly).
	providers int
	// ws gives the providers their WebSocket URLs.
	ws bool
}

// keysPerTarget is how many prefunded accounts each target's run sends
// from: its own, so that a transaction a failed test left pending never
// moves another target's nonces.
const keysPerTarget = 5

var targets = []target{
	{name: "node"},
	{name: "gateway-http-1", providers: 1},
	{name: "gateway-http-5", providers: 5},
	{name: "gateway-ws-1", providers: 1, ws: true},
	{name: "gateway-ws-5", providers: 5, ws: true},
}

// TestClientLibraries runs clients/tests (node --test) against each target
// in turn. A test clients/known-failures.json lists for a target must fail
// there (the Node side checks it); every other test must pass.
func TestClientLibraries(t *testing.T) {
	dir, nodeBin := clientlibs.Dir(t)
	known := knownFailures(t, dir)
	for i, tg := range targets {
		t.Run(tg.name, func(t *testing.T) {
			t.Cleanup(dn.ClearFaults)
			env := targetEnv(t, tg, dn.Info().Accounts[i*keysPerTarget:(i+1)*keysPerTarget])
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			out, err := runNode(ctx, dir, nodeBin, env)
			if err != nil {
				t.Fatalf("node --test against %s: %v\n%s", tg.name, err, out)
			}
			ran := testNames(out)
			for _, line := range strings.Split(out, "\n") {
				if tapResult.MatchString(line) || strings.Contains(line, "# known ") {
					t.Log(strings.TrimSpace(line))
				}
			}
			// An entry naming no test that ran would never be checked.
			for _, name := range known[tg.name] {
				if !slices.Contains(ran, name) {
					t.Errorf("known-failures.json lists %q for %s, but no such test ran (tests: %q)", name, tg.name, ran)
				}
			}
			t.Logf("%s: %d tests passed or failed as known-failures.json expects", tg.name, len(ran))
		})
	}
	for name := range known {
		if !slices.ContainsFunc(targets, func(tg target) bool { return tg.name == name }) {
			t.Errorf("known-failures.json names target %q, which the test does not run", name)
		}
	}
}

// knownFailures reads clients/known-failures.json ("target/test name" →
// why it fails, or {"reason", "intermittent"}) as target → test names.
func knownFailures(t *testing.T, dir string) map[string][]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "known-failures.json"))
	if err != nil {
		t.Fatal(err)
	}
	var list map[string]json.RawMessage
	if err := json.Unmarshal(b, &list); err != nil {
		t.Fatalf("clients/known-failures.json: %v", err)
	}
	out := map[string][]string{}
	for k := range list {
		tg, name, ok := strings.Cut(k, "/")
		if !ok {
			t.Fatalf("clients/known-failures.json: key %q is not \"target/test name\"", k)
		}
		var reason string
		var entry struct {
			Reason       string `json:"reason"`
			Intermittent bool   `json:"intermittent"`
		}
		if json.Unmarshal(list[k], &reason) != nil && (json.Unmarshal(list[k], &entry) != nil || entry.Reason == "") {
			t.Fatalf("clients/known-failures.json: %q: want a reason, or {\"reason\": ..., \"intermittent\": true}", k)
		}
		out[tg] = append(out[tg], name)
	}
	return out
}

// targetEnv starts what tg needs (a gateway, stopped at cleanup) and
// returns the environment the Node tests read (clients/README.md), with
// the keys of accounts.
func targetEnv(t *testing.T, tg target, accounts []devnet.Account) []string {
	t.Helper()
	info := dn.Info()
	direct, _ := dn.DirectURL("node1")
	keys := make([]string, len(accounts))
	for i, a := range accounts {
		keys[i] = a.PrivateKey
	}
	env := []string{
		"CLIENTS_TARGET=" + tg.name,
		"DEVNET_NODE_URL=" + direct,
		"DEVNET_CONTROL_URL=" + control,
		"DEVNET_KEYS=" + strings.Join(keys, ","),
	}
	var failover []string
	if tg.providers == 0 {
		// The faults hit the node proxies, which the direct URL bypasses:
		// against a node the failover test checks itself, not a takeover.
		for _, n := range info.Nodes[1:] {
			failover = append(failover, n.Name)
		}
		return append(env, "RPC_HTTP_URL="+direct, "RPC_WS_URL="+"ws"+strings.TrimPrefix(direct, "http"),
			"CLIENTS_FAILOVER="+strings.Join(failover, ","))
	}
	info.Nodes = slices.Clone(info.Nodes[:tg.providers])
	for i := range info.Nodes {
		if !tg.ws {
			info.Nodes[i].WS = ""
		}
		failover = append(failover, info.Nodes[i].Name)
	}
	if tg.providers == 1 {
		failover = nil // nothing can take over
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	gw, err := devnetgw.Start(ctx, devnetgw.Config(info, "127.0.0.1:0", ""), devnetgw.SuiteLogger())
	if err != nil {
		t.Fatalf("start gateway for %s: %v", tg.name, err)
	}
	t.Cleanup(func() { devnetgw.Stop(gw) })
	addr := gw.HTTPAddr() + "/" + devnetgw.ChainName
	return append(env, "RPC_HTTP_URL=http://"+addr, "RPC_WS_URL=ws://"+addr,
		"CLIENTS_FAILOVER="+strings.Join(failover, ","))
}

// runNode runs the Node tests one file at a time (they share the devnet's
// faults) and returns their TAP output.
func runNode(ctx context.Context, dir, nodeBin string, env []string) (string, error) {
	cmd := exec.CommandContext(ctx, nodeBin, "--test", "--test-concurrency=1", "--test-reporter=tap")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.WaitDelay = 5 * time.Second
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if ctx.Err() != nil {
		err = errors.Join(err, ctx.Err())
	}
	return out.String(), err
}

// tapResult matches a test's result line in node's TAP output; file-level
// lines carry a path and are left out.
var tapResult = regexp.MustCompile(`^\s*(?:not )?ok \d+ - (.+?)(?: # (?:SKIP|TODO).*)?$`)

// testNames lists the tests node reported on.
func testNames(out string) []string {
	var names []string
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		if m := tapResult.FindStringSubmatch(sc.Text()); m != nil && !strings.HasSuffix(m[1], ".mjs") {
			names = append(names, m[1])
		}
	}
	return names
}
