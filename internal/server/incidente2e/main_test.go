// Package incidente2e tests incident detection against the devnet's real
// faults: one devnet and one gateway for the package, each fault staged,
// its incident awaited (and timed), cleared and its end awaited.
package incidente2e

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/config"
	"github.com/rpcmesh/rpcmesh/internal/devnet"
	"github.com/rpcmesh/rpcmesh/internal/devnetgw"
	"github.com/rpcmesh/rpcmesh/internal/server"
	"github.com/rpcmesh/rpcmesh/internal/status"
)

var (
	dn  *devnet.Devnet
	gw  *server.Gateway
	url string
)

// blockTime is the devnet's (devnetgw.RunSuiteWith).
const blockTime = 500 * time.Millisecond

// labels put node2 and node4 in one region on two clouds (a region
// outage), node1 and node2 on one cloud (a cloud outage), node2 and node3
// in one tier (capacity).
var labels = []devnet.Labels{
	{Operator: "rpcmesh", Cloud: "aws", Region: "us-east-1", Tier: "own"},
	{Operator: "blocklabs", Cloud: "aws", Region: "eu-west-1", Tier: "partner"},
	{Operator: "nodeworks", Cloud: "gcp", Region: "europe-west3", Tier: "partner"},
	{Operator: "homestakers", Cloud: "home", Region: "eu-west-1", Tier: "community"},
	{Operator: "openrpc", Cloud: "hetzner", Region: "fsn1", Tier: "public"},
}

func TestMain(m *testing.M) {
	flag.Parse()
	dir, err := os.MkdirTemp("", "incidente2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer os.RemoveAll(dir)
	code := devnetgw.RunSuiteWith("incident e2e", testing.Short(), devnet.Options{Labels: labels},
		func(ctx context.Context, d *devnet.Devnet) (*server.Gateway, error) {
			cfg := devnetgw.Config(d.Info(), "127.0.0.1:0", "")
			// Penalties fade fast, so that a caught provider is clean again
			// for the next test; shares are over a short window, so that
			// concentration shows within the test.
			cfg.Health.PenaltyHalfLife = config.Duration(3 * time.Second)
			cfg.Routing.ShareWindow = config.Duration(3 * time.Second)
			cfg.Store = filepath.Join(dir, "rpcmesh.db")
			cfg.Broadcast.WatchInterval = config.Duration(250 * time.Millisecond)
			cfg.Complete()
			return devnetgw.Start(ctx, cfg, devnetgw.SuiteLogger())
		},
		func(d *devnet.Devnet, g *server.Gateway) int {
			dn, gw, url = d, g, devnetgw.URL(g)
			// Balance reads of random accounts: routed attempts for the
			// shares, answers for the counters.
			return devnetgw.WithTraffic(url, 25*time.Millisecond, m.Run)
		})
	os.Exit(code)
}

var client = &http.Client{Timeout: 10 * time.Second}

// answer is one call's result and the gateway's headers.
type answer struct {
	result json.RawMessage
	err    json.RawMessage
	header http.Header
}

// call sends one JSON-RPC call through the gateway.
func call(ctx context.Context, method, params string) (answer, error) {
	return callAt(ctx, url, method, params)
}

// callAt sends one JSON-RPC call to url.
func callAt(ctx context.Context, url, method, params string) (answer, error) {
	a, err := devnetgw.Call(ctx, client, url, method, params)
	return answer{result: a.Result, err: a.Error, header: a.Header}, err
}

// admin fetches an admin path of the gateway.
func admin(path string) (int, string) { return adminOf(gw.AdminHandler(), path) }

// adminOf fetches path from an admin handler.
func adminOf(h http.Handler, path string) (int, string) {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	return rec.Code, rec.Body.String()
}

// calm waits until the block time is measured, every provider is up, no
// incident is open and answers are fresh: the start of every test.
func calm(ctx context.Context, t *testing.T) {
	t.Helper()
	devnetgw.WaitFor(ctx, t, gw, "a measured block time, every provider up and no incident open", func() bool {
		st := gw.Status()
		if st.Chains[0].BlockTimeMs == 0 {
			return false
		}
		for _, p := range st.Chains[0].Providers {
			if p.Health != status.StateUp {
				return false
			}
		}
		return st.Chains[0].Stale == "" && !slices.ContainsFunc(st.Incidents, func(i status.Incident) bool { return i.Open() })
	})
}

// stage stages kind with params on each target and returns a func that
// clears them (also run at cleanup).
func stage(t *testing.T, kind devnet.FaultKind, params string, targets ...string) func() {
	t.Helper()
	var clears []func()
	for _, target := range targets {
		clears = append(clears, dn.Stage(t, devnet.FaultSpec{Target: target, Kind: kind, Params: json.RawMessage(params)}))
	}
	return func() {
		for _, clear := range clears {
			clear()
		}
	}
}

// waitIncident waits for an incident of kind that started after since and
// names every provider of names; it returns it and how long it took.
func waitIncident(ctx context.Context, t *testing.T, kind status.Kind, since time.Time, names ...string) (status.Incident, time.Duration) {
	t.Helper()
	var found status.Incident
	devnetgw.WaitFor(ctx, t, gw, fmt.Sprintf("a %s incident naming %v", kind, names), func() bool {
		for _, inc := range gw.Status().Incidents {
			if inc.Kind == kind && inc.Open() && !inc.Start.Before(since.Add(-blockTime)) && containsAll(inc.Providers, names) {
				found = inc
				return true
			}
		}
		return false
	})
	return found, time.Since(since)
}

// waitEnded waits until the incident id ended; it returns it and how long
// after from it ended.
func waitEnded(ctx context.Context, t *testing.T, id string, from time.Time) (status.Incident, time.Duration) {
	t.Helper()
	var found status.Incident
	devnetgw.WaitFor(ctx, t, gw, "the end of "+id, func() bool {
		for _, inc := range gw.Status().Incidents {
			if inc.ID == id && !inc.Open() {
				found = inc
				return true
			}
		}
		return false
	})
	return found, time.Since(from)
}

func containsAll(have, want []string) bool {
	for _, w := range want {
		if !slices.Contains(have, w) {
			return false
		}
	}
	return true
}

// waitHealth waits until the gateway's /status shows provider in state
// want, and the status page's snapshot the same.
func waitHealth(ctx context.Context, t *testing.T, provider string, want status.ProviderState) {
	t.Helper()
	devnetgw.WaitFor(ctx, t, gw, provider+" "+string(want), func() bool {
		for _, p := range gw.Status().Chains[0].Providers {
			if p.Name == provider {
				return p.Health == want
			}
		}
		return false
	})
}
