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
	// Expect are the incident kinds that count as detecting it; none for
	// an event that is not a fault (a whole-chain reorg).
	Expect []status.Kind `json:"expect,omitempty"`
}

// The parameters each kind is staged with in the matrix: strong enough to
// matter, within what real providers do.
var matrixParams = map[devnet.FaultKind]string{
	devnet.FaultSlow:      `{"latency":"1s","jitter":"200ms"}`,
	devnet.FaultError:     `{"rate":0.5}`,
	devnet.FaultRateLimit: `{"rps":2,"retryAfter":"1s"}`,
	devnet.FaultReorg:     `{"depth":2}`,
	devnet.FaultFlap:      `{"up":"1s","down":"1s"}`,
}

// expectFor is the incident kinds that detect a fault of kind on one provider.
var expectFor = map[devnet.FaultKind][]status.Kind{
	devnet.FaultDown:      {status.KindProviderDown},
	devnet.FaultHang:      {status.KindProviderDown, status.KindProviderDegraded},
	devnet.FaultSlow:      {status.KindProviderDegraded},
	devnet.FaultLag:       {status.KindProviderLagging},
	devnet.FaultError:     {status.KindProviderDown, status.KindProviderDegraded},
	devnet.FaultRateLimit: {status.KindProviderDegraded},
	devnet.FaultLie:       {status.KindVerification},
	devnet.FaultCensor:    {status.KindCensorship},
	devnet.FaultReorg:     {status.KindProviderForked},
	devnet.FaultFlap:      {status.KindProviderDown, status.KindProviderDegraded},
}

// step is kind on target with the matrix's parameters.
func step(kind devnet.FaultKind, target string) Step {
	return Step{Target: target, Kind: kind, Params: matrixParams[kind]}
}

// single is one kind on one node.
func single(kind devnet.FaultKind, node string) Scenario {
	return Scenario{Name: fmt.Sprintf("%s %s", kind, node), Faults: []Step{step(kind, node)}, Minority: true, Expect: expectFor[kind]}
}

// pair is two kinds on two nodes (a faulty minority of two of five).
func pair(a, b devnet.FaultKind) Scenario {
	return Scenario{
		Name:     fmt.Sprintf("%s node2 + %s node4", a, b),
		Faults:   []Step{step(a, "node2"), step(b, "node4")},
		Minority: true, Expect: union(expectFor[a], expectFor[b]),
	}
}

func union(a, b []status.Kind) []status.Kind {
	out := slices.Clone(a)
	for _, k := range b {
		if !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	return out
}

// outage is every node matching target down (or hung).
func outage(kind devnet.FaultKind, target string, expect status.Kind) Scenario {
	return Scenario{Name: fmt.Sprintf("%s %s", kind, target), Faults: []Step{step(kind, target)}, Minority: true,
		Expect: []status.Kind{expect, status.KindProviderDown}}
}

// chainReorg replaces the last depth blocks on every node.
func chainReorg(depth int) Scenario {
	return Scenario{Name: fmt.Sprintf("reorg all depth %d", depth), Minority: true,
		Faults: []Step{{Target: "all", Kind: devnet.FaultReorg, Params: fmt.Sprintf(`{"depth":%d}`, depth)}}}
}

// Matrix is the fault matrix on the default five-node devnet (labels
// devnet.DefaultLabels): each fault kind on one node, each pair of kinds
// on two nodes, whole-cloud and whole-region outages, and reorgs. The
// short form is a handful of them, for CI.
func Matrix(short bool) []Scenario {
	if short {
		return []Scenario{
			single(devnet.FaultDown, "node2"),
			single(devnet.FaultLie, "node3"),
			single(devnet.FaultCensor, "node4"),
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
