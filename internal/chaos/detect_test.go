package chaos

import (
	"strings"
	"testing"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/devnet"
	"github.com/rpcmesh/rpcmesh/internal/status"
)

// snap is a status with the providers' states and request counts, and
// the incidents.
func snap(states map[string]status.ProviderState, asked map[string]uint64, incs ...status.Incident) status.Snapshot {
	c := status.Chain{Name: "devnet"}
	for _, n := range []string{"node1", "node2", "node3", "node4", "node5"} {
		st := states[n]
		if st == "" {
			st = status.StateUp
		}
		c.Providers = append(c.Providers, status.Provider{Name: n, State: st, Requests: asked[n]})
	}
	return status.Snapshot{Chains: []status.Chain{c}, Incidents: incs}
}

func incident(id string, kind status.Kind, providers ...string) status.Incident {
	return status.Incident{ID: id, Kind: kind, Providers: providers, Message: "devnet: " + string(kind)}
}

// TestWatchMatchesIncidentsToFaults: a fault is detected only by an open
// incident of an expected kind that names one of its nodes; a fault that
// could not be detected says why (a liar asked nothing, a censor no
// transaction reached first, a whole-chain reorg, a pruned node), and one
// that could have been but was not is missed.
func TestWatchMatchesIncidentsToFaults(t *testing.T) {
	ended := incident("x", status.KindProviderDown, "node2")
	ended.End = time.Now()
	for _, c := range []struct {
		name     string
		sc       Scenario
		snaps    []status.Snapshot
		bc       Broadcasts // during the hold
		detected []status.Kind
		why      []string // per fault, what NotDetectable contains ("" none)
		missed   []bool
	}{
		{name: "down on its node", sc: single(devnet.FaultDown, "node2"),
			snaps:    []status.Snapshot{snap(map[string]status.ProviderState{"node2": status.StateDown}, nil, incident("1", status.KindProviderDown, "node2"))},
			detected: []status.Kind{status.KindProviderDown}, why: []string{""}, missed: []bool{false}},
		{name: "right kind, another node", sc: single(devnet.FaultDown, "node2"),
			snaps:    []status.Snapshot{snap(nil, nil, incident("1", status.KindProviderDown, "node3"))},
			detected: []status.Kind{""}, why: []string{""}, missed: []bool{true}},
		{name: "its node, a kind not expected", sc: single(devnet.FaultReorg, "node2"),
			snaps:    []status.Snapshot{snap(nil, nil, incident("1", status.KindProviderLagging, "node2"))},
			detected: []status.Kind{""}, why: []string{""}, missed: []bool{true}},
		{name: "an ended incident", sc: single(devnet.FaultDown, "node2"),
			snaps:    []status.Snapshot{snap(nil, nil, ended)},
			detected: []status.Kind{""}, why: []string{""}, missed: []bool{true}},
		{name: "cloud outage names both", sc: outage(devnet.FaultDown, "cloud=aws", status.KindCloudOutage),
			snaps:    []status.Snapshot{snap(nil, nil, incident("1", status.KindCloudOutage, "node1", "node2"))},
			detected: []status.Kind{status.KindCloudOutage}, why: []string{""}, missed: []bool{false}},
		{name: "pair: one detected, the censor reached by nothing first", sc: pair(devnet.FaultLag, devnet.FaultCensor),
			snaps:    []status.Snapshot{snap(nil, nil, incident("1", status.KindProviderLagging, "node2"))},
			bc:       Broadcasts{Sent: 3, First: map[string]uint64{"node1": 3}, Any: map[string]uint64{"node1": 3, "node3": 3, "node4": 3}},
			detected: []status.Kind{status.KindProviderLagging, ""}, why: []string{"", "no transaction was broadcast to node4 first (3 sent, first to node1 3); node4 had 3 later"},
			missed: []bool{false, false}},
		{name: "a censor sent a transaction first and not caught", sc: single(devnet.FaultCensor, "node1"),
			snaps: []status.Snapshot{snap(nil, nil)}, bc: Broadcasts{Sent: 1, First: map[string]uint64{"node1": 1}, Any: map[string]uint64{"node1": 1}},
			detected: []status.Kind{""}, why: []string{""}, missed: []bool{true}},
		{name: "a liar asked nothing", sc: single(devnet.FaultLie, "node5"),
			snaps:    []status.Snapshot{snap(nil, map[string]uint64{"node5": 7, "node1": 90})},
			detected: []status.Kind{""}, why: []string{"node5 was asked nothing while it lied"}, missed: []bool{false}},
		{name: "a liar asked and not caught", sc: single(devnet.FaultLie, "node2"),
			snaps:    []status.Snapshot{snap(nil, map[string]uint64{"node2": 9})},
			detected: []status.Kind{""}, why: []string{""}, missed: []bool{true}},
		{name: "a whole-chain reorg", sc: chainReorg(1), snaps: []status.Snapshot{snap(nil, nil)},
			detected: []status.Kind{""}, why: []string{"an event, not a fault"}, missed: []bool{false}},
		{name: "a pruned node", sc: single(devnet.FaultPrune, "node2"), snaps: []status.Snapshot{snap(nil, nil)},
			detected: []status.Kind{""}, why: []string{"not faulty"}, missed: []bool{false}},
	} {
		t.Run(c.name, func(t *testing.T) {
			at := Broadcasts{Sent: 10, First: map[string]uint64{"node1": 10}, Any: map[string]uint64{"node1": 10}}
			w := newWatch(info, c.sc.Faults, snap(nil, map[string]uint64{"node5": 7, "node1": 50, "node2": 3}), at, time.Now())
			for _, s := range c.snaps {
				w.observe(s)
			}
			now := Broadcasts{Sent: at.Sent + c.bc.Sent, First: map[string]uint64{}, Any: map[string]uint64{}}
			for n, v := range at.First {
				now.First[n] += v
				now.Any[n] += at.Any[n]
			}
			for n, v := range c.bc.First {
				now.First[n] += v
			}
			for n, v := range c.bc.Any {
				now.Any[n] += v
			}
			ds := w.finish(now)
			for i, d := range ds {
				if d.Kind != c.detected[i] || d.Missed() != c.missed[i] || d.Detected() != (c.detected[i] != "") {
					t.Errorf("%s: kind %q missed %v, want %q missed %v", d.Fault, d.Kind, d.Missed(), c.detected[i], c.missed[i])
				}
				if (c.why[i] == "") != (d.NotDetectable == "") || !strings.Contains(d.NotDetectable, c.why[i]) {
					t.Errorf("%s: not detectable %q, want %q", d.Fault, d.NotDetectable, c.why[i])
				}
			}
			if got := w.done(); got != !pending(ds) {
				t.Errorf("done %v with detections %+v", got, ds)
			}
		})
	}
}

// pending reports whether a fault due an incident
// has none.
func pending(ds []Detection) bool {
	for _, d := range ds {
		if len(d.Expect) > 0 && !d.Detected() {
			return true
		}
	}
	return false
}
