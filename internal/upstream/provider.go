// Package upstream is one provider of a chain: its HTTP client, bounded by
// the provider's concurrency and rate limits; its rolling latency, error and
// throttle statistics; its circuit breaker; and the health loop that checks
// its chain ID, tracks its head and probes it back in after a failure.
//
// A call carries only the method and params: the client's identity (IP,
// headers, cookies) cannot reach a provider because the API has no way to
// pass it.
package upstream

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/rpcmesh/rpcmesh/internal/config"
	"github.com/rpcmesh/rpcmesh/internal/ethmethod"
	"github.com/rpcmesh/rpcmesh/internal/head"
	"github.com/rpcmesh/rpcmesh/internal/upstream/transport"
)

// Options configure a Provider.
type Options struct {
	Chain            string // chain name, for logs
	ChainID          uint64 // the chain ID eth_chainId must return
	Provider         config.Provider
	Health           config.Health
	MaxResponseBytes int64 // 0 = 32 MiB
	Logger           *slog.Logger
	// OnHead receives every latest block the health loop sees.
	OnHead func(p *Provider, b head.Block)
	// OnTag receives the numbers of the "safe" and "finalized" blocks.
	OnTag func(p *Provider, tag string, number uint64)
	// CheckHeaderHash recomputes each head's hash from its header fields
	// (go-ethereum's types.Header) before it counts as a vote for the
	// agreed head; a header that does not hash to its claimed hash is a lie
	// and penalised. Off for chains whose headers go-ethereum cannot hash.
	CheckHeaderHash bool
	// OnHeadLie receives a head refused by CheckHeaderHash (the header as
	// sent and what failed), for the evidence log.
	OnHeadLie func(p *Provider, raw json.RawMessage, err error)
	// Transport overrides the HTTP transport (tests); nil builds one.
	Transport http.RoundTripper
	// BlockTime returns the chain's measured block time (0: not yet
	// known), to time head polls to when the next block is due; nil polls
	// every health.poll_interval.
	BlockTime func() time.Duration
}

// Provider is one upstream node endpoint. Create it with New, start its
// health loop with Run, and send calls with Call. Safe for concurrent use.
type Provider struct {
	name    string
	chain   string
	chainID uint64
	cfg     config.Provider
	labels  config.Labels
	tier    int
	health  config.Health
	maxResp int64
	logger  *slog.Logger
	onHead  func(*Provider, head.Block)
	onTag   func(*Provider, string, uint64)
	// checkHash: see Options.CheckHeaderHash.
	checkHash bool
	onHeadLie func(*Provider, json.RawMessage, error)
	blockTime func() time.Duration

	// rt carries every call: over HTTP, or WebSockets (call_transport ws).
	rt transport.RoundTripper
	// coalesce merges waiting calls into batches when the provider is busy
	// (coalesce_above; nil: off, and always over ws).
	coalesce *coalescer
	poke     chan struct{} // wakes the health loop for an early head poll
	sem      chan struct{}
	limiter  *rate.Limiter
	seq      atomic.Uint64
	// noBatches is set once the provider answered a batch request with
	// something other than a batch.
	noBatches atomic.Bool
	// headMu serialises reporting heads (reportHead): the poll and the
	// newHeads subscription each fill gaps, then report.
	headMu sync.Mutex

	mu             sync.Mutex
	st             stats
	br             breaker
	throttledUntil time.Time
	wrongChain     string // non-empty: why the provider is excluded
	chainChecked   bool
	head           head.Block
	headAt         time.Time
	headRiseAt     time.Time         // last time its head number rose
	pushedAt       time.Time         // last early poll asked for by an answer (pushHead)
	reported       map[uint64]string // its recent heads by number (see fillGap)
	wsHeadAt       time.Time         // last head received over WS newHeads
	degraded       bool              // failing or throttled often (see updateDegraded)
	readmittedAt   time.Time         // last readmission by probe, for the warm-up ramp
	inflight       map[uint64]time.Time
	polls          map[uint64]time.Time // health calls in flight, by id
	integ          integrity
	requests       uint64
	failures       uint64
}

