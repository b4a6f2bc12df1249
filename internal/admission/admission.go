// Package admission keeps the admission stage of each provider of a
// chain — candidate, probation, admitted — and decides its transitions:
// promotion after a period on probation with enough verified answers and
// no failure, demotion on a proven lie or on sustained failure. Every
// transition is recorded with its reason and evidence (Log). It decides;
// the chain applies its decisions to routing (docs/admission.md).
package admission

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/verify"
)

// Stage is a provider's admission stage.
type Stage string

// The stages, and Removed for a provider taken out through the admin API.
const (
	Candidate Stage = "candidate" // health checks only, no traffic
	Probation Stage = "probation" // a capped share of verified calls, no vote
	Admitted  Stage = "admitted"  // every call, quorum and head votes
	Removed   Stage = "removed"   // taken out of the chain
)

// Valid reports whether s names a stage a provider may be given.
func (s Stage) Valid() bool { return s == Candidate || s == Probation || s == Admitted }

// Policy is when a provider moves between stages (config.Admission).
type Policy struct {
	// PromoteAfter and PromoteAnswers: a provider on probation that long,
	// with that many answers verified and no failure, is admitted.
	PromoteAfter   time.Duration
	PromoteAnswers uint64
	// MinAvailability is the share of the checks over Window at which the
	// provider was up (usable and not degraded, see Check); below it the
	// provider is demoted to candidate.
	MinAvailability float64
	Window          time.Duration
	// DemoteAdmitted applies demotion to admitted providers too.
	DemoteAdmitted bool
}

// maxEvidence bounds the evidence records one transition links.
const maxEvidence = 5

// maxSamples bounds the availability samples kept per provider: at most
// one per Window/maxSamples.
const maxSamples = 256

// Tracker holds the stages of one chain's providers. Safe for concurrent use.
type Tracker struct {
	chain  string
	policy Policy
	log    *Log

	mu        sync.Mutex
	providers map[string]*entry
}

// entry is one provider's stage and what its next transition depends on.
type entry struct {
	stage    Stage
	since    time.Time
	verified uint64   // answers verified since it entered its stage
	samples  []sample // up or not over the availability window, oldest first
}

// sample is whether a provider was up at a check.
type sample struct {
	at time.Time
	up bool
}

// NewTracker returns the tracker of chain's providers; transitions go to
// log (nil: kept nowhere).
func NewTracker(chain string, p Policy, log *Log) *Tracker {
	return &Tracker{chain: chain, policy: p, log: log, providers: map[string]*entry{}}
}

