package chaos

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/rpcmesh/rpcmesh/internal/devnet"
	"github.com/rpcmesh/rpcmesh/internal/status"
)

// Step is one fault a scenario stages.
type Step struct {
	Target string           `json:"target"` // node2, cloud=aws, region=us-east-1, all
	Kind   devnet.FaultKind `json:"kind"`
	Params string           `json:"params,omitempty"` // JSON; "" for the kind's defaults
	// Expect are the incident kinds that detect this fault, naming one of
	// its nodes; none for an event that is not a fault (a whole-chain
	// reorg).
	Expect []status.Kind `json:"expect,omitempty"`
}

func (s Step) String() string {
	if s.Params == "" {
		return fmt.Sprintf("%s %s", s.Kind, s.Target)
	}
	return fmt.Sprintf("%s %s %s", s.Kind, s.Target, s.Params)
}

// Spec is the devnet fault for the step.
func (s Step) Spec() devnet.FaultSpec {
	f := devnet.FaultSpec{Target: s.Target, Kind: s.Kind}
	if s.Params != "" {
		f.Params = json.RawMessage(s.Params)
	}
	return f
}

// Scenario is one row of the fault matrix.
type Scenario struct {
	Name   string `json:"name"`
	Faults []Step `json:"faults"`
	// Minority says the faults leave an honest majority of nodes (or, for
	// a whole-chain reorg, change no node's honesty): the gateway must
	// then give no wrong answer.
	Minority bool `json:"minority"`
}

// Expected reports whether any of the scenario's faults is to be detected
// (false for a whole-chain reorg: an event, not a fault).
func (sc Scenario) Expected() bool {
	return slices.ContainsFunc(sc.Faults, func(s Step) bool { return len(s.Expect) > 0 })
}

// The parameters each kind is staged with in the matrix: strong enough to
// matter, within what real providers do.
var matrixParams = map[devnet.FaultKind]string{
	devnet.FaultSlow:      `{"latency":"1s","jitter":"200ms"}`,
	devnet.FaultError:     `{"rate":0.5}`,
	devnet.FaultRateLimit: `{"rps":2,"retryAfter":"1s"}`,
	devnet.FaultReorg:     `{"depth":2}`,
	devnet.FaultFlap:      `{"up":"1s","down":"1s"}`,
	// Two states kept: the pinned reads, pinDepth deep, reach pruned state.
	devnet.FaultPrune: `{"keep":2}`,
}

// expectFor is the incident kinds that detect a fault of kind on one
// provider, as internal/incident derives them from its state
// (docs/incidents.md): a hung node is stalled, which is provider_down; a
// node answering only after a second is stalled now and then, and reports
// heads seconds old, so it is lagging (worse than degraded in the state
// order); half its answers failing trips its breaker (provider_down) or
// makes it degraded; a node held on a side branch is forked. One provider
// incident keeps the worst kind it had.
var expectFor = map[devnet.FaultKind][]status.Kind{
	devnet.FaultDown:      {status.KindProviderDown},
	devnet.FaultHang:      {status.KindProviderDown},
	devnet.FaultSlow:      {status.KindProviderDown, status.KindProviderLagging, status.KindProviderDegraded},
	devnet.FaultLag:       {status.KindProviderLagging},
	devnet.FaultError:     {status.KindProviderDown, status.KindProviderDegraded},
	devnet.FaultRateLimit: {status.KindProviderDegraded, status.KindProviderDown},
	devnet.FaultLie:       {status.KindVerification},
	devnet.FaultCensor:    {status.KindCensorship},
	devnet.FaultReorg:     {status.KindProviderForked},
	devnet.FaultFlap:      {status.KindProviderDown, status.KindProviderDegraded},
	// A pruned node is not faulty: it refuses old state plainly, as geth
	// does, and the gateway asks another provider; no incident is due.
	devnet.FaultPrune: nil,
}

// notAFault says why a kind is not to be detected.
var notAFault = map[devnet.FaultKind]string{
	devnet.FaultPrune: "a pruned node is not faulty (it refuses old state plainly, as geth does): no incident is due",
}

// step is kind on target with the matrix's parameters.
func step(kind devnet.FaultKind, target string) Step {
	return Step{Target: target, Kind: kind, Params: matrixParams[kind], Expect: expectFor[kind]}
}

// single is one kind on one node.
func single(kind devnet.FaultKind, node string) Scenario {
	return Scenario{Name: fmt.Sprintf("%s %s", kind, node), Faults: []Step{step(kind, node)}, Minority: true}
}

// pair is two kinds on two nodes (a faulty minority of two of five).
func pair(a, b devnet.FaultKind) Scenario {
	return Scenario{
		Name:     fmt.Sprintf("%s node2 + %s node4", a, b),
		Faults:   []Step{step(a, "node2"), step(b, "node4")},
		Minority: true,
	}
}

