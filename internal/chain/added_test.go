package chain

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/config"
	"github.com/rpcmesh/rpcmesh/internal/fakenode"
	"github.com/rpcmesh/rpcmesh/internal/testwait"
)

// TestAddedProvidersSurviveRestart: a provider added at run time is added
// again after a restart on the same store, in the stage it had reached;
// one removed is not; and once the config names a provider of that name,
// the config's entry wins and the kept one is dropped.
func TestAddedProvidersSurviveRestart(t *testing.T) {
	dir := t.TempDir()
	var x *fakenode.Node
	// start runs a set of two config providers (n0, n1) on the store in
	// dir, with edit applied, until stop is called.
	start := func(edit func(*config.Config)) (c *Chain, stop func()) {
		t.Helper()
		s, fc, _ := testSet(t, 2, func(cfg *config.Config) {
			cfg.Broadcast.Store = filepath.Join(dir, "rpcmesh.db")
			if edit != nil {
				edit(cfg)
			}
		})
		if x == nil {
			x = fakenode.Start("x", fc)
			t.Cleanup(x.Close)
		}
		if err := s.Open(); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); s.Run(ctx) }()
		c = s.Chains()[0]
		testwait.For(t, 5*time.Second, "ready", func() bool { ok, _ := c.Ready(); return ok })
		return c, func() {
			t.Helper()
			cancel()
			<-done
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
		}
	}
	listed := func(c *Chain, name string) (stage, url string) {
		for _, e := range c.Providers() {
			if e.Name == name {
				return e.Stage, e.HTTP
			}
		}
		return "", ""
	}

	c, stop := start(nil)
	pc := config.DefaultProvider()
	pc.Name, pc.HTTP = "x", x.URL()
	pc.Labels = config.Labels{Operator: "op-x", Tier: "community"}
	if _, err := c.AddProvider(pc); err != nil {
		t.Fatal(err)
	}
	if _, err := c.SetStage("x", config.StageAdmitted, "test"); err != nil {
		t.Fatal(err)
	}
	_, url := listed(c, "x")
	stop()

	c, stop = start(nil)
	if stage, got := listed(c, "x"); stage != config.StageAdmitted || got != url {
		t.Fatalf("after a restart x is listed as %q at %q, want admitted at %q", stage, got, url)
	}
	testwait.For(t, 5*time.Second, "x health-checked after the restart", func() bool {
		p := c.router.Provider("x")
		return p != nil && p.Snapshot(time.Now()).HeadNumber > 0
	})
	if err := c.RemoveProvider(context.Background(), "x"); err != nil {
		t.Fatal(err)
	}
	stop()

	c, stop = start(nil)
	if stage, _ := listed(c, "x"); stage != "" {
		t.Errorf("x removed came back after a restart as %q", stage)
	}
	if _, err := c.AddProvider(pc); err != nil {
		t.Fatal(err)
	}
	stop()

	// The config now names x (another operator's there): its entry wins,
	// in the stage last recorded for x (a restart launders nothing), and
	// the kept one is gone for good.
	inConfig := func(cfg *config.Config) {
		p := pc
		p.Labels.Operator = "op-x-config"
		cfg.Chains[0].Providers = append(cfg.Chains[0].Providers, p)
	}
	c, stop = start(inConfig)
	if stage, _ := listed(c, "x"); stage != config.StageProbation {
		t.Errorf("x named by the config is listed as %q, want probation (as last recorded)", stage)
	}
	if p := c.router.Provider("x"); p == nil || p.Labels().Operator != "op-x-config" {
		t.Errorf("x is not the config's entry: %v", p)
	}
	if n := len(c.Providers()); n != 3 {
		t.Errorf("%d providers listed, want 3 (x once)", n)
	}
	stop()
	c, stop = start(nil)
	defer stop()
	if stage, _ := listed(c, "x"); stage != "" {
		t.Errorf("x's kept entry outlived the config that named it: listed as %q", stage)
	}
}
