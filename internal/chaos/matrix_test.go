package chaos

import (
	"slices"
	"testing"

	"github.com/rpcmesh/rpcmesh/internal/devnet"
)

var info = func() devnet.Info {
	var in devnet.Info
	for i, l := range Labels {
		in.Nodes = append(in.Nodes, devnet.NodeInfo{Name: "node" + string(rune('1'+i)), Labels: l})
	}
	return in
}()

// TestMatrixLeavesAnHonestMajority: every scenario marked minority leaves
// at least three of the five default nodes honest, so the checks have a
// reference and the gateway a majority; the long form covers every kind,
// every pair of kinds, a cloud and a region outage, and reorgs.
func TestMatrixLeavesAnHonestMajority(t *testing.T) {
	for _, short := range []bool{true, false} {
		names := map[string]bool{}
		for _, sc := range Matrix(short) {
			if names[sc.Name] {
				t.Errorf("scenario %q twice", sc.Name)
			}
			names[sc.Name] = true
			bad := faultyNodes(info, sc)
			if sc.Minority && len(bad) > 2 {
				t.Errorf("%s: %v faulty, not a minority", sc.Name, bad)
			}
			for _, s := range sc.Faults {
				if len(nodesOf(info, s.Target)) == 0 {
					t.Errorf("%s: target %q names no node", sc.Name, s.Target)
				}
			}
		}
	}
	long := Matrix(false)
	n := len(devnet.FaultKinds)
	if want := n + 1 + n*(n-1)/2 + 5; len(long) != want {
		t.Errorf("long matrix has %d scenarios, want %d", len(long), want)
	}
	for _, k := range devnet.FaultKinds {
		if !slices.ContainsFunc(long, func(s Scenario) bool { return s.Name == string(k)+" node2" }) {
			t.Errorf("no single-node scenario for %s", k)
		}
	}
}

func TestNodesOf(t *testing.T) {
	for _, c := range []struct {
		target string
		want   []string
	}{
		{"node2", []string{"node2"}},
		{"cloud=aws", []string{"node1", "node2"}},
		{"region=us-east-1", []string{"node1", "node3"}},
		{"name=node5", []string{"node5"}},
		{"all", []string{"node1", "node2", "node3", "node4", "node5"}},
		{"cloud=azure", nil},
	} {
		if got := nodesOf(info, c.target); !slices.Equal(got, c.want) {
			t.Errorf("%s: %v, want %v", c.target, got, c.want)
		}
	}
	if got := faultyNodes(info, chainReorg(2)); len(got) != 0 {
		t.Errorf("a whole-chain reorg makes %v faulty, want none", got)
	}
}

func TestSelect(t *testing.T) {
	all := Matrix(false)
	for _, c := range []struct {
		filter string
		want   int
	}{
		{"", len(all)},
		{"down node2", 1}, // exact name: not the pairs that contain it
		{"cloud=aws", 2},  // a word: every scenario containing it
		{"down node2, reorg all depth 1", 2},
	} {
		got, err := Select(all, c.filter)
		if err != nil || len(got) != c.want {
			t.Errorf("%q: %d scenarios (%v), want %d", c.filter, len(got), err, c.want)
		}
	}
	if _, err := Select(all, "nonsense"); err == nil {
		t.Error("a filter matching nothing is not an error")
	}
}

func TestSameJSON(t *testing.T) {
	for _, c := range []struct {
		a, b string
		same bool
	}{
		{`{"a":1,"b":[1,2]}`, `{"b":[1,2],"a":1}`, true},
		{`"0x1"`, `"0x01"`, false},
		{`null`, `{"a":1}`, false},
		{`{"a":1}`, `{"a":1,"b":null}`, false},
	} {
		if got := sameJSON([]byte(c.a), []byte(c.b)); got != c.same {
			t.Errorf("%s vs %s: %v", c.a, c.b, got)
		}
	}
}