// outage is every node matching target (two of them) down or hung
// together: one correlated incident of kind expect, not one per node.
func outage(kind devnet.FaultKind, target string, expect status.Kind) Scenario {
	s := step(kind, target)
	s.Expect = []status.Kind{expect}
	return Scenario{Name: fmt.Sprintf("%s %s", kind, target), Faults: []Step{s}, Minority: true}
}

// chainReorg replaces the last depth blocks on every node.
func chainReorg(depth int) Scenario {
	return Scenario{Name: fmt.Sprintf("reorg all depth %d", depth), Minority: true,
		Faults: []Step{{Target: "all", Kind: devnet.FaultReorg, Params: fmt.Sprintf(`{"depth":%d}`, depth)}}}
}

// Labels are the chaos devnet's node labels: devnet.DefaultLabels but for
// node3, placed in us-east-1 beside node1 (on another cloud), so that a
// whole-region outage takes two providers of two clouds.
var Labels = func() []devnet.Labels {
	l := slices.Clone(devnet.DefaultLabels)
	l[2].Region = "us-east-1"
	return l
}()

// Matrix is the fault matrix on the five-node devnet (Labels): each fault
// kind on one node, each pair of kinds on two nodes, whole-cloud and
// whole-region outages, and reorgs. The short form is a handful of them,
// for CI. A censor is caught only when a transaction is broadcast to it
// first (docs/transactions.md): node1, the one provider of the best tier,
// always is; node2 and node4 rarely or never are, and say so.
func Matrix(short bool) []Scenario {
	if short {
		return []Scenario{
			single(devnet.FaultDown, "node2"),
			single(devnet.FaultLie, "node3"),
			single(devnet.FaultCensor, "node1"),
			pair(devnet.FaultHang, devnet.FaultLie),
			pair(devnet.FaultLag, devnet.FaultError),
			outage(devnet.FaultDown, "cloud=aws", status.KindCloudOutage),
			chainReorg(2),
		}
	}
	var out []Scenario
	for _, k := range devnet.FaultKinds {
		out = append(out, single(k, "node2"))
	}
	out = append(out, single(devnet.FaultCensor, "node1"))
	for i, a := range devnet.FaultKinds {
		for _, b := range devnet.FaultKinds[i+1:] {
			out = append(out, pair(a, b))
		}
	}
	out = append(out,
		outage(devnet.FaultDown, "cloud=aws", status.KindCloudOutage),
		outage(devnet.FaultHang, "cloud=aws", status.KindCloudOutage),
		outage(devnet.FaultDown, "region=us-east-1", status.KindRegionOutage),
		chainReorg(1), chainReorg(3),
	)
	return out
}

// Select keeps the scenarios named by filter's comma-separated words, in
// the matrix's order: a word equal to a scenario's name picks that one,
// any other word every scenario whose name contains it ("" keeps all).
func Select(all []Scenario, filter string) ([]Scenario, error) {
	if strings.TrimSpace(filter) == "" {
		return all, nil
	}
	var words []string
	for w := range strings.SplitSeq(filter, ",") {
		if w = strings.TrimSpace(w); w != "" {
			words = append(words, w)
		}
	}
	exact := func(w string) bool {
		return slices.ContainsFunc(all, func(s Scenario) bool { return s.Name == w })
	}
	var out []Scenario
	for _, s := range all {
		if slices.ContainsFunc(words, func(w string) bool {
			return s.Name == w || (!exact(w) && strings.Contains(s.Name, w))
		}) {
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no scenario matches %q", filter)
	}
	return out, nil
}

// nodesOf resolves a fault target to the devnet nodes it names, as the
// devnet does (a node name, label=value, or all).
func nodesOf(info devnet.Info, target string) []string {
	key, val, isLabel := strings.Cut(target, "=")
	var out []string
	for _, n := range info.Nodes {
		v, _ := n.Labels.Get(key)
		switch {
		case target == "all" || target == "*",
			!isLabel && n.Name == target,
			isLabel && key == "name" && n.Name == val,
			isLabel && v == val:
			out = append(out, n.Name)
		}
	}
	return out
}

// faultyNodes are the nodes a scenario's faults touch, but for a
// whole-chain reorg, which leaves every node honest.
func faultyNodes(info devnet.Info, sc Scenario) []string {
	var out []string
	for _, s := range sc.Faults {
		if s.Kind == devnet.FaultReorg && s.Target == "all" {
			continue
		}
		for _, n := range nodesOf(info, s.Target) {
			if !slices.Contains(out, n) {
				out = append(out, n)
			}
		}
	}
	return out
}
