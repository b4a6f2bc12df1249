package chain

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/config"
	"github.com/rpcmesh/rpcmesh/internal/fakenode"
	"github.com/rpcmesh/rpcmesh/internal/pipeline"
	"github.com/rpcmesh/rpcmesh/internal/testwait"
	"github.com/rpcmesh/rpcmesh/internal/verify"
)

// stageOf is the provider's stage as Providers lists it ("" when absent).
func stageOf(c *Chain, name string) string {
	for _, e := range c.Providers() {
		if e.Name == name {
			return e.Stage
		}
	}
	return ""
}

// TestRunTimeProvidersConcurrent adds and removes providers while calls
// run and the chain is read (run with -race): no call fails, and the
// chain's lists follow.
func TestRunTimeProvidersConcurrent(t *testing.T) {
	s, fc, _ := testSet(t, 2, func(c *config.Config) { c.Admission.CheckInterval = config.Duration(5 * time.Millisecond) })
	c := s.Chains()[0]
	if _, err := c.AddProvider(config.Provider{Name: "early", HTTP: "http://127.0.0.1:1"}); err == nil {
		t.Fatal("a provider was added before the chain runs")
	}
	run(t, s)
	testwait.For(t, 5*time.Second, "ready", func() bool { ok, _ := c.Ready(); return ok })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	var stop atomic.Bool
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			for !stop.Load() {
				if _, err := pipeline.Do(ctx, c.Handler(), pipeline.NewCall("eth_getBalance", []byte(`["0x0000000000000000000000000000000000000001","latest"]`))); err != nil {
					t.Errorf("call failed: %v", err)
					return
				}
				_ = c.Status(time.Now())
				_ = c.Public(time.Now())
				_ = c.Transitions(10)
			}
		})
	}
	for i := range 10 {
		name := fmt.Sprintf("x%d", i)
		node := fakenode.Start(name, fc)
		pc := config.DefaultProvider()
		pc.Name, pc.HTTP, pc.Stage = name, node.URL(), []string{config.StageProbation, config.StageCandidate}[i%2]
		if _, err := c.AddProvider(pc); err != nil {
			t.Fatal(err)
		}
		if got := stageOf(c, name); got != pc.Stage {
			t.Fatalf("%s listed as %q, want %s", name, got, pc.Stage)
		}
		testwait.For(t, 5*time.Second, name+" health-checked", func() bool { return node.Calls("eth_chainId") > 0 })
		if err := c.RemoveProvider(ctx, name); err != nil {
			t.Fatal(err)
		}
		node.Close()
		if stageOf(c, name) != "" {
			t.Fatalf("%s still listed after its removal", name)
		}
	}
	stop.Store(true)
	wg.Wait()
	if n := len(c.Providers()); n != 2 {
		t.Errorf("%d providers left, want 2", n)
	}
	if err := c.RemoveProvider(ctx, "n0"); err != nil {
		t.Fatal(err)
	}
	if err := c.RemoveProvider(ctx, "n1"); !errors.Is(err, ErrInvalid) {
		t.Errorf("removing the last admitted provider: %v, want refused", err)
	}
	if err := c.RemoveProvider(ctx, "n0"); !errors.Is(err, ErrUnknown) {
		t.Errorf("removing a provider twice: %v, want not found", err)
	}
}

// TestNoHeadVoteBeforeAdmission: a provider not admitted does not count
// towards the agreed head.
func TestNoHeadVoteBeforeAdmission(t *testing.T) {
	s, _, _ := testSet(t, 3, func(c *config.Config) { c.Chains[0].Providers[2].Stage = config.StageCandidate })
	c := s.Chains()[0]
	run(t, s)
	testwait.For(t, 5*time.Second, "ready", func() bool { ok, _ := c.Ready(); return ok })
	testwait.For(t, 5*time.Second, "the candidate's head known", func() bool {
		for _, p := range c.providers() {
			if h, _ := p.Head(); p.Name() == "n2" && h.Number > 0 {
				return true
			}
		}
		return false
	})
	if tr := c.Trust(); tr.Operators != 2 {
		t.Errorf("head agreed by %d operators, want 2: the candidate must not vote", tr.Operators)
	}
}

