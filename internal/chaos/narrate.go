package chaos

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/devnet"
	"github.com/rpcmesh/rpcmesh/internal/server"
	"github.com/rpcmesh/rpcmesh/internal/status"
)

// probeEvery is how often the narrator asks the gateway for an answer to
// read its stale header from.
const probeEvery = 500 * time.Millisecond

// narrator prints what changes in the gateway's status: provider states,
// incidents opened and closed, the chain's staleness and readiness, and
// the X-Rpcmesh-Stale header on an answer; and whether an act's incident
// was reported.
type narrator struct {
	w      io.Writer
	env    *Env
	hc     *http.Client
	since  time.Time
	states map[string]status.ProviderState
	open   map[string]status.Incident // by id
	chain  map[string]string          // chain name → what it said last about staleness and readiness
	stale  string                     // the last stale header an answer carried
	probed time.Time
	// failed is how many client requests had failed at the last line
	// about them; failSaid when that line was said.
	tr       *Traffic
	failed   uint64
	failSaid time.Time

	want     []status.Kind // the act's expected incident kinds
	detected string        // how the act's incident was reported ("" not yet)

	opened, closed int
	kinds          []string
	byKind         map[string]int
}

func newNarrator(w io.Writer, env *Env, tr *Traffic) *narrator {
	return &narrator{w: w, env: env, tr: tr, hc: &http.Client{Timeout: 5 * time.Second},
		states: map[string]status.ProviderState{}, open: map[string]status.Incident{}, chain: map[string]string{}, byKind: map[string]int{}}
}

// say prints one line of narration, timed from the act's start.
func (n *narrator) say(format string, args ...any) {
	fmt.Fprintf(n.w, "%s   +%4.1fs %s\n", clock(), time.Since(n.since).Seconds(), fmt.Sprintf(format, args...))
}

// expect starts an act: kinds are the incidents it should bring.
func (n *narrator) expect(kinds []status.Kind) { n.want, n.detected = kinds, "" }

func (n *narrator) observe(ctx context.Context, snap status.Snapshot, say bool) {
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
	n.incidents(snap, say)
	n.failures(say)
	if say && time.Since(n.probed) >= probeEvery {
		n.probed = time.Now()
		if h, err := n.staleHeader(ctx); err == nil && h != n.stale {
			if h == "" {
				n.say("answers carry no %s again", server.StaleHeader)
			} else {
				n.say("an answer (eth_blockNumber) carries %s: %s", server.StaleHeader, h)
			}
			n.stale = h
		}
	}
}

// failures says when client requests failed, at most once a second: how
// many since the last line, and the latest, so that a failure can be set
// beside the incidents around it.
func (n *narrator) failures(say bool) {
	count, last := n.tr.Failed()
	if count == n.failed || (say && time.Since(n.failSaid) < time.Second) {
		return
	}
	if say {
		n.say("%d client request(s) failed, the latest: %s", count-n.failed, last)
		n.failSaid = time.Now()
	}
	n.failed = count
}

// incidents narrates incidents opened and closed, and notes the act's.
func (n *narrator) incidents(snap status.Snapshot, say bool) {
	now := map[string]status.Incident{}
	for _, inc := range snap.Incidents {
		if !inc.Open() {
			continue
		}
		now[inc.ID] = inc
		if _, was := n.open[inc.ID]; !was && say {
			n.say("incident %s opened (%s, impact %s): %s", inc.Kind, inc.Severity, inc.Impact, inc.Message)
			n.opened++
			k := string(inc.Kind)
			if n.byKind[k] == 0 {
				n.kinds = append(n.kinds, k)
			}
			n.byKind[k]++
		}
		if say && n.detected == "" && slices.Contains(n.want, inc.Kind) {
			n.detected = fmt.Sprintf("%s, %.1fs after the fault was staged", inc.Kind, time.Since(n.since).Seconds())
		}
	}
	for _, id := range slices.Sorted(maps.Keys(n.open)) {
		if _, still := now[id]; still || !say {
			continue
		}
		n.closed++
		inc := n.open[id]
		for _, e := range snap.Incidents {
			if e.ID == id {
				inc = e
			}
		}
		lasted := ""
		if !inc.End.IsZero() {
			lasted = fmt.Sprintf(" after %s", inc.End.Sub(inc.Start).Round(100*time.Millisecond))
		}
		n.say("incident %s closed%s: %s", inc.Kind, lasted, inc.Message)
	}
	n.open = now
}

// verdict says whether the act's incident was reported, and if not why.
func (n *narrator) verdict(act Act, faulty []string, bc Broadcasts) {
	switch {
	case len(act.Expect) == 0:
		fmt.Fprintf(n.w, "%s   no incident due: %s is an event, not a fault\n", clock(), act.Title)
	case n.detected != "":
		fmt.Fprintf(n.w, "%s   the gateway reported it: %s\n", clock(), n.detected)
	case slices.ContainsFunc(act.Faults, func(s Step) bool { return s.Kind == devnet.FaultCensor }) && censorNote(faulty, bc) != "":
		fmt.Fprintf(n.w, "%s   not reported: %s\n", clock(), censorNote(faulty, bc))
	default:
		fmt.Fprintf(n.w, "%s   NOT REPORTED: no %s incident within the act\n", clock(), kindList(act.Expect))
	}
}

// staleHeader asks the gateway for the block number and returns the
// stale header its answer carried ("" for none).
func (n *narrator) staleHeader(ctx context.Context) (string, error) {
	body := []byte(`{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":[]}`)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, n.env.HTTP, bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := n.hc.Do(req)
	if err != nil {
		return "", err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.Header.Get(server.StaleHeader), nil
}

// summary is the tally with the incidents narrated.
func (n *narrator) summary(t Tally) Summary {
	s := Summary{Tally: t, IncidentsOpened: n.opened, IncidentsClosed: n.closed}
	for _, k := range n.kinds {
		s.Kinds = append(s.Kinds, fmt.Sprintf("%s %d", k, n.byKind[k]))
	}
	return s
}
