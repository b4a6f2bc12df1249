package incident

import (
	"context"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/status"
	"github.com/rpcmesh/rpcmesh/internal/store"
)

// Options tune a Detector. Zero durations and counts take the defaults
// noted.
type Options struct {
	// OpenAfter is how long a condition must hold before it is an incident
	// (default 1s); CloseAfter how long it must be clear before the
	// incident ends (default 2s). A fault that flaps faster stays one
	// incident.
	OpenAfter, CloseAfter time.Duration
	// Keep is how many ended incidents are kept (default 100).
	Keep int
	// FrozenBlocks is how many block times the agreed head may stand
	// before it counts as frozen (or the chain as halted); default 2.
	FrozenBlocks float64
	// SlowAfter is the slow-answer threshold, for the messages.
	SlowAfter time.Duration
	// Now is the clock (time.Now when nil); tests set it.
	Now func() time.Time
	// Store keeps incidents across restarts (nil: memory only).
	Store *store.DB
	// Logger gets a line per incident opened, updated and closed.
	Logger *slog.Logger
}

// Bucket is the store bucket incidents are kept in.
const Bucket = "incidents"

// maxUpdates bounds an incident's updates: a fault whose affected set
// keeps changing must not grow its record without end.
const maxUpdates = 50

// subscriberQueue is how many events a subscriber may fall behind by
// before it loses events.
const subscriberQueue = 64

// Detector turns observations into incidents. It is safe for concurrent
// use.
type Detector struct {
	opt Options

	mu     sync.Mutex
	tracks map[string]*track // by condition key
	ended  []status.Incident // newest first, at most opt.Keep
	subs   map[chan status.Event]struct{}
}

// track is one condition over time: pending until it held for OpenAfter,
// then an open incident until it was clear for CloseAfter.
type track struct {
	key, chain string
	cond       condition
	since      time.Time // when the condition was first seen in this spell
	clearSince time.Time // when it was last seen gone (zero while it holds)
	inc        *status.Incident
	base       status.Answers // the chain's answers when it started
	baseSet    bool           // false for an incident restored from the store
}

