package chain

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/admission"
	"github.com/rpcmesh/rpcmesh/internal/config"
	"github.com/rpcmesh/rpcmesh/internal/head"
	"github.com/rpcmesh/rpcmesh/internal/pipeline"
	"github.com/rpcmesh/rpcmesh/internal/redact"
	"github.com/rpcmesh/rpcmesh/internal/route"
	"github.com/rpcmesh/rpcmesh/internal/upstream"
	"github.com/rpcmesh/rpcmesh/internal/verify"
)

// admitting is a chain's admission (docs/admission.md): the stage of each
// provider, the check that promotes and demotes, what building a provider
// at run time needs, and the providers' health loops, each stoppable on
// its own.
type admitting struct {
	cfg     *config.Config
	ch      *config.Chain
	sh      shared
	base    *slog.Logger // the gateway's, for the providers (they name chain and provider)
	logger  *slog.Logger // admission's own lines
	tracker *admission.Tracker
	every   time.Duration // admission.check_interval
	drain   time.Duration // admission.drain_timeout

	mu      sync.Mutex
	entries []config.Provider // the providers' entries now, for validating one more
	run     context.Context   // the chain's Run context; nil before Run
	loops   map[string]loop   // health loops by provider name
	wg      sync.WaitGroup    // the health loops
	seen    uint64            // the newest evidence ID already looked at
}

// newAdmitting returns the admission of chain ch.
func newAdmitting(cfg *config.Config, ch *config.Chain, sh shared, logger *slog.Logger) *admitting {
	a := cfg.Admission
	return &admitting{cfg: cfg, ch: ch, sh: sh, base: logger, logger: logger.With("chain", ch.Name, "part", "admission"),
		tracker: admission.NewTracker(ch.Name, admission.Policy{
			PromoteAfter: a.PromoteAfter.D(), PromoteAnswers: uint64(max(a.PromoteAnswers, 0)), MinAvailability: a.MinAvailability,
			Window: a.AvailabilityWindow.D(), DemoteAdmitted: a.DemoteAdmitted,
		}, sh.admission),
		every: a.CheckInterval.D(), drain: a.DrainTimeout.D(),
		entries: slices.Clone(ch.Providers), loops: map[string]loop{}}
}

// loop is one provider's running health loop.
type loop struct {
	stop context.CancelFunc
	done chan struct{} // closed when it returned (and closed the provider)
}

// routeStage is s as routing knows it.
func routeStage(s admission.Stage) route.Stage {
	switch s {
	case admission.Probation:
		return route.Probation
	case admission.Candidate, admission.Removed:
		return route.Candidate
	}
	return route.Admitted
}

// newProvider builds the chain's provider of entry pc: its head reports
// vote for the agreed head only while it is admitted.
func (c *Chain) newProvider(pc config.Provider) *upstream.Provider {
	a := c.admission
	ch := a.ch
	return upstream.New(upstream.Options{
		Chain:            ch.Name,
		ChainID:          ch.ChainID,
		Provider:         pc,
		Health:           a.cfg.Health,
		MaxResponseBytes: a.cfg.Limits.MaxResponseBytes,
		Logger:           a.base,
		BlockTime:        c.head.BlockTime,
		// Heads must hash to what they claim before they vote, when the
		// chain's headers can be hashed (verification on).
		CheckHeaderHash: ch.EffectiveVerify(a.cfg.Verify).Enabled,
		OnHeadLie: func(p *upstream.Provider, raw json.RawMessage, err error) {
			e := verify.NewEvidence(p.Name(), "eth_getBlockByNumber", json.RawMessage(`["latest",false]`), raw, err)
			e.Chain, e.Operator, e.Reason = ch.Name, p.Labels().Operator, "head_hash"
			a.sh.evidence.Record(e)
			a.sh.verify.Rejected(ch.Name, p.Name(), "eth_getBlockByNumber", verify.Kind(err))
		},
		OnHead: func(p *upstream.Provider, b head.Block) {
			if c.router.StageOf(p.Name()) != route.Admitted {
				return // no vote on the agreed head before admission
			}
			before, _ := c.head.Latest()
			c.head.Observe(p.Name(), p.Labels().Operator, b)
			if after, _ := c.head.Latest(); after.Number > before.Number {
				c.pokeBehind(after.Number)
			}
		},
		OnTag: func(p *upstream.Provider, tag string, n uint64) {
			if c.router.StageOf(p.Name()) == route.Admitted {
				c.head.ObserveTag(p.Labels().Operator, tag, n)
			}
		},
	})
}

// providers are the chain's providers now, every stage.
func (c *Chain) providers() []*upstream.Provider { return c.router.Providers() }