// TestStagesSurviveRestart: a provider demoted for a lie is still
// demoted after a restart, though the config says probation, and its
// transitions are listed again.
func TestStagesSurviveRestart(t *testing.T) {
	dir := t.TempDir()
	edit := func(c *config.Config) {
		c.Broadcast.Store = filepath.Join(dir, "rpcmesh.db")
		c.Admission.CheckInterval = config.Duration(5 * time.Millisecond)
		c.Chains[0].Providers[1].Stage = config.StageProbation
	}
	s, _, _ := testSet(t, 2, edit)
	if err := s.Open(); err != nil {
		t.Fatal(err)
	}
	c := s.Chains()[0]
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); s.Run(ctx) }()
	testwait.For(t, 5*time.Second, "n1 on probation", func() bool { return stageOf(c, "n1") == config.StageProbation })
	e := verify.NewEvidence("n1", "eth_getProof", []byte(`[]`), []byte(`{}`), fmt.Errorf("made up: %w", verify.ErrBadProof))
	e.Chain = "dev"
	s.evidence.Record(e)
	testwait.For(t, 5*time.Second, "n1 demoted", func() bool { return stageOf(c, "n1") == config.StageCandidate })
	cancel()
	<-done
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s, _, _ = testSet(t, 2, edit)
	if err := s.Open(); err != nil {
		t.Fatal(err)
	}
	run(t, s)
	c = s.Chains()[0]
	testwait.For(t, 5*time.Second, "n1's stage restored", func() bool { return stageOf(c, "n1") == config.StageCandidate })
	trs := c.Transitions(0)
	if len(trs) != 2 || trs[0].To != "candidate" || len(trs[0].Evidence) != 1 || trs[0].Evidence[0].Method != "eth_getProof" {
		t.Errorf("transitions after the restart %+v, want the demotion with its evidence, then joining", trs)
	}
}

// TestRunTimeProviderEverywhere: a provider added at run time is in the
// status, the public status, the open scores, the incident detector's
// observation while it serves (not as a candidate) and usage metering
// (with its own operator label); removed and added again, it takes back
// the penalty the store keeps.
func TestRunTimeProviderEverywhere(t *testing.T) {
	dir := t.TempDir()
	s, fc, _ := testSet(t, 2, func(cfg *config.Config) {
		cfg.Store = filepath.Join(dir, "gw.db")
		cfg.Usage.Enabled = true
		cfg.Usage.KeyFile = filepath.Join(dir, "usage.key")
	})
	if err := s.Open(); err != nil {
		t.Fatal(err)
	}
	run(t, s)
	c := s.Chains()[0]
	testwait.For(t, 5*time.Second, "ready", func() bool { ok, _ := c.Ready(); return ok })
	node := fakenode.Start("x", fc)
	defer node.Close()
	pc := config.DefaultProvider()
	pc.Name, pc.HTTP, pc.Stage = "x", node.URL(), config.StageProbation
	pc.Labels = config.Labels{Operator: "op-x", Tier: "community"}
	if _, err := c.AddProvider(pc); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	has := func(names []string) bool { return slices.Contains(names, "x") }
	var public, status, scores, observed []string
	for _, p := range c.Public(now).Providers {
		public = append(public, p.Name)
		if p.Name == "x" && p.Operator != "op-x" {
			t.Errorf("public status: x's operator %q", p.Operator)
		}
	}
	for _, p := range c.Status(now).Providers {
		status = append(status, p.Name)
	}
	for _, p := range c.Scores(now).Providers {
		scores = append(scores, p.Name)
	}
	for _, p := range c.observe(now).Providers {
		observed = append(observed, p.Name)
	}
	if !has(public) || !has(status) || !has(scores) || !has(observed) {
		t.Errorf("x missing: public %v, status %v, scores %v, incidents %v", public, status, scores, observed)
	}
	if op := c.operatorOf("x"); op != "op-x" {
		t.Errorf("metering's operator of x: %q, want op-x", op)
	}
	if _, err := c.SetStage("x", config.StageCandidate, "test"); err != nil {
		t.Fatal(err)
	}
	for _, p := range c.observe(time.Now()).Providers {
		if p.Name == "x" {
			t.Error("a candidate is observed for incidents: it serves nothing")
		}
	}

	c.router.Provider("x").Penalise("audit")
	if err := c.RemoveProvider(context.Background(), "x"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.AddProvider(pc); err != nil {
		t.Fatal(err)
	}
	if got := c.router.Provider("x").Penalties(); len(got) != 1 || got[0].Count != 1 {
		t.Errorf("x added again has penalties %+v, want its audit penalty back", got)
	}
}