// New builds a provider. It does no I/O; call Run to start health checks.
func New(o Options) *Provider {
	pc := o.Provider
	conc := pc.MaxConcurrency
	if conc <= 0 {
		conc = 64
	}
	labels := pc.Labels
	if labels.Operator == "" {
		labels.Operator = pc.Name
	}
	if labels.Tier == "" {
		labels.Tier = config.TierPublic
	}
	if pc.Weight <= 0 {
		pc.Weight = 1
	}
	h := o.Health
	if h.EWMAHalfLife <= 0 {
		h.EWMAHalfLife = config.Duration(30 * time.Second)
	}
	if h.PenaltyHalfLife <= 0 {
		h.PenaltyHalfLife = config.Duration(10 * time.Minute)
	}
	if h.BreakerFailures <= 0 {
		h.BreakerFailures = 5
	}
	logger := o.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	p := &Provider{
		name:      pc.Name,
		chain:     o.Chain,
		chainID:   o.ChainID,
		cfg:       pc,
		labels:    labels,
		tier:      config.TierRank(labels.Tier),
		health:    h,
		maxResp:   o.MaxResponseBytes,
		logger:    logger.With("chain", o.Chain, "provider", pc.Name, "operator", labels.Operator),
		onHead:    o.OnHead,
		onTag:     o.OnTag,
		checkHash: o.CheckHeaderHash,
		onHeadLie: o.OnHeadLie,
		blockTime: o.BlockTime,
		sem:       make(chan struct{}, conc),
		poke:      make(chan struct{}, 1),
		inflight:  make(map[uint64]time.Time),
		polls:     make(map[uint64]time.Time),
		reported:  make(map[uint64]string),
		st:        stats{halfLife: h.EWMAHalfLife.D()},
		br:        breaker{threshold: h.BreakerFailures, cooldown: h.BreakerCooldown.D()},
	}
	if p.maxResp <= 0 {
		p.maxResp = 32 << 20
	}
	p.rt = p.newTransport(conc, o.Transport)
	if pc.CoalesceAbove > 0 && p.rt.Status().Kind == "http" {
		p.coalesce = newCoalescer(p, pc.CoalesceAbove, max(pc.CoalesceMax, 2))
	}
	if pc.MaxRPS > 0 {
		burst := max(1, int(pc.MaxRPS/10))
		p.limiter = rate.NewLimiter(rate.Limit(pc.MaxRPS), burst)
	}
	return p
}

// newTransport builds the transport of the provider's calls: WebSockets
// with call_transport ws and a ws URL (a config built in code and not
// validated may lack it: calls then go over HTTP), else HTTP (over rt when
// set: tests).
func (p *Provider) newTransport(conc int, rt http.RoundTripper) transport.RoundTripper {
	if p.cfg.CallTransport == config.CallTransportWS {
		if p.cfg.WS != "" {
			conns := p.cfg.WSConns
			if conns <= 0 {
				conns = 2
			}
			return transport.NewWS(transport.WSOptions{
				URL:            p.cfg.WS,
				Conns:          min(conns, config.MaxWSConns),
				MaxConcurrency: conc,
				MaxResponse:    p.maxResp,
				Timeout:        p.callTimeout(),
				Logger:         p.logger,
			})
		}
		p.logger.Warn("call_transport ws without a ws URL: calls go over HTTP")
	}
	return transport.NewHTTP(transport.HTTPOptions{URL: p.cfg.HTTP, MaxConns: conc, MaxResponse: p.maxResp, Transport: rt})
}

// Close closes the provider's connections and ends their goroutines;
// calls after Close fail over WebSocket. Run calls it when it returns.
func (p *Provider) Close() { p.rt.Close() }

// TransportStatus is how a provider's calls travel, for /status and
// metrics: over HTTP, or over WebSockets (call_transport ws).
type TransportStatus struct {
	Kind     string          `json:"kind"` // "http" or "ws"
	WS       *WSStatus       `json:"ws,omitempty"`
	Coalesce *CoalesceStatus `json:"coalesce,omitempty"` // coalesce_above set (HTTP)
}

// CoalesceStatus is what a provider's coalescer merged (coalesce_above).
type CoalesceStatus struct {
	Above   int    `json:"above"`   // coalesce_above
	Max     int    `json:"max"`     // coalesce_max
	Batches uint64 `json:"batches"` // batch requests it sent
	Calls   uint64 `json:"calls"`   // calls they carried
}

// WSStatus is the state of a provider's WebSocket call connections.
type WSStatus = transport.WSStatus

// Transport reports how the provider's calls travel now.
func (p *Provider) Transport() TransportStatus {
	st := p.rt.Status()
	return TransportStatus{Kind: st.Kind, WS: st.WS, Coalesce: p.coalesce.status()}
}

// Name is the provider's configured name.
func (p *Provider) Name() string { return p.name }