// New returns a detector with the incidents kept in o.Store, if any: the
// open ones go on (and end once their condition is seen clear).
func New(o Options) (*Detector, error) {
	if o.OpenAfter <= 0 {
		o.OpenAfter = time.Second
	}
	if o.CloseAfter <= 0 {
		o.CloseAfter = 2 * time.Second
	}
	if o.Keep <= 0 {
		o.Keep = 100
	}
	if o.FrozenBlocks <= 0 {
		o.FrozenBlocks = 2
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	d := &Detector{opt: o, tracks: map[string]*track{}, subs: map[chan status.Event]struct{}{}}
	if err := d.load(); err != nil {
		return nil, err
	}
	return d, nil
}

// Evaluate looks at one chain's observation: conditions seen start or keep
// incidents, conditions gone end them after CloseAfter.
func (d *Detector) Evaluate(o Observation) {
	now := d.opt.Now()
	conds := conditions(&o, d.opt.FrozenBlocks)
	d.mu.Lock()
	defer d.mu.Unlock()
	seen := make(map[string]bool, len(conds))
	for i := range conds {
		c := &conds[i]
		k := c.key(o.Chain)
		seen[k] = true
		t := d.tracks[k]
		if t == nil {
			t = &track{key: k, chain: o.Chain, since: now}
			d.tracks[k] = t
		}
		if !t.baseSet || o.Answers.Served < t.base.Served {
			t.base, t.baseSet = o.Answers, true // new, restored, or counters started over
		}
		changed := t.cond.kind != c.kind
		t.cond, t.clearSince = *c, time.Time{}
		switch {
		case t.inc != nil:
			d.refresh(t, &o, now, changed)
		case now.Sub(t.since) >= d.openAfter(c.kind):
			d.open(t, &o, now)
		}
	}
	for k, t := range d.tracks {
		if t.chain != o.Chain || seen[k] {
			continue
		}
		if t.inc == nil {
			delete(d.tracks, k) // gone before it became an incident
			continue
		}
		if t.clearSince.IsZero() {
			t.clearSince = now
		}
		if now.Sub(t.clearSince) >= d.opt.CloseAfter {
			d.close(t, now, "")
		}
	}
}

// openAfter is how long a condition of kind must hold to open an
// incident: OpenAfter, but none for a frozen or halted head, whose
// condition is itself a wait (frozen_blocks block times).
func (d *Detector) openAfter(kind status.Kind) time.Duration {
	if kind == status.KindHeadFrozen || kind == status.KindChainHalted {
		return 0
	}
	return d.opt.OpenAfter
}

// state is what an open incident is now: severity, impact, message.
func (d *Detector) state(t *track, o *Observation) (status.Severity, status.Impact, string) {
	imp := impact{failed: o.Answers.Failed - t.base.Failed, slowed: o.Answers.Slowed - t.base.Slowed}
	level := imp.level()
	if t.inc != nil && rank(t.inc.Impact) > rank(level) {
		level = t.inc.Impact // what users saw before a restart still counts
	}
	sev := t.cond.base
	switch {
	case level == status.ImpactFailed:
		sev = status.SeverityCritical
	case level == status.ImpactSlowed && sev == status.SeverityMinor:
		sev = status.SeverityMajor
	}
	return sev, level, message(o.Chain, &t.cond, o, t.since, imp, d.opt.SlowAfter)
}

func rank(i status.Impact) int {
	switch i {
	case status.ImpactFailed:
		return 2
	case status.ImpactSlowed:
		return 1
	}
	return 0
}

// open makes t an incident.
func (d *Detector) open(t *track, o *Observation, now time.Time) {
	sev, imp, msg := d.state(t, o)
	inc := &status.Incident{ID: incidentID(t.key, t.since), Kind: t.cond.kind, Chain: o.Chain, Severity: sev, Impact: imp,
		Start: t.since.UTC(), Updated: now.UTC(), Message: msg}
	setAffected(inc, t.cond.providers)
	t.inc = inc
	d.opt.Logger.Warn("incident opened", "id", inc.ID, "kind", inc.Kind, "severity", inc.Severity, "message", inc.Message)
	d.publish(status.EventOpened, t)
	if t.cond.kind == status.KindCloudOutage || t.cond.kind == status.KindRegionOutage {
		// Providers already reported down one by one are now this outage.
		for _, p := range t.cond.providers {
			own := condition{kind: status.KindProviderDown, subject: p.Name}
			if pt := d.tracks[own.key(o.Chain)]; pt != nil && pt.inc != nil {
				d.close(pt, now, "; now part of the "+string(t.cond.kind)+" "+t.cond.subject)
			}
		}
	}
}

// refresh updates an open incident's message, and records an update when
// its severity, impact, affected set or condition (changed) changed.
func (d *Detector) refresh(t *track, o *Observation, now time.Time, changed bool) {
	sev, imp, msg := d.state(t, o)
	inc := t.inc
	before := *inc
	inc.Message = msg
	setAffected(inc, t.cond.providers)
	switch {
	case providerRank(t.cond.kind) == 0:
		inc.Kind = t.cond.kind // the head's kinds follow the condition
	case providerRank(t.cond.kind) > providerRank(inc.Kind):
		inc.Kind = t.cond.kind // a provider's keep the worst
	}
	if !changed && sev == before.Severity && imp == before.Impact && slices.Equal(inc.Providers, before.Providers) {
		return
	}
	inc.Severity, inc.Impact, inc.Updated = sev, imp, now.UTC()
	inc.Updates = append(inc.Updates, status.Update{At: now.UTC(), Severity: sev, Impact: imp, Message: msg})
	if len(inc.Updates) > maxUpdates {
		inc.Updates = slices.Delete(inc.Updates, 0, len(inc.Updates)-maxUpdates)
	}
	d.opt.Logger.Warn("incident updated", "id", inc.ID, "severity", sev, "impact", imp, "message", msg)
	d.publish(status.EventUpdated, t)
}

// close ends t's incident: it ended when its condition was last seen
// clear (now, when closed for another reason).
func (d *Detector) close(t *track, now time.Time, why string) {
	inc := t.inc
	end := t.clearSince
	if end.IsZero() {
		end = now
	}
	inc.End, inc.Updated = end.UTC(), now.UTC()
	inc.Message += why + "; resolved at " + clock(end) + " after " + end.Sub(inc.Start).Round(100*time.Millisecond).String()
	delete(d.tracks, t.key)
	d.opt.Logger.Info("incident closed", "id", inc.ID, "kind", inc.Kind, "message", inc.Message)
	d.publish(status.EventClosed, t)
	d.ended = append([]status.Incident{*inc}, d.ended...)
	for len(d.ended) > d.opt.Keep {
		old := d.ended[len(d.ended)-1]
		d.ended = d.ended[:len(d.ended)-1]
		d.forget(old.ID)
	}
}

// setAffected fills in the providers, operators, clouds and regions of ps.
func setAffected(inc *status.Incident, ps []Provider) {
	inc.Providers = sorted(ps, func(p Provider) string { return p.Name })
	inc.Operators = sorted(ps, func(p Provider) string { return p.Operator })
	inc.Clouds = sorted(ps, func(p Provider) string { return p.Cloud })
	inc.Regions = sorted(ps, func(p Provider) string { return p.Region })
}

func sorted(ps []Provider, of func(Provider) string) []string {
	out := distinct(ps, of)
	slices.Sort(out)
	return out
}

// incidentID is a stable, URL-safe id: the condition's key and its start.
func incidentID(key string, since time.Time) string {
	r := strings.NewReplacer("/", ".", " ", "-")
	return r.Replace(key) + "." + since.UTC().Format("20060102T150405.000Z")
}

// publish persists t's incident and sends the event to every subscriber
// that has room. Called with mu held.
func (d *Detector) publish(typ status.EventType, t *track) {
	d.persist(t.key, t.inc)
	ev := status.Event{Type: typ, Incident: clone(*t.inc)}
	for ch := range d.subs {
		select {
		case ch <- ev:
		default: // a subscriber that does not keep up loses events
		}
	}
}

// Subscribe returns incident events from now on, until ctx ends.
func (d *Detector) Subscribe(ctx context.Context) <-chan status.Event {
	ch := make(chan status.Event, subscriberQueue)
	d.mu.Lock()
	d.subs[ch] = struct{}{}
	d.mu.Unlock()
	go func() {
		<-ctx.Done()
		d.mu.Lock()
		delete(d.subs, ch)
		close(ch)
		d.mu.Unlock()
	}()
	return ch
}

// Incidents are the open incidents (newest first) and then the ended ones
// kept (newest first).
func (d *Detector) Incidents() []status.Incident {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]status.Incident, 0, len(d.tracks)+len(d.ended))
	for _, t := range d.tracks {
		if t.inc != nil {
			out = append(out, clone(*t.inc))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Start.After(out[j].Start) })
	for _, inc := range d.ended {
		out = append(out, clone(inc))
	}
	return out
}

// Open returns the open incidents of chain.
func (d *Detector) Open(chain string) []status.Incident {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []status.Incident
	for _, t := range d.tracks {
		if t.inc != nil && t.chain == chain {
			out = append(out, clone(*t.inc))
		}
	}
	return out
}

// clone copies inc with its own slices.
func clone(inc status.Incident) status.Incident {
	inc.Providers, inc.Operators = slices.Clone(inc.Providers), slices.Clone(inc.Operators)
	inc.Clouds, inc.Regions = slices.Clone(inc.Clouds), slices.Clone(inc.Regions)
	inc.Updates = slices.Clone(inc.Updates)
	return inc
}
