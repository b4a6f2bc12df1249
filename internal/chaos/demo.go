package chaos

import (
	"context"
	"errors"
	"fmt"
	"io"
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
	// Expect are the incident kinds the gateway should report for it;
	// none for an event that is not a fault (a reorg).
	Expect []status.Kind
}

// Timeline is the demo's script: an AWS-wide outage, a lying provider, a
// censoring provider, a reorg and a frozen head (every node but one stops
// importing blocks). The censor is node1, the broadcast's first choice
// (the one provider of the best tier): only the first of a fan-out has a
// transaction alone, so only there can dropping it be told from honest
// gossip (docs/transactions.md).
func Timeline() []Act {
	return []Act{
		{"AWS-wide outage", "node1 and node2 (cloud aws: us-east-1, eu-west-1) refuse every connection",
			[]Step{{Target: "cloud=aws", Kind: devnet.FaultDown}}, []status.Kind{status.KindCloudOutage}},
		{"a lying provider", "node3 (nodeworks, gcp) tampers with balances, nonces, receipts, block hashes and numbers",
			[]Step{{Target: "node3", Kind: devnet.FaultLie}}, []status.Kind{status.KindVerification}},
		{"a censoring provider", "node1 (rpcmesh's own node, each transaction's first stop) acknowledges transactions and drops them",
			[]Step{{Target: "node1", Kind: devnet.FaultCensor}}, []status.Kind{status.KindCensorship}},
		{"a reorg", "the chain replaces its last 3 blocks on every node",
			[]Step{{Target: "all", Kind: devnet.FaultReorg, Params: `{"depth":3}`}}, nil},
		{"a frozen head", "node1 to node4 stop importing blocks; only node5 (openrpc, hetzner) follows the chain",
			[]Step{{Target: "node1", Kind: devnet.FaultLag}, {Target: "node2", Kind: devnet.FaultLag},
				{Target: "node3", Kind: devnet.FaultLag}, {Target: "node4", Kind: devnet.FaultLag}},
			[]status.Kind{status.KindHeadFrozen, status.KindChainHalted}},
	}
}

// DemoOptions shape the demo.
type DemoOptions struct {
	Traffic TrafficOptions
	// HoldBlocks is how many blocks each act lasts at least; default 15.
	HoldBlocks uint64
	// DetectWithin is how long an act is held at most, waiting for the
	// gateway to report its incident; default 20s.
	DetectWithin time.Duration
	// RecoverWithin bounds the wait for recovery after each act; default 60s.
	RecoverWithin time.Duration
}

// Summary is what the demo's closing summary says: what the traffic saw,
// and the incidents the gateway opened and closed.
type Summary struct {
	Tally
	IncidentsOpened int `json:"incidentsOpened"`
	IncidentsClosed int `json:"incidentsClosed"`
	// Kinds counts the incidents opened by kind, in the order first seen.
	Kinds []string `json:"kinds,omitempty"`
}

// Demo runs the timeline under steady checked traffic, narrating to w what
// is staged and what the gateway's status shows as it changes, and returns
// what the traffic saw and the incidents reported.
func Demo(ctx context.Context, env *Env, w io.Writer, o DemoOptions) (Summary, error) {
	if o.Traffic == (TrafficOptions{}) {
		o.Traffic = DefaultTraffic()
	}
	if o.HoldBlocks == 0 {
		o.HoldBlocks = 15
	}
	if o.DetectWithin == 0 {
		o.DetectWithin = 20 * time.Second
	}
	if o.RecoverWithin == 0 {
		o.RecoverWithin = time.Minute
	}
	tr, err := StartTraffic(ctx, env, o.Traffic, nil)
	if err != nil {
		return Summary{}, err
	}
	n := newNarrator(w, env, tr)
	n.observe(ctx, env.Source.Snapshot(), false)
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
			return n.summary(tr.Stop()), err
		}
		fmt.Fprintf(w, "\n%s ▶ %d/%d %s: %s\n", clock(), i+1, len(acts), act.Title, act.Says)
		n.since = time.Now()
		bc := tr.Broadcasts()
		n.expect(act.Expect)
		ids, err := stage(ctx, env.Devnet, act.Faults)
		if err != nil {
			fmt.Fprintf(w, "%s   could not stage it: %v\n", clock(), err)
			continue
		}
		from, _ := env.Devnet.Head()
		hctx, cancel := context.WithTimeout(ctx, time.Duration(3*o.HoldBlocks)*env.BlockTime+o.DetectWithin+30*time.Second)
		waitUntil(hctx, 100*time.Millisecond, func() bool {
			n.observe(hctx, env.Source.Snapshot(), true)
			head, _ := env.Devnet.Head()
			return head >= from+o.HoldBlocks && (n.detected != "" || len(act.Expect) == 0 || time.Since(n.since) > o.DetectWithin)
		})
		cancel()
		n.verdict(act, faulty, tr.Broadcasts().Since(bc))
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
			n.observe(rctx, snap, true)
			return notHealthy(snap) == ""
		})
		cancel()
		if ok {
			fmt.Fprintf(w, "%s   recovered in %s: every provider up, no incident open\n", clock(), time.Since(n.since).Round(100*time.Millisecond))
		} else {
			fmt.Fprintf(w, "%s   not recovered within %s: %s\n", clock(), o.RecoverWithin, notHealthy(env.Source.Snapshot()))
		}
		s := tr.Snapshot()
		fmt.Fprintf(w, "%s   so far: %d requests, %d failed, %d wrong, %d transactions mined, %d incidents opened, %d closed\n",
			clock(), s.Requests, s.Failures, s.Wrong, s.TxMined, n.opened, n.closed)
	}
	return n.summary(tr.Stop()), ctx.Err()
}

// WriteSummary writes the demo's closing summary.
func WriteSummary(w io.Writer, s Summary) {
	t := s.Tally
	fmt.Fprintf(w, "\nsummary: %d requests served, %d failed, %d wrong (checked against an honest node), "+
		"%d of %d transactions mined, %d heads received, p99 %.0f ms\n",
		t.Requests-t.Failures, t.Failures, t.Wrong, t.TxMined, t.TxSent, t.Heads, t.P99Ms)
	fmt.Fprintf(w, "incidents: %d opened, %d closed (%s)\n", s.IncidentsOpened, s.IncidentsClosed, orNone(strings.Join(s.Kinds, ", ")))
	for _, x := range t.WrongSamples {
		fmt.Fprintf(w, "  wrong:  %s\n", x)
	}
	for _, x := range t.FailureSamples {
		fmt.Fprintf(w, "  failed: %s\n", x)
	}
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