// admitted are the chain's admitted providers now.
func (c *Chain) admitted() []*upstream.Provider {
	var out []*upstream.Provider // not in place: the router's list is shared
	for _, p := range c.providers() {
		if c.router.StageOf(p.Name()) == route.Admitted {
			out = append(out, p)
		}
	}
	return out
}

// serving are the chain's providers that take calls now: admitted and
// on probation (not candidates).
func (c *Chain) serving() []*upstream.Provider {
	var out []*upstream.Provider // not in place: the router's list is shared
	for _, p := range c.providers() {
		if c.router.StageOf(p.Name()) != route.Candidate {
			out = append(out, p)
		}
	}
	return out
}

// setStages gives the router the config's stages (before Run restores
// any recorded since).
func (c *Chain) setStages() {
	for _, pc := range c.cfg.Providers {
		c.router.SetStage(pc.Name, routeStage(admission.Stage(pc.AdmissionStage())))
	}
}

// counted wraps the pipeline so that every answer verified by proof
// counts for the provider that gave it (towards its promotion).
func (a *admitting) counted(next pipeline.Handler) pipeline.Handler {
	return pipeline.HandlerFunc(func(ctx context.Context, wave []*pipeline.Call) {
		next.Handle(ctx, wave)
		for _, c := range wave {
			if c.Err == nil && c.Provider != "" && c.Report != nil && c.Report.Class() == pipeline.ClassProof {
				a.tracker.Verified(c.Provider)
			}
		}
	})
}

// admit restores the config providers' recorded stages, runs every
// provider's health loop and the admission check until ctx ends, and
// returns when the loops stopped.
func (c *Chain) admit(ctx context.Context) {
	a := c.admission
	a.mu.Lock()
	a.seen = a.sh.evidence.Total() // lies told before this run were judged by it
	a.mu.Unlock()
	now := time.Now()
	for _, pc := range c.cfg.Providers {
		s, tr := a.tracker.Join(pc.Name, admission.Stage(pc.AdmissionStage()), "stage "+pc.AdmissionStage()+" in the config", true, now)
		c.router.SetStage(pc.Name, routeStage(s))
		a.logTransition(tr)
	}
	a.mu.Lock()
	c.restoreAdded(now)
	a.run = ctx
	for _, p := range c.providers() {
		a.startLoop(p)
	}
	a.mu.Unlock()

	t := time.NewTicker(a.every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			a.mu.Lock()
			a.run = nil // no loop starts any more (AddProvider)
			a.mu.Unlock()
			a.wg.Wait()
			return
		case <-t.C:
			c.check(time.Now())
		}
	}
}

// startLoop runs p's health loop until the chain stops or p is removed.
// Called with a.mu held, after Run began.
func (a *admitting) startLoop(p *upstream.Provider) {
	ctx, cancel := context.WithCancel(a.run)
	l := loop{stop: cancel, done: make(chan struct{})}
	a.loops[p.Name()] = l
	a.wg.Go(func() {
		defer close(l.done)
		p.Run(ctx)
	})
}

// check applies the admission decisions due now: a demotion for each
// provider caught lying since the last check, promotions, demotions for
// sustained failure (down at too many checks).
func (c *Chain) check(now time.Time) {
	a := c.admission
	a.mu.Lock()
	refs := a.sh.evidence.Since(a.seen)
	if len(refs) > 0 {
		a.seen = refs[len(refs)-1].ID
	}
	a.mu.Unlock()
	trs := a.tracker.Lies(refs, now)
	up := map[string]bool{}
	for _, p := range c.providers() {
		s := p.RouteSnapshot(now)
		up[p.Name()] = s.Usable() && !s.Degraded
	}
	trs = append(trs, a.tracker.Check(now, up)...)
	for i := range trs {
		c.router.SetStage(trs[i].Provider, routeStage(trs[i].To))
		a.logTransition(&trs[i])
	}
	if err := a.sh.admission.Err(); err != nil {
		a.logger.Error("admission: a transition was not stored", "err", err)
	}
}

// logTransition logs tr, if any.
func (a *admitting) logTransition(tr *admission.Transition) {
	if tr != nil {
		a.logger.Info("provider stage", "provider", tr.Provider, "from", tr.From, "to", tr.To, "reason", tr.Reason)
	}
}

// Errors of the run-time provider changes, for the admin API to tell apart.
var (
	// ErrUnknown: no such chain or provider.
	ErrUnknown = errors.New("not found")
	// ErrInvalid: the provider entry breaks a rule (the error says which).
	ErrInvalid = errors.New("invalid provider")
	// ErrNotRunning: the chain is not running (yet, or any more).
	ErrNotRunning = errors.New("the chain is not running")
)

