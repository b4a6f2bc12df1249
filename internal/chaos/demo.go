package chaos

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/devnet"
	"github.com/rpcmesh/rpcmesh/internal/status"
)

// Act is one step of the demo's timeline.
type Act struct {
	Title  string
	Says   string // what is staged, in plain words
	Faults []Step
}

// Timeline is the demo's script: an AWS-wide outage, a lying provider, a
// censoring provider, a reorg and a frozen head (every node but one stops
// importing blocks).
func Timeline() []Act {
	return []Act{
		{"AWS-wide outage", "node1 and node2 (cloud aws: us-east-1, eu-west-1) refuse every connection",
			[]Step{{Target: "cloud=aws", Kind: devnet.FaultDown}}},
		{"a lying provider", "node3 (nodeworks, gcp) tampers with balances, nonces, receipts, block hashes and numbers",
			[]Step{{Target: "node3", Kind: devnet.FaultLie}}},
		{"a censoring provider", "node4 (homestakers) acknowledges transactions and drops them",
			[]Step{{Target: "node4", Kind: devnet.FaultCensor}}},
		{"a reorg", "the chain replaces its last 3 blocks on every node",
			[]Step{{Target: "all", Kind: devnet.FaultReorg, Params: `{"depth":3}`}}},
		{"a frozen head", "node1 to node4 stop importing blocks; only node5 (openrpc, hetzner) follows the chain",
			[]Step{{Target: "node1", Kind: devnet.FaultLag}, {Target: "node2", Kind: devnet.FaultLag},
				{Target: "node3", Kind: devnet.FaultLag}, {Target: "node4", Kind: devnet.FaultLag}}},
	}
}

// DemoOptions shape the demo.
type DemoOptions struct {
	Traffic TrafficOptions
	// HoldBlocks is how many blocks each act lasts; default 15.
	HoldBlocks uint64
	// RecoverWithin bounds the wait for recovery after each act; default 60s.
	RecoverWithin time.Duration
}

// Demo runs the timeline under steady checked traffic, narrating to w what
// is staged and what the gateway's status shows as it changes, and returns
// what the traffic saw.
func Demo(ctx context.Context, env *Env, w io.Writer, o DemoOptions) (Tally, error) {
	if o.Traffic == (TrafficOptions{}) {
		o.Traffic = DefaultTraffic()
	}
	if o.HoldBlocks == 0 {
		o.HoldBlocks = 15
	}
	if o.RecoverWithin == 0 {
		o.RecoverWithin = time.Minute
	}
	tr, err := StartTraffic(ctx, env, o.Traffic, nil)
	if err != nil {
		return Tally{}, err
	}
	n := &narrator{w: w, states: map[string]status.ProviderState{}, open: map[string]bool{}, chain: map[string]string{}}
	n.observe(env.Source.Snapshot(), false)
	fmt.Fprintf(w, "%s traffic: %d readers (plain and proven reads, a batch), 1 sender of signed transfers, 1 newHeads subscription;\n"+
		"         every answer checked against an honest node queried directly\n", clock(), o.Traffic.Readers)
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	tr.WaitCalls(wctx, 40)
	cancel()
	acts := Timeline()
	for i, act := range acts {
		if ctx.Err() != nil {
			break
		}
		faulty := faultyNodes(env.Devnet.Info(), Scenario{Faults: act.Faults})
		if err := tr.SetFaulty(faulty); err != nil {
			return tr.Stop(), err
		}
		fmt.Fprintf(w, "\n%s ▶ %d/%d %s: %s\n", clock(), i+1, len(acts), act.Title, act.Says)
		n.since = time.Now()
		ids, err := stage(ctx, env.Devnet, act.Faults)
		if err != nil {
			fmt.Fprintf(w, "%s   could not stage it: %v\n", clock(), err)
			continue
		}
		from, _ := env.Devnet.Head()
		hctx, cancel := context.WithTimeout(ctx, time.Duration(3*o.HoldBlocks)*env.BlockTime+30*time.Second)
		waitUntil(hctx, 100*time.Millisecond, func() bool {
			n.observe(env.Source.Snapshot(), true)
			head, _ := env.Devnet.Head()
			return head >= from+o.HoldBlocks
		})
		cancel()
		for _, id := range ids {
			if err := env.Devnet.ClearFault(id); err != nil && !errors.Is(err, devnet.ErrNoSuchFault) {
				fmt.Fprintf(w, "%s   could not clear it: %v\n", clock(), err)
			}
		}
		canon, _ := env.Devnet.Head()
		fmt.Fprintf(w, "%s   %s over (the gateway's agreed head %s, the chain's %d): faults cleared\n", clock(), act.Title, agreedHead(env.Source.Snapshot()), canon)
		if ctx.Err() != nil {
			break // stopped (Ctrl-C): the faults are cleared, the summary follows
		}
		n.since = time.Now()
		rctx, cancel := context.WithTimeout(ctx, o.RecoverWithin)
		ok := waitUntil(rctx, 100*time.Millisecond, func() bool {
			snap := env.Source.Snapshot()
			n.observe(snap, true)
			return notHealthy(snap) == ""
		})
		cancel()
		if ok {
			fmt.Fprintf(w, "%s   recovered in %s: every provider up, no incident open\n", clock(), time.Since(n.since).Round(100*time.Millisecond))
		} else {
			fmt.Fprintf(w, "%s   not recovered within %s: %s\n", clock(), o.RecoverWithin, notHealthy(env.Source.Snapshot()))
		}
		s := tr.Snapshot()
		fmt.Fprintf(w, "%s   so far: %d requests, %d failed, %d wrong, %d transactions mined\n", clock(), s.Requests, s.Failures, s.Wrong, s.TxMined)
	}
	return tr.Stop(), ctx.Err()
}

