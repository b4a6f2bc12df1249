package chain

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/config"
	"github.com/rpcmesh/rpcmesh/internal/fakenode"
	"github.com/rpcmesh/rpcmesh/internal/testwait"
)

// TestPendingSourcesAreTheAdmitted: pending transaction hashes are taken
// from the admitted providers as they are now: not from one on probation
// or a candidate, from one added at run time once it is admitted, and no
// longer from one removed.
func TestPendingSourcesAreTheAdmitted(t *testing.T) {
	s, fc, _ := testSet(t, 2, func(c *config.Config) { c.Chains[0].Providers[1].Stage = config.StageProbation })
	run(t, s)
	c := s.Chains()[0]
	testwait.For(t, 5*time.Second, "ready", func() bool { ok, _ := c.Ready(); return ok })
	// Each source as "name ws", polled through its provider.
	names := func() []string {
		var out []string
		for _, src := range c.pendingSources() {
			if src.Poll == nil {
				t.Errorf("source %s is not polled through its provider", src.Name)
			}
			out = append(out, src.Name+" "+src.WS)
		}
		slices.Sort(out)
		return out
	}
	node := fakenode.Start("x", fc)
	t.Cleanup(node.Close)
	pc := config.DefaultProvider()
	pc.Name, pc.HTTP, pc.WS = "x", node.URL(), "ws://127.0.0.1:1/x"
	for _, st := range []struct {
		step string
		do   func() error
		want []string
	}{
		{"at start, n1 on probation", func() error { return nil }, []string{"n0 "}},
		{"x added on probation", func() error { _, err := c.AddProvider(pc); return err }, []string{"n0 "}},
		{"x admitted", func() error { _, err := c.SetStage("x", config.StageAdmitted, "test"); return err }, []string{"n0 ", "x " + pc.WS}},
		{"n0 a candidate", func() error { _, err := c.SetStage("n0", config.StageCandidate, "test"); return err }, []string{"x " + pc.WS}},
		{"n1 admitted, x removed", func() error {
			if _, err := c.SetStage("n1", config.StageAdmitted, "test"); err != nil {
				return err
			}
			return c.RemoveProvider(context.Background(), "x")
		}, []string{"n1 "}},
	} {
		if err := st.do(); err != nil {
			t.Fatalf("%s: %v", st.step, err)
		}
		if got := names(); !slices.Equal(got, st.want) {
			t.Errorf("%s: pending sources %v, want %v", st.step, got, st.want)
		}
	}
}