// Labels are the provider's labels with defaults applied (operator, tier).
func (p *Provider) Labels() config.Labels { return p.labels }

// Tier is the rank of the provider's tier: 0 (own) is best.
func (p *Provider) Tier() int { return p.tier }

// Config is the provider's configuration.
func (p *Provider) Config() config.Provider { return p.cfg }

// Call sends one JSON-RPC call and returns its result. An error answer from
// the node is a *jsonrpc.Error; any other failure is an *Error.
func (p *Provider) Call(ctx context.Context, method string, params json.RawMessage) (json.RawMessage, error) {
	return p.call(ctx, method, params, false)
}

// CallLastResort is Call for when every provider of the chain is excluded:
// it ignores an open breaker and a pending Retry-After (never a wrong
// chain), so that an overload that tripped every breaker is not a total
// outage.
func (p *Provider) CallLastResort(ctx context.Context, method string, params json.RawMessage) (json.RawMessage, error) {
	return p.call(ctx, method, params, true)
}

// acquire lets a request of n calls go: the breaker and any Retry-After
// (admit), a concurrency slot, which the caller gives back with release,
// and the rate limit.
func (p *Provider) acquire(ctx context.Context, method string, lastResort bool, n int) error {
	if err := p.admit(method, lastResort); err != nil {
		return err
	}
	select {
	case p.sem <- struct{}{}:
	case <-ctx.Done():
		err := p.ctxError(ctx, method)
		err.Sent = false
		return err
	}
	if p.limiter != nil && !p.limiter.AllowN(time.Now(), n) {
		p.release()
		return p.fail(method, ClassUnavailable, false, ErrBusy)
	}
	return nil
}

// enter records a request with id as in flight from now (a hung one shows
// as stalled), counted in Requests when it is clients' traffic, and
// returns now.
func (p *Provider) enter(id uint64, client bool) time.Time {
	now := time.Now()
	p.mu.Lock()
	p.inflight[id] = now
	if client {
		p.requests++
	}
	p.mu.Unlock()
	return now
}

// release gives back the concurrency slot of acquire.
func (p *Provider) release() { <-p.sem }

// call sends one call: through the coalescer when the provider has one and
// the call may be merged, else alone.
func (p *Provider) call(ctx context.Context, method string, params json.RawMessage, lastResort bool) (json.RawMessage, error) {
	if c := p.coalesce; c != nil && !lastResort && ethmethod.PointRead(method) {
		return c.call(ctx, method, params)
	}
	return p.callAlone(ctx, method, params, lastResort)
}

// callAlone sends one client's call as a request of its own.
func (p *Provider) callAlone(ctx context.Context, method string, params json.RawMessage, lastResort bool) (json.RawMessage, error) {
	return p.send(ctx, method, params, lastResort, true)
}

// send sends one call as a request of its own; client tells whether it
// counts in Requests (clients' traffic does, the audit's does not).
func (p *Provider) send(ctx context.Context, method string, params json.RawMessage, lastResort, client bool) (json.RawMessage, error) {
	if err := p.acquire(ctx, method, lastResort, 1); err != nil {
		return nil, err
	}
	defer p.release()
	id := p.seq.Add(1)
	start := p.enter(id, client)

	res, err := p.post(ctx, id, method, params)

	p.mu.Lock()
	delete(p.inflight, id)
	p.mu.Unlock()
	p.record(start, err, false)
	return res, err
}

// admit refuses a call the provider must not get now.
func (p *Provider) admit(method string, lastResort bool) error {
	now := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case p.wrongChain != "":
		return p.fail(method, ClassUnavailable, false, ErrWrongChain)
	case lastResort:
		return nil
	case p.br.open:
		return p.fail(method, ClassUnavailable, false, ErrBreakerOpen)
	case now.Before(p.throttledUntil):
		return p.fail(method, ClassThrottled, false, ErrThrottled)
	}
	return nil
}