// WriteSummary writes the demo's closing summary.
func WriteSummary(w io.Writer, t Tally) {
	fmt.Fprintf(w, "\nsummary: %d requests served, %d failed, %d wrong (checked against an honest node), "+
		"%d of %d transactions mined, %d heads received, p99 %.0f ms\n",
		t.Requests-t.Failures, t.Failures, t.Wrong, t.TxMined, t.TxSent, t.Heads, t.P99Ms)
	for _, s := range t.WrongSamples {
		fmt.Fprintf(w, "  wrong:  %s\n", s)
	}
	for _, s := range t.FailureSamples {
		fmt.Fprintf(w, "  failed: %s\n", s)
	}
}

// narrator prints what changes in the gateway's status: provider states
// and incidents opened and closed.
type narrator struct {
	w      io.Writer
	since  time.Time
	states map[string]status.ProviderState
	open   map[string]bool
	chain  map[string]string // chain name → what it said last about staleness and readiness
}

// say prints one line of narration, timed from the act's start.
func (n *narrator) say(format string, args ...any) {
	fmt.Fprintf(n.w, "%s   +%4.1fs %s\n", clock(), time.Since(n.since).Seconds(), fmt.Sprintf(format, args...))
}

func (n *narrator) observe(snap status.Snapshot, say bool) {
	for _, c := range snap.Chains {
		health := ""
		if c.Stale != "" {
			health = "answers may be stale: " + c.Stale
		}
		if !c.Ready {
			health = strings.TrimPrefix(health+"; not ready: "+c.NotReady, "; ")
		}
		if n.chain[c.Name] != health && say {
			if health == "" {
				n.say("chain %s: answers fresh again", c.Name)
			} else {
				n.say("chain %s: %s", c.Name, health)
			}
		}
		n.chain[c.Name] = health
		for _, p := range c.Providers {
			if n.states[p.Name] != p.State && say {
				reason := ""
				if p.Reason != "" {
					reason = " (" + p.Reason + ")"
				}
				n.say("%s is %s%s", p.Name, p.State, reason)
			}
			n.states[p.Name] = p.State
		}
	}
	seen := map[string]bool{}
	for _, inc := range snap.Incidents {
		if !inc.Open() {
			continue
		}
		seen[inc.ID] = true
		if !n.open[inc.ID] && say {
			n.say("incident %s (%s): %s", inc.Kind, inc.Severity, inc.Message)
		}
	}
	for _, id := range slices.Sorted(maps.Keys(n.open)) {
		if !seen[id] && say {
			n.say("incident %s closed", id)
		}
	}
	n.open = seen
}

// agreedHead is the first chain's agreed head, in words.
func agreedHead(snap status.Snapshot) string {
	if len(snap.Chains) == 0 || snap.Chains[0].Head == 0 {
		return "none"
	}
	c := snap.Chains[0]
	return fmt.Sprintf("%d, %.1fs old", c.Head, float64(c.HeadAgeMs)/1000)
}

// clock is the time of day, UTC, for narration.
func clock() string { return time.Now().UTC().Format("15:04:05") }