// AddProvider adds a provider to the chain at run time from its entry
// (config.ParseProvider), checked with the config's rules against the
// chain's providers now. It starts as candidate or probation (probation
// when the entry names no stage), never admitted.
func (c *Chain) AddProvider(pc config.Provider) (ProviderEntry, error) {
	if pc.Stage == "" {
		pc.Stage = config.StageProbation
	}
	if pc.Stage == config.StageAdmitted {
		return ProviderEntry{}, fmt.Errorf("%w: provider.stage: a provider added at run time starts as candidate or probation, and is admitted after its probation", ErrInvalid)
	}
	a := c.admission
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.run == nil {
		return ProviderEntry{}, ErrNotRunning
	}
	pc, err := config.ValidateProvider(a.cfg, c.cfg.Name, a.entries, pc)
	if err != nil {
		return ProviderEntry{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	p := c.join(pc, "added through the admin API", false, time.Now())
	a.startLoop(p)
	// Kept so that a restart adds it again (restoreAdded); without, it
	// serves until the gateway stops, and the log says so.
	entry, err := config.MarshalProvider(pc)
	if err == nil {
		err = a.sh.admission.KeepEntry(c.cfg.Name, pc.Name, entry)
	}
	if err != nil {
		a.logger.Error("admission: a provider added is not kept for a restart", "provider", pc.Name, "err", err)
	}
	return c.entry(p, a.tracker.Entries()), nil
}

// join makes pc's provider, gives it the penalty the store keeps under its
// name, records its stage (with restore, the one last recorded for it) and
// adds it to routing. Called with a.mu held; its health loop is the
// caller's to start.
func (c *Chain) join(pc config.Provider, reason string, restore bool, now time.Time) *upstream.Provider {
	a := c.admission
	p := c.newProvider(pc)
	if k := c.audit.keeper.Load(); k != nil {
		// Its penalty as kept: removing and adding a liar again launders nothing.
		if err := k.Join(c.cfg.Name, p); err != nil {
			a.logger.Error("admission: the store's penalty of a provider added could not be read", "provider", pc.Name, "err", err)
		}
	}
	s, tr := a.tracker.Join(pc.Name, admission.Stage(pc.Stage), reason, restore, now)
	c.router.Add(p, routeStage(s))
	a.entries = append(a.entries, pc)
	a.logTransition(tr)
	return p
}

// restoreAdded adds again the providers added at run time before a
// restart, from their kept entries, each in the stage last recorded for
// it. An entry the config now names, or that breaks one of its rules, is
// dropped with a warning: the config file wins. Called with a.mu held,
// before the health loops start.
func (c *Chain) restoreAdded(now time.Time) {
	a := c.admission
	kept, err := a.sh.admission.Entries(c.cfg.Name)
	if err != nil {
		a.logger.Error("admission: the providers added at run time before a restart could not be read", "err", err)
		return
	}
	for _, name := range slices.Sorted(maps.Keys(kept)) {
		pc, err := config.ParseProvider(kept[name])
		if err == nil && pc.Name != name {
			err = fmt.Errorf("the entry names %q", pc.Name)
		}
		if err == nil {
			pc, err = config.ValidateProvider(a.cfg, c.cfg.Name, a.entries, pc)
		}
		if err != nil {
			a.logger.Warn("admission: a provider added at run time before a restart is not added again", "provider", name, "err", err)
			if err := a.sh.admission.DropEntry(c.cfg.Name, name); err != nil {
				a.logger.Error("admission: a kept entry could not be dropped", "provider", name, "err", err)
			}
			continue
		}
		c.join(pc, "added through the admin API, kept across a restart", true, now)
	}
}

// SetStage moves the named provider to stage (an operator's decision,
// e.g. a candidate back to probation), recorded with reason.
func (c *Chain) SetStage(name, stage, reason string) (ProviderEntry, error) {
	s := admission.Stage(stage)
	if !s.Valid() {
		return ProviderEntry{}, fmt.Errorf("%w: stage %q is not one of candidate, probation, admitted", ErrInvalid, stage)
	}
	a := c.admission
	a.mu.Lock()
	defer a.mu.Unlock()
	p := c.router.Provider(name)
	if p == nil {
		return ProviderEntry{}, fmt.Errorf("%w: chain %s has no provider %q", ErrUnknown, c.cfg.Name, name)
	}
	if ad := c.admitted(); s != admission.Admitted && len(ad) == 1 && ad[0] == p {
		return ProviderEntry{}, fmt.Errorf("%w: %s is the chain's last admitted provider: the chain could not serve without it", ErrInvalid, name)
	}
	tr, ok := a.tracker.Set(name, s, reason, time.Now())
	if !ok {
		return ProviderEntry{}, ErrNotRunning // not joined: the chain has not started
	}
	c.router.SetStage(name, routeStage(s))
	a.logTransition(&tr)
	return c.entry(p, a.tracker.Entries()), nil
}

// RemoveProvider takes the named provider out of routing at once, waits
// (at most admission.drain_timeout, or until ctx ends) for its calls in
// flight to finish, then stops its health loop, which closes it.
func (c *Chain) RemoveProvider(ctx context.Context, name string) error {
	a := c.admission
	if k := c.audit.keeper.Load(); k != nil {
		// Its penalty is written while it is still listed: if it is added
		// again, it takes it back (AddProvider).
		if err := k.Flush(); err != nil {
			a.logger.Error("admission: the store write before a removal failed", "provider", name, "err", err)
		}
	}
	a.mu.Lock()
	if ad := c.admitted(); len(ad) == 1 && ad[0].Name() == name {
		a.mu.Unlock()
		return fmt.Errorf("%w: %s is the chain's last admitted provider: the chain could not serve without it", ErrInvalid, name)
	}
	p := c.router.Remove(name)
	if p == nil {
		a.mu.Unlock()
		return fmt.Errorf("%w: chain %s has no provider %q", ErrUnknown, c.cfg.Name, name)
	}
	a.entries = slices.DeleteFunc(a.entries, func(pc config.Provider) bool { return pc.Name == name })
	if err := a.sh.admission.DropEntry(c.cfg.Name, name); err != nil {
		a.logger.Error("admission: a provider removed may be added again at a restart", "provider", name, "err", err)
	}
	l, running := a.loops[name]
	delete(a.loops, name)
	tr := a.tracker.Leave(name, "removed through the admin API", time.Now())
	a.mu.Unlock()
	a.logTransition(&tr)

	// Drain: no new call reaches p; those running finish (bounded).
	ctx, cancel := context.WithTimeout(ctx, a.drain)
	defer cancel()
	if !drained(ctx, p) {
		a.logger.Warn("removed provider still had calls in flight", "provider", name, "after", a.drain)
	}
	if !running {
		p.Close()
		return nil
	}
	l.stop() // its health loop ends and closes p
	select {
	case <-l.done:
	case <-ctx.Done():
	}
	return nil
}

// drained waits until p has no call in flight (true) or ctx ends (false).
func drained(ctx context.Context, p *upstream.Provider) bool {
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for p.RouteSnapshot(time.Now()).Inflight > 0 {
		select {
		case <-ctx.Done():
			return false
		case <-tick.C:
		}
	}
	return true
}

// ProviderEntry is one provider in the admin listener's GET /providers:
// its URLs redacted to scheme and host, labels, stage and state.
type ProviderEntry struct {
	Chain           string            `json:"chain"`
	Name            string            `json:"name"`
	HTTP            string            `json:"http"`
	WS              string            `json:"ws,omitempty"`
	Labels          map[string]string `json:"labels"` // operator, cloud, region, tier
	Stage           string            `json:"stage"`
	Since           time.Time         `json:"since"`
	VerifiedAnswers uint64            `json:"verifiedAnswers"`
	Share           float64           `json:"probationShare"` // of the chain's attempts over the share window
	State           upstream.State    `json:"state"`
	Requests        uint64            `json:"requests"`
	Failures        uint64            `json:"failures"`
}

// entry is p's ProviderEntry.
func (c *Chain) entry(p *upstream.Provider, stages map[string]admission.Entry) ProviderEntry {
	pc := p.Config()
	s := p.RouteSnapshot(time.Now())
	e := stages[p.Name()]
	l := p.Labels()
	out := ProviderEntry{Chain: c.cfg.Name, Name: p.Name(), HTTP: redact.URL(pc.HTTP),
		Labels: map[string]string{"operator": l.Operator, "cloud": l.Cloud, "region": l.Region, "tier": l.Tier},
		Stage:  string(e.Stage), Since: e.Since, VerifiedAnswers: e.Verified, Share: c.router.ProbationShare(p.Name()),
		State: s.State, Requests: s.Requests, Failures: s.Failures}
	if pc.WS != "" {
		out.WS = redact.URL(pc.WS)
	}
	return out
}

// Providers lists the chain's providers with their stages.
func (c *Chain) Providers() []ProviderEntry {
	stages := c.admission.tracker.Entries()
	var out []ProviderEntry
	for _, p := range c.providers() {
		out = append(out, c.entry(p, stages))
	}
	return out
}

// Transition is one change of a provider's stage (internal/admission).
type Transition = admission.Transition

// Transitions are the chain's stage transitions, newest first, at most n.
func (c *Chain) Transitions(n int) []Transition { return c.admission.sh.admission.List(c.cfg.Name, n) }
