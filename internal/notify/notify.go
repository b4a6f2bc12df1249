// Package notify sends the gateway's incident events (status.Event:
// opened, updated, closed) to webhooks: a JSON body signed with
// HMAC-SHA256 (or a Slack message), retried with exponential backoff and
// jitter, one event at a time and in order per webhook, from a bounded
// queue whose overflow, like the events given up, goes to a dead-letter
// list GET /notify shows. The gateway never waits for a webhook.
// docs/notifications.md is the receiver's side.
package notify

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"log/slog"
	mrand "math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/config"
	"github.com/rpcmesh/rpcmesh/internal/status"
)

// Clock is the notifier's time: now (signatures and records) and the wait
// between two attempts. Tests pass one that does not wait.
type Clock interface {
	Now() time.Time
	// Wait returns after d, or with ctx's error when ctx ends first.
	Wait(ctx context.Context, d time.Duration) error
}

// realClock is the wall clock.
type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) Wait(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-t.C:
		return nil
	}
}

// Options are what a Notifier needs besides its config; zero fields get
// the defaults.
type Options struct {
	Logger *slog.Logger
	// Client sends the deliveries; default: one that follows no redirects
	// (a redirect is a refusal, not retried).
	Client *http.Client
	Clock  Clock // default: the wall clock
	// Jitter returns a number in [0, 1): the share of up to half a backoff
	// wait taken off. Default: math/rand/v2.
	Jitter func() float64
}

// Notifier delivers incident events to the configured webhooks. The zero
// value is not ready: use New.
type Notifier struct {
	cfg    config.Notify
	log    *slog.Logger
	client *http.Client
	clock  Clock
	jitter func() float64
	hooks  []*hook

	mu       sync.Mutex
	started  bool
	stopSub  context.CancelFunc // ends the subscription
	stopWork context.CancelFunc // ends the workers, in-flight attempts included
	drain    chan struct{}      // closed at Close: workers end when their queue is empty
	consumed chan struct{}      // closed when the subscription's reader ended
	workers  sync.WaitGroup
}

// New builds a notifier for a validated notify config. It does no I/O.
func New(cfg config.Notify, opts Options) *Notifier {
	n := &Notifier{cfg: cfg, log: opts.Logger, client: opts.Client, clock: opts.Clock, jitter: opts.Jitter}
	if n.log == nil {
		n.log = slog.New(slog.DiscardHandler)
	}
	if n.client == nil {
		n.client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	if n.clock == nil {
		n.clock = realClock{}
	}
	if n.jitter == nil {
		n.jitter = mrand.Float64
	}
	for _, w := range cfg.Webhooks {
		n.hooks = append(n.hooks, newHook(n, w))
	}
	return n
}

// Start reads src's events and sends them on until Close. Without
// webhooks it does nothing.
func (n *Notifier) Start(src status.Source) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.started || len(n.hooks) == 0 {
		return
	}
	n.started = true
	subCtx, stopSub := context.WithCancel(context.Background())
	workCtx, stopWork := context.WithCancel(context.Background())
	n.stopSub, n.stopWork = stopSub, stopWork
	n.drain, n.consumed = make(chan struct{}), make(chan struct{})
	events := src.Subscribe(subCtx)
	go n.consume(subCtx, events)
	for _, h := range n.hooks {
		n.workers.Add(1)
		go func() {
			defer n.workers.Done()
			h.run(workCtx, n.drain)
		}()
	}
}

// consume hands each event to the hooks until ctx ends or the source
// closes the channel.
func (n *Notifier) consume(ctx context.Context, events <-chan status.Event) {
	defer close(n.consumed)
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-events:
			if !ok {
				return
			}
			n.publish(ev)
		}
	}
}

// publish queues ev for every hook whose filters it passes; it never
// waits for a webhook.
func (n *Notifier) publish(ev status.Event) {
	raw, err := json.Marshal(ev.Incident)
	if err != nil {
		n.log.Error("webhook event not encoded", "incident", ev.Incident.ID, "err", err)
		return
	}
	inc := &ev.Incident
	b := brief{ID: inc.ID, Kind: inc.Kind, Chain: inc.Chain, Severity: inc.Severity, Message: inc.Message}
	at := n.clock.Now().UTC()
	for _, h := range n.hooks {
		if h.accepts(&ev) {
			h.enqueue(&delivery{id: rand.Text(), typ: ev.Type, at: at, incident: raw, inc: b})
		}
	}
}

// Close stops reading events, keeps sending those already queued for up
// to notify.drain_timeout (and until ctx ends), then stops. Events still
// undelivered are counted in a log line.
func (n *Notifier) Close(ctx context.Context) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if !n.started {
		return
	}
	n.started = false
	n.stopSub()
	<-n.consumed
	close(n.drain)
	done := make(chan struct{})
	go func() {
		n.workers.Wait()
		close(done)
	}()
	drainCtx, cancel := context.WithTimeout(ctx, n.cfg.DrainTimeout.D())
	defer cancel()
	select {
	case <-done:
	case <-drainCtx.Done():
		n.stopWork()
		<-done
	}
	n.stopWork()
	left := 0
	for _, h := range n.hooks {
		left += h.undelivered()
	}
	if left > 0 {
		n.log.Warn("webhook events not delivered at shutdown", "events", left)
	}
}

// Status is the GET /notify document: each webhook's queue, record and
// dead letters. It holds no secret and no URL path or query.
type Status struct {
	Webhooks []HookStatus `json:"webhooks"`
}

// HookStatus is one webhook in Status.
type HookStatus struct {
	Name   string `json:"name"`
	URL    string `json:"url"` // scheme and host only
	Format string `json:"format"`
	Queued int    `json:"queued"` // events waiting, the one being sent not included
	// Sending is true while an event is being sent or waits for its next
	// attempt.
	Sending         bool      `json:"sending"`
	Delivered       uint64    `json:"delivered"`
	FailedAttempts  uint64    `json:"failedAttempts"`
	DeadLettered    uint64    `json:"deadLettered"` // since start; DeadLetters keeps the newest
	LastError       string    `json:"lastError,omitempty"`
	LastErrorAt     time.Time `json:"lastErrorAt,omitzero"`
	LastDeliveredAt time.Time `json:"lastDeliveredAt,omitzero"`
	// DeadLetters are the newest events given up, newest first, at most
	// notify.dead_letters.
	DeadLetters []DeadLetter `json:"deadLetters"`
}

// DeadLetter is one event a webhook was not sent.
type DeadLetter struct {
	DeliveryID string           `json:"deliveryId"`
	Type       status.EventType `json:"type"`
	IncidentID string           `json:"incidentId"`
	Kind       status.Kind      `json:"kind"`
	Chain      string           `json:"chain"`
	Severity   status.Severity  `json:"severity"`
	Attempts   int              `json:"attempts"` // 0 when dropped from a full queue
	Reason     string           `json:"reason"`   // ReasonMaxAttempts, ReasonRefused or ReasonQueueFull
	Error      string           `json:"error"`    // the last attempt's error, or why it was dropped
	At         time.Time        `json:"at"`
}

// Status reports every webhook, in config order.
func (n *Notifier) Status() Status {
	st := Status{Webhooks: make([]HookStatus, 0, len(n.hooks))}
	for _, h := range n.hooks {
		st.Webhooks = append(st.Webhooks, h.status())
	}
	return st
}

// ServeHTTP answers GET /notify on the admin listener with Status as JSON.
func (n *Notifier) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(n.Status())
}
