package conformance

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/config"
	"github.com/rpcmesh/rpcmesh/internal/devnetgw"
)

var (
	reportPath = flag.String("conformance.report", "", "write every failure (request, answer, expected) to this file")
	onlyTests  = flag.String("conformance.tests", "", "run only the fixtures whose path matches this regexp")
	onlySetups = flag.String("conformance.setups", "", "run only the setups whose name matches this regexp")
)

const (
	fixturesDir = "testdata/execution-apis"
	knownFile   = "testdata/known-failures.txt"
	chainID     = 3503995874084926 // genesis.json
)

// setup is one way of serving the fixtures: straight from a node, or
// through a gateway in front of fresh nodes.
type setup struct {
	name    string
	nodes   int  // fresh nodes of distinct operators
	gateway bool // through rpcmesh
	verify  bool // verification on
}

var setups = []setup{
	{name: "baseline", nodes: 1},
	{name: "verify-off", nodes: 1, gateway: true},
	{name: "verify-on", nodes: 1, gateway: true, verify: true},
	{name: "three-operators", nodes: 3, gateway: true, verify: true},
}

// TestConformance runs the execution-apis fixtures in each setup, each on
// fresh nodes, and fails on a failure that known-failures.txt does not
// list and on a listed test that passes (the list only shrinks).
func TestConformance(t *testing.T) {
	if testing.Short() {
		t.Skip("starts go-ethereum nodes; skipped with -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 110*time.Second)
	defer cancel()
	fixtures, err := LoadFixtures(filepath.Join(fixturesDir, "tests"))
	if err != nil {
		t.Fatal(err)
	}
	schemas, err := LoadSchemas(filepath.Join(fixturesDir, "src"))
	if err != nil {
		t.Fatal(err)
	}
	known, err := LoadKnown(knownFile)
	if err != nil {
		t.Fatal(err)
	}
	checkKnownNames(t, known, fixtures)
	fixtures = matching(t, fixtures, *onlyTests, "-conformance.tests", func(f Fixture) string { return f.Path })
	chosen := matching(t, setups, *onlySetups, "-conformance.setups", func(s setup) string { return s.name })
	judge := &Judge{Schemas: schemas}

	// The KZG setup loads while the nodes start; fixtures wait for it.
	kzgReady := make(chan error, 1)
	go func() { kzgReady <- WarmKZG() }()
	kzg := sync.OnceValue(func() error {
		select {
		case err := <-kzgReady:
			return err
		case <-ctx.Done():
			return fmt.Errorf("kzg: %w", ctx.Err())
		}
	})

	results := make([][]Result, len(chosen))
	var wg sync.WaitGroup
	for i, s := range chosen {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := runSetup(ctx, s, fixtures, judge, kzg)
			if err != nil {
				t.Errorf("%s: %v", s.name, err)
				return
			}
			results[i] = res
		}()
	}
	wg.Wait()

	// Where the node itself fails a fixture, rpcmesh must still answer
	// exactly as the node does: drop-in means the node's answer, not the
	// fixture's.
	var baseline map[string]Result
	for i, s := range chosen {
		if !s.gateway && results[i] != nil {
			baseline = map[string]Result{}
			for _, r := range results[i] {
				baseline[r.Path] = r
			}
		}
	}
	var report strings.Builder
	for i, s := range chosen {
		if results[i] == nil {
			continue
		}
		passed := 0
		for _, r := range results[i] {
			if r.Took > time.Second {
				t.Logf("%s %s took %s", s.name, r.Path, r.Took.Round(time.Millisecond))
			}
			reason, listed := known[s.name][r.Path]
			switch {
			case r.Err == nil:
				passed++
				if listed && !known.Flaky(s.name, r.Path) {
					t.Errorf("%s %s passes: remove it from %s (%s)", s.name, r.Path, knownFile, reason)
				}
			case s.gateway && baseline[r.Path].Err != nil && bytes.Equal(r.Sent, baseline[r.Path].Sent):
				// Both failed at the same request: the gateway's answer must be the node's.
				node := Step{Request: r.Sent, Want: baseline[r.Path].Got}
				if err := judge.Check(false, node, r.Got); err != nil {
					t.Errorf("%s %s: the node fails this fixture, and rpcmesh answers differently from it: %v\n  got  %.300s\n  node %.300s", s.name, r.Path, err, r.Got, node.Want)
				}
				if !listed {
					t.Errorf("%s %s fails as the node does, but is not listed in %s", s.name, r.Path, knownFile)
				}
			case !listed:
				t.Errorf("%s %s fails: %v\n  sent %.300s\n  got  %.300s\n  want %.300s", s.name, r.Path, r.Err, r.Sent, r.Got, r.Want)
			}
			if r.Err != nil {
				fmt.Fprintf(&report, "== %s %s\n%v\n>> %s\n<< %s\nwant %s\n\n", s.name, r.Path, r.Err, r.Sent, r.Got, r.Want)
			}
		}
		fmt.Printf("conformance %s: %d of %d\n", s.name, passed, len(results[i]))
	}
	if *reportPath != "" {
		if err := os.WriteFile(*reportPath, []byte(report.String()), 0o644); err != nil {
			t.Error(err)
		}
	}
}

// checkKnownNames refuses entries for unknown setups or tests, so a renamed
// fixture cannot hide behind a stale line.
func checkKnownNames(t *testing.T, known Known, fixtures []Fixture) {
	t.Helper()
	paths := map[string]bool{}
	for _, f := range fixtures {
		paths[f.Path] = true
	}
	names := map[string]bool{}
	for _, s := range setups {
		names[s.name] = true
	}
	for cfg, tests := range known {
		if !names[cfg] {
			t.Errorf("%s: unknown configuration %q", knownFile, cfg)
		}
		for p := range tests {
			if !paths[p] {
				t.Errorf("%s: unknown test %q", knownFile, p)
			}
		}
	}
}

// runSetup starts the setup's fresh nodes (and gateway), runs every
// fixture in order and stops them.
func runSetup(ctx context.Context, s setup, fixtures []Fixture, j *Judge, ready func() error) ([]Result, error) {
	nodes := make([]*Node, s.nodes)
	defer func() {
		for _, n := range nodes {
			if n != nil {
				_ = n.Close()
			}
		}
	}()
	for i := range nodes {
		n, err := StartNode(ctx, fmt.Sprintf("%s-%d", s.name, i), filepath.Join(fixturesDir, "tests"))
		if err != nil {
			return nil, err
		}
		nodes[i] = n
	}
	url := nodes[0].URL()
	if s.gateway {
		cfg := gatewayConfig(s, nodes)
		gw, err := devnetgw.Start(ctx, cfg, devnetgw.SuiteLogger())
		if err != nil {
			return nil, err
		}
		defer devnetgw.Stop(gw)
		url = devnetgw.URL(gw)
	}
	if err := ready(); err != nil {
		return nil, err
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
	defer client.CloseIdleConnections()
	start := nodes[0].Head()
	res := Run(ctx, client, url, fixtures, j)
	// The nodes serve a fixed chain: a block made on the way (no consensus
	// client should make one) would change what later tests expect.
	for _, n := range nodes {
		if h := n.Head(); h != start {
			return nil, fmt.Errorf("node %s moved from block %d to %d during the run", n.Name(), start, h)
		}
	}
	return res, nil
}

// gatewayConfig is rpcmesh's default config in front of the setup's
// nodes, one operator each, every provider marked debug-capable as the
// nodes are. Only the listeners and the verify switch differ from the
// defaults: the conformance suite checks what a new user gets.
func gatewayConfig(s setup, nodes []*Node) *config.Config {
	cfg := config.Default()
	cfg.Server.Listen, cfg.Admin.Listen = "127.0.0.1:0", "127.0.0.1:0"
	cfg.Verify.Enabled = s.verify
	ch := config.DefaultChain()
	ch.Name, ch.ChainID = devnetgw.ChainName, chainID
	for i, n := range nodes {
		p := config.DefaultProvider()
		p.Name, p.HTTP, p.WS = fmt.Sprintf("node%d", i), n.URL(), n.WSURL()
		p.Labels = config.Labels{Operator: fmt.Sprintf("op%d", i), Cloud: fmt.Sprintf("cloud%d", i), Region: "local", Tier: "own"}
		p.Debug = true
		ch.Providers = append(ch.Providers, p)
	}
	cfg.Chains = []config.Chain{ch}
	cfg.Complete()
	return cfg
}

// matching is the items whose name matches the regular expression expr
// (all of them when expr is empty); a bad expr fails t, naming flag.
func matching[T any](t *testing.T, items []T, expr, flag string, name func(T) string) []T {
	t.Helper()
	if expr == "" {
		return items
	}
	re, err := regexp.Compile(expr)
	if err != nil {
		t.Fatalf("%s: %v", flag, err)
	}
	var out []T
	for _, it := range items {
		if re.MatchString(name(it)) {
			out = append(out, it)
		}
	}
	return out
}
