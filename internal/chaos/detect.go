package chaos

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/devnet"
	"github.com/rpcmesh/rpcmesh/internal/status"
)

// Detection is how the gateway reported one fault of a scenario.
type Detection struct {
	Fault  string        `json:"fault"` // the step, e.g. "down node2"
	Expect []status.Kind `json:"expect,omitempty"`
	// IncidentMs is from staging the faults until the gateway reported an
	// open incident of an expected kind naming one of the fault's nodes
	// (-1: none while the fault was held); Kind and Message are that
	// incident's, as first reported.
	IncidentMs int64       `json:"incidentMs"`
	Kind       status.Kind `json:"kind,omitempty"`
	Message    string      `json:"message,omitempty"`
	// StateMs is from staging until one of the fault's nodes was in a
	// state other than up (-1: never); State is that state.
	StateMs int64                `json:"stateMs"`
	State   status.ProviderState `json:"state,omitempty"`
	// NotDetectable says why no incident was due or could be raised in
	// this run ("" when one was due and could be): a fault that is not
	// one, a liar asked nothing, a censor no transaction reached first.
	NotDetectable string `json:"notDetectable,omitempty"`
}

// Detected reports whether the fault's incident was seen.
func (d *Detection) Detected() bool { return d.IncidentMs >= 0 }

// Missed reports whether an incident was due and could have been raised,
// but was not seen.
func (d *Detection) Missed() bool { return !d.Detected() && d.NotDetectable == "" }

// watch follows, while a scenario's faults are held, what the gateway
// reports about each of them.
type watch struct {
	staged time.Time
	steps  []Step
	nodes  [][]string // per step, the nodes it touches
	det    []Detection
	// seen is every incident open while the faults were held, "kind:
	// message" as first reported, by id, in order.
	seen  map[string]bool
	order []string
	// asked is each provider's request count at staging: a liar asked
	// nothing could not be caught.
	asked map[string]uint64
	last  map[string]uint64
	// bcAt is the broadcast record at staging (see Traffic.Broadcasts).
	bcAt Broadcasts
}

func newWatch(info devnet.Info, steps []Step, snap status.Snapshot, bc Broadcasts, staged time.Time) *watch {
	w := &watch{staged: staged, steps: steps, seen: map[string]bool{}, asked: requests(snap), bcAt: bc}
	for _, s := range steps {
		w.nodes = append(w.nodes, nodesOf(info, s.Target))
		w.det = append(w.det, Detection{Fault: string(s.Kind) + " " + s.Target, Expect: s.Expect, IncidentMs: -1, StateMs: -1})
	}
	return w
}

// requests is each provider's request count.
func requests(snap status.Snapshot) map[string]uint64 {
	out := map[string]uint64{}
	for _, c := range snap.Chains {
		for _, p := range c.Providers {
			out[p.Name] = p.Requests
		}
	}
	return out
}

// observe takes one snapshot of the gateway's status.
func (w *watch) observe(snap status.Snapshot) {
	since := time.Since(w.staged).Milliseconds()
	w.last = requests(snap)
	for _, inc := range snap.Incidents {
		if !inc.Open() {
			continue
		}
		if !w.seen[inc.ID] {
			w.seen[inc.ID] = true
			w.order = append(w.order, string(inc.Kind)+": "+inc.Message)
		}
		for i := range w.det {
			d := &w.det[i]
			if !d.Detected() && slices.Contains(d.Expect, inc.Kind) && slices.ContainsFunc(inc.Providers, func(p string) bool { return slices.Contains(w.nodes[i], p) }) {
				d.IncidentMs, d.Kind, d.Message = since, inc.Kind, inc.Message
			}
		}
	}
	for _, c := range snap.Chains {
		for _, p := range c.Providers {
			for i := range w.det {
				if d := &w.det[i]; d.StateMs < 0 && p.State != status.StateUp && slices.Contains(w.nodes[i], p.Name) {
					d.StateMs, d.State = since, p.State
				}
			}
		}
	}
}

// done reports whether every fault that is due an incident has one.
func (w *watch) done() bool {
	for _, d := range w.det {
		if len(d.Expect) > 0 && !d.Detected() {
			return false
		}
	}
	return true
}