// record updates statistics and the breaker with a call's outcome. Health
// checks (probe true) close an open breaker on success.
func (p *Provider) record(start time.Time, err error, probe bool) {
	now := time.Now()
	ue := errorOf(err)
	isUE := ue != nil
	if isUE && ue.Class == ClassCanceled {
		return // the caller went away: says nothing about the provider
	}
	if isUE && errors.Is(ue.Err, transport.ErrLostWithConn) {
		return // its connection's failure is counted with another call
	}
	failed := isUE && ue.Class != ClassUnavailable
	throttled := isUE && ue.Class == ClassThrottled
	var latency time.Duration
	if !isUE {
		latency = now.Sub(start) // success or an answer from the node
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if !probe || !failed {
		p.st.record(now, latency, failed && !throttled, throttled)
	}
	defer p.updateDegraded()
	if failed && !throttled {
		p.failures++
		if ue.Class == ClassStalled {
			// Abandoned after another provider answered: it counts in the
			// error rate (routing avoids it) but not in the breaker, so an
			// overload that slows every provider cannot open every breaker.
			return
		}
		if p.br.failure(now) {
			// A broken provider counts as failing half the time at least, so
			// that after readmission it must earn its error rate back (a
			// flapping one stays "degraded" for routing; see reset below).
			p.st.errors = max(p.st.errors, 0.5)
			p.logger.Warn("circuit breaker opened", "failures", p.br.failures, "err", err)
		}
		return
	}
	if !failed {
		if probe {
			if p.br.reset(now) {
				p.readmittedAt = now
				// A fresh start: the provider gets traffic again at once;
				// unless it is flapping, when it must earn its error rate
				// back by probes first.
				if p.br.doublings == 0 {
					// Between the thresholds: not degraded now, but two
					// more failures make it so again.
					p.st.errors = min(p.st.errors, (degradeAbove+recoverBelow)/2)
					p.st.throttle = min(p.st.throttle, (degradeAbove+recoverBelow)/2)
					p.degraded = false
					return
				}
				p.logger.Info("provider readmitted after probe", "next_cooldown", p.br.currentCooldown())
			}
		} else {
			p.br.success()
		}
	}
}

// Degradation thresholds, with hysteresis so that a provider hovering
// around one threshold does not swing between all and none of the traffic.
const (
	degradeAbove = 0.3 // error or throttle rate that makes a provider degraded
	recoverBelow = 0.1 // both rates must fall below this to recover
)

// updateDegraded applies the thresholds. Called with mu held.
func (p *Provider) updateDegraded() {
	switch {
	case p.st.errors > degradeAbove || p.st.throttle > degradeAbove:
		p.degraded = true
	case p.st.errors < recoverBelow && p.st.throttle < recoverBelow:
		p.degraded = false
	}
}

// warmupLocked is how far the provider is through its warm-up after a
// readmission, 0..1: routing gives a readmitted provider a growing share of
// the traffic over two breaker cooldowns (at least a second), so a provider
// that just came back is not flooded at once. Called with mu held.
func (p *Provider) warmupLocked(now time.Time) float64 {
	if p.readmittedAt.IsZero() {
		return 1
	}
	ramp := max(2*p.br.cooldown, time.Second)
	return min(float64(now.Sub(p.readmittedAt))/float64(ramp), 1)
}

// Stalled reports whether a call has been in flight longer than the stall
// threshold (a hung provider), so routing can avoid it before any timeout.
func (p *Provider) Stalled(now time.Time) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stalledLocked(now)
}

// stalledLocked reports whether a routed call or a health call has been in
// flight longer than the stall threshold. Called with mu held.
func (p *Provider) stalledLocked(now time.Time) bool {
	limit := p.stallAfterLocked()
	for _, m := range []map[uint64]time.Time{p.inflight, p.polls} {
		for _, start := range m {
			if now.Sub(start) > limit {
				return true
			}
		}
	}
	return false
}

// StallAfter is how long a call may run before the provider counts as
// stalled: four times its p99 latency, at least 500ms, at most the provider
// timeout.
func (p *Provider) StallAfter() time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stallAfterLocked()
}

func (p *Provider) stallAfterLocked() time.Duration {
	d := 4 * p.st.quantile(0.99)
	d = max(d, 500*time.Millisecond)
	if t := p.health.ProviderTimeout.D(); t > 0 {
		d = min(d, t)
	}
	return d
}

// Saturated reports whether the provider is at its concurrency limit or out
// of rate tokens.
func (p *Provider) Saturated() bool {
	if len(p.sem) >= cap(p.sem) {
		return true
	}
	return p.limiter != nil && p.limiter.Tokens() < 1
}

// Quantile returns the q-quantile of the provider's recent latencies (0
// without samples).
func (p *Provider) Quantile(q float64) time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.st.quantile(q)
}

// Poke asks the health loop to poll the head now (the chain's agreed head
// moved past this provider's known head). It never blocks.
func (p *Provider) Poke() {
	select {
	case p.poke <- struct{}{}:
	default:
	}
}

// Head returns the latest block the provider reported, and when.
func (p *Provider) Head() (head.Block, time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.head, p.headAt
}