// Join registers a provider in stage s. With restore set (a provider of
// the config at start), the stage last recorded for it wins over s, so
// that a restart does not launder a demoted provider. It returns the
// provider's stage and the transition recorded, if any.
func (t *Tracker) Join(name string, s Stage, reason string, restore bool, now time.Time) (Stage, *Transition) {
	from, since := Stage(""), now
	if restore {
		if last, ok := t.log.Last(t.chain, name); ok && last.To != Removed {
			s, from, since = last.To, last.To, last.Time
		}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.providers[name] = &entry{stage: s, since: since}
	if from == s || (from == "" && restore && s == Admitted) {
		return s, nil // restored, or admitted by the config as always
	}
	tr := t.record(Transition{Time: now, Provider: name, From: from, To: s, Reason: reason})
	return s, &tr
}

// Leave records that the provider was removed.
func (t *Tracker) Leave(name, reason string, now time.Time) Transition {
	t.mu.Lock()
	defer t.mu.Unlock()
	from := Stage("")
	if e := t.providers[name]; e != nil {
		from = e.stage
	}
	delete(t.providers, name)
	return t.record(Transition{Time: now, Provider: name, From: from, To: Removed, Reason: reason})
}

// Set moves the provider to stage s (an operator's decision); ok false
// when the provider is unknown.
func (t *Tracker) Set(name string, s Stage, reason string, now time.Time) (Transition, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.providers[name]
	if e == nil {
		return Transition{}, false
	}
	return t.move(name, e, s, reason, nil, now), true
}

// Stage is the provider's stage ("" when unknown).
func (t *Tracker) Stage(name string) Stage {
	t.mu.Lock()
	defer t.mu.Unlock()
	if e := t.providers[name]; e != nil {
		return e.stage
	}
	return ""
}

// Entry is a provider's stage as the admin listener lists it.
type Entry struct {
	Stage    Stage     `json:"stage"`
	Since    time.Time `json:"since"`
	Verified uint64    `json:"verifiedAnswers"` // since it entered its stage
}

// Entries are the providers' stages by name.
func (t *Tracker) Entries() map[string]Entry {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make(map[string]Entry, len(t.providers))
	for n, e := range t.providers {
		out[n] = Entry{Stage: e.stage, Since: e.since, Verified: e.verified}
	}
	return out
}

// Verified counts one answer of the provider verified by proof.
func (t *Tracker) Verified(name string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if e := t.providers[name]; e != nil {
		e.verified++
	}
}

// Lies demotes every provider of the chain that evidence shows lying
// (records of other chains are ignored), on probation, or admitted with
// DemoteAdmitted, linking up to five records each. It returns the
// transitions.
func (t *Tracker) Lies(evidence []verify.Evidence, now time.Time) []Transition {
	by := map[string][]verify.Evidence{}
	for _, r := range evidence {
		if r.Chain == t.chain {
			by[r.Provider] = append(by[r.Provider], r)
		}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []Transition
	for _, name := range slices.Sorted(maps.Keys(by)) {
		e := t.providers[name]
		if e == nil || !t.demotable(e.stage) {
			continue
		}
		refs := by[name][:min(len(by[name]), maxEvidence)]
		first := refs[0]
		reason := fmt.Sprintf("proven lie: its answer to %s failed verification (%s): %s", first.Method, orWord(first.Kind, "unverified"), first.Failure)
		out = append(out, t.move(name, e, Candidate, reason, refs, now))
	}
	return out
}

// Check records, for each provider named in up, whether it is up now
// (usable and not degraded: its breaker closed, its chain ID confirmed,
// its error rate low), and returns the transitions due at now: promotion
// of a provider on probation; demotion when it was up at fewer than
// MinAvailability of the checks over a whole window.
func (t *Tracker) Check(now time.Time, up map[string]bool) []Transition {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []Transition
	for _, name := range slices.Sorted(maps.Keys(t.providers)) {
		e := t.providers[name]
		isUp, ok := up[name]
		if !ok {
			continue
		}
		avail, measured := e.observe(now, isUp, t.policy)
		switch {
		case measured && avail < t.policy.MinAvailability && t.demotable(e.stage):
			out = append(out, t.move(name, e, Candidate, fmt.Sprintf("sustained failure: up at %.1f%% of the checks over %s, below %.1f%%",
				100*avail, t.policy.Window, 100*t.policy.MinAvailability), nil, now))
		case e.stage == Probation && now.Sub(e.since) >= t.policy.PromoteAfter && e.verified >= t.policy.PromoteAnswers &&
			(!measured || avail >= t.policy.MinAvailability):
			reason := fmt.Sprintf("probation passed: %d answers verified over %s, none failed", e.verified, now.Sub(e.since).Round(time.Second))
			if measured {
				reason += fmt.Sprintf(", up at %.1f%% of the checks", 100*avail)
			}
			out = append(out, t.move(name, e, Admitted, reason, nil, now))
		}
	}
	return out
}

// demotable reports whether a provider in stage s is demoted on a lie or
// sustained failure: on probation, or admitted with DemoteAdmitted unless
// it is the last admitted one (the chain could not serve without it).
// Called with mu held.
func (t *Tracker) demotable(s Stage) bool {
	if s != Admitted {
		return s == Probation
	}
	n := 0
	for _, e := range t.providers {
		if e.stage == Admitted {
			n++
		}
	}
	return t.policy.DemoteAdmitted && n > 1
}

// observe adds a sample and returns the share of the window's samples
// that were up, and whether the samples cover a whole window.
func (e *entry) observe(now time.Time, up bool, p Policy) (avail float64, measured bool) {
	if n := len(e.samples); n == 0 || now.Sub(e.samples[n-1].at) >= p.Window/maxSamples {
		e.samples = append(e.samples, sample{at: now, up: up})
	} else if !up {
		e.samples[n-1].up = false // one slot per Window/maxSamples: down if any check in it was
	}
	// Keep one sample at or before the window's start: it shows the
	// window is whole.
	start := now.Add(-p.Window)
	for len(e.samples) > 1 && !e.samples[1].at.After(start) {
		e.samples = e.samples[1:]
	}
	ups := 0
	for _, s := range e.samples {
		if s.up {
			ups++
		}
	}
	return float64(ups) / float64(len(e.samples)), !e.samples[0].at.After(start)
}

// move changes e's stage and records the transition. Called with mu held.
func (t *Tracker) move(name string, e *entry, to Stage, reason string, refs []verify.Evidence, now time.Time) Transition {
	tr := Transition{Time: now, Provider: name, From: e.stage, To: to, Reason: reason, Evidence: slices.Clone(refs)}
	e.stage, e.since, e.verified = to, now, 0
	return t.record(tr)
}

// record completes tr with the chain and writes it to the log.
func (t *Tracker) record(tr Transition) Transition {
	tr.Chain = t.chain
	return t.log.Add(tr)
}

// orWord is s, or w when s is empty.
func orWord(s, w string) string {
	if strings.TrimSpace(s) == "" {
		return w
	}
	return s
}