// finish says, for each fault not detected, why it could not be when
// that is so, from what the gateway was asked and where transactions
// went (bc: the broadcast record now), and returns the detections.
func (w *watch) finish(bc Broadcasts) []Detection {
	for i, s := range w.steps {
		d := &w.det[i]
		switch {
		case d.Detected():
		case len(s.Expect) == 0 && s.Kind == devnet.FaultReorg:
			d.NotDetectable = "a reorg of the whole chain is an event, not a fault: no incident is due"
		case len(s.Expect) == 0:
			d.NotDetectable = notAFault[s.Kind]
		case s.Kind == devnet.FaultLie:
			if asked := w.askedOf(w.nodes[i]); asked == 0 {
				d.NotDetectable = fmt.Sprintf("%s was asked nothing while it lied: no lie to catch", strings.Join(w.nodes[i], ", "))
			}
		case s.Kind == devnet.FaultCensor:
			d.NotDetectable = censorNote(w.nodes[i], bc.Since(w.bcAt))
		}
	}
	return w.det
}

func (w *watch) askedOf(nodes []string) uint64 {
	var n uint64
	for _, name := range nodes {
		n += w.last[name] - min(w.last[name], w.asked[name])
	}
	return n
}

// censorNote says why a censor was not caught, when no transaction was
// broadcast to it first: only the first of a broadcast's fan-out has a
// transaction alone, so that its pool check cannot be masked by the
// gossip of honest nodes (docs/transactions.md). "" when one was.
func censorNote(nodes []string, bc Broadcasts) string {
	var first, later uint64
	for _, n := range nodes {
		first += bc.First[n]
		later += bc.Any[n] - min(bc.Any[n], bc.First[n])
	}
	if first > 0 {
		return ""
	}
	var firsts []string
	for _, n := range slices.Sorted(maps.Keys(bc.First)) {
		firsts = append(firsts, fmt.Sprintf("%s %d", n, bc.First[n]))
	}
	who := strings.Join(nodes, ", ")
	return fmt.Sprintf("not detectable here: no transaction was broadcast to %s first (%d sent, first to %s); "+
		"%s had %d later in the fan-out, where gossip from honest nodes masks a censor (and did no harm)",
		who, bc.Sent, orNone(strings.Join(firsts, ", ")), who, later)
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// Broadcasts counts where the traffic's transactions were broadcast, as
// the gateway reports it (rpcmesh_transactionStatus).
type Broadcasts struct {
	Sent  uint64            `json:"sent"`
	First map[string]uint64 `json:"first,omitempty"` // provider → transactions it was sent first
	Any   map[string]uint64 `json:"any,omitempty"`   // provider → transactions it was sent at all
}

// Since is b less an earlier record.
func (b Broadcasts) Since(earlier Broadcasts) Broadcasts {
	out := Broadcasts{Sent: b.Sent - min(b.Sent, earlier.Sent), First: map[string]uint64{}, Any: map[string]uint64{}}
	for n, v := range b.First {
		if d := v - min(v, earlier.First[n]); d > 0 {
			out.First[n] = d
		}
	}
	for n, v := range b.Any {
		if d := v - min(v, earlier.Any[n]); d > 0 {
			out.Any[n] = d
		}
	}
	return out
}

// summarize sets the result's detection columns from the detections:
// the time until every fault due an incident had one (0 when none was
// due; -1 when one was missed, or none could be raised), and the first
// provider state other than up.
func (r *Result) summarize(ds []Detection, seen []string) {
	r.Detections, r.Incidents = ds, seen
	r.DetectMs, r.StateMs = 0, -1
	detected := false
	for _, d := range ds {
		detected = detected || d.Detected()
		if d.Detected() {
			r.DetectMs = max(r.DetectMs, d.IncidentMs)
		}
		if d.StateMs >= 0 && (r.StateMs < 0 || d.StateMs < r.StateMs) {
			r.StateMs, r.State = d.StateMs, d.State
		}
	}
	if r.Expected() && (!detected || slices.ContainsFunc(ds, func(d Detection) bool { return d.Missed() })) {
		r.DetectMs = -1
	}
}
