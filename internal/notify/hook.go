package notify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/rpcmesh/rpcmesh/internal/config"
	"github.com/rpcmesh/rpcmesh/internal/redact"
	"github.com/rpcmesh/rpcmesh/internal/status"
)

// Why an event went to the dead letters (DeadLetter.Reason).
const (
	ReasonMaxAttempts = "max_attempts" // every attempt failed
	ReasonRefused     = "refused"      // the receiver answered a status not worth retrying (4xx)
	ReasonQueueFull   = "queue_full"   // dropped, oldest first, to make room for a newer event
)

// maxFollowed bounds the incidents one hook remembers it was sent (see
// hook.accepts); past it the memory starts afresh.
const maxFollowed = 10000

// maxErrorBody bounds how much of a receiver's answer an error quotes.
const maxErrorBody = 200

// hook is one webhook: its queue, its worker's state and its record.
type hook struct {
	n         *Notifier
	cfg       config.Webhook // holds the secret: never shown
	shownURL  string         // scheme and host only
	minRank   int
	chains    map[string]bool // nil: every chain
	wake      chan struct{}   // one token: the queue may have grown
	queueSize int

	mu       sync.Mutex
	queue    []*delivery // oldest first
	sending  *delivery   // taken from the queue, not yet delivered or given up
	followed map[string]bool
	rec      record
	dead     []DeadLetter // oldest first, at most cfg dead_letters
}

// record is what GET /notify shows of a hook besides its queue.
type record struct {
	delivered, failedAttempts, deadLettered uint64
	lastError                               string
	lastErrorAt, lastDeliveredAt            time.Time
}

func newHook(n *Notifier, cfg config.Webhook) *hook {
	h := &hook{n: n, cfg: cfg, shownURL: redact.URL(cfg.URL), minRank: severityRank(status.Severity(cfg.MinSeverity)),
		wake: make(chan struct{}, 1), queueSize: max(n.cfg.QueueSize, 1), followed: map[string]bool{}}
	if len(cfg.Chains) > 0 {
		h.chains = make(map[string]bool, len(cfg.Chains))
		for _, c := range cfg.Chains {
			h.chains[c] = true
		}
	}
	return h
}

// accepts applies the hook's filters to an event. An incident is
// followed from its first event severe enough: its later events pass even
// when it grows milder, so its receiver also hears how it ends.
func (h *hook) accepts(ev *status.Event) bool {
	inc := &ev.Incident
	if h.chains != nil && !h.chains[inc.Chain] {
		return false
	}
	if h.minRank == 0 {
		return true
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	pass := h.followed[inc.ID] || severityRank(inc.Severity) >= h.minRank
	switch {
	case ev.Type == status.EventClosed:
		delete(h.followed, inc.ID)
	case pass:
		if len(h.followed) >= maxFollowed {
			clear(h.followed)
		}
		h.followed[inc.ID] = true
	}
	return pass
}

// enqueue adds d to the queue without waiting; when the queue is full the
// oldest waiting event goes to the dead letters.
func (h *hook) enqueue(d *delivery) {
	h.mu.Lock()
	if len(h.queue) >= h.queueSize {
		old := h.queue[0]
		h.queue[0] = nil
		h.queue = h.queue[1:]
		h.deadLocked(old, 0, ReasonQueueFull, fmt.Sprintf("queue full (%d events waiting); the oldest was dropped", h.queueSize))
	}
	h.queue = append(h.queue, d)
	h.mu.Unlock()
	select {
	case h.wake <- struct{}{}:
	default:
	}
}

// next takes the oldest waiting event, waiting for one until ctx ends or,
// once drain is closed, until the queue is empty.
func (h *hook) next(ctx context.Context, drain <-chan struct{}) *delivery {
	draining := false
	for {
		h.mu.Lock()
		if len(h.queue) > 0 {
			d := h.queue[0]
			h.queue[0] = nil
			h.queue = h.queue[1:]
			h.sending = d
			h.mu.Unlock()
			return d
		}
		h.mu.Unlock()
		if draining {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-h.wake:
		case <-drain:
			draining = true // nothing more will be queued: end once empty
		}
	}
}

// run sends the hook's events one at a time, in order, until ctx ends or
// drain is closed and the queue is empty.
func (h *hook) run(ctx context.Context, drain <-chan struct{}) {
	for {
		d := h.next(ctx, drain)
		if d == nil {
			return
		}
		h.deliver(ctx, d)
	}
}

// deliver sends d until it is delivered, refused or out of attempts. When
// ctx ends first, d stays undelivered (counted at shutdown).
func (h *hook) deliver(ctx context.Context, d *delivery) {
	body, err := h.body(d)
	if err != nil {
		h.finish(d, 0, ReasonRefused, fmt.Sprintf("encoding the body: %v", err))
		return
	}
	maxAttempts := max(h.n.cfg.MaxAttempts, 1)
	for attempt := 1; ; attempt++ {
		wait, permanent, err := h.send(ctx, d, body, attempt)
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			h.finish(d, attempt, "", "")
			return
		}
		h.failed(err.Error())
		switch {
		case permanent:
			h.finish(d, attempt, ReasonRefused, err.Error())
			return
		case attempt >= maxAttempts:
			h.finish(d, attempt, ReasonMaxAttempts, err.Error())
			return
		}
		if wait <= 0 {
			wait = backoff(h.n.cfg.InitialBackoff.D(), h.n.cfg.MaxBackoff.D(), attempt, h.n.jitter())
		}
		if h.n.clock.Wait(ctx, min(wait, h.n.cfg.MaxBackoff.D())) != nil {
			return
		}
	}
}

func (h *hook) body(d *delivery) ([]byte, error) {
	if h.cfg.Format == config.WebhookSlack {
		return slackBody(d)
	}
	return jsonBody(d)
}

// send makes one attempt. It returns the receiver's Retry-After (0 when
// none), whether a failure is not worth retrying, and what failed.
func (h *hook) send(ctx context.Context, d *delivery, body []byte, attempt int) (time.Duration, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, h.n.cfg.Timeout.D())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return 0, true, redact.Error(err, h.cfg.URL)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "rpcmesh-webhook/"+strconv.Itoa(SchemaVersion))
	req.Header.Set(DeliveryHeader, d.id)
	req.Header.Set(EventHeader, string(d.typ))
	req.Header.Set(AttemptHeader, strconv.Itoa(attempt))
	if h.cfg.Secret != "" {
		req.Header.Set(SignatureHeader, Sign(h.cfg.Secret, h.n.clock.Now(), body))
	}
	resp, err := h.n.client.Do(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("no answer within %s: %w", h.n.cfg.Timeout, err)
		}
		return 0, false, redact.Error(err, h.cfg.URL)
	}
	defer resp.Body.Close()
	text, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // lets the connection be reused
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return 0, false, nil
	}
	err = fmt.Errorf("receiver answered %s%s", resp.Status, quoteBody(text))
	if !retryable(resp.StatusCode) {
		return 0, true, fmt.Errorf("%w; not retried (only timeouts, 408, 429 and 5xx are)", err)
	}
	return retryAfter(resp.Header, h.n.clock.Now()), false, err
}

// quoteBody shows the start of a receiver's answer, printable runes only.
func quoteBody(b []byte) string {
	s := strings.TrimSpace(strings.Map(func(r rune) rune {
		if unicode.IsPrint(r) {
			return r
		}
		return ' '
	}, string(b)))
	if s == "" {
		return ""
	}
	return ": " + strconv.Quote(s)
}

// failed records a failed attempt.
func (h *hook) failed(msg string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.rec.failedAttempts++
	h.rec.lastError, h.rec.lastErrorAt = msg, h.n.clock.Now().UTC()
}

// finish ends d's course: delivered (reason "") or a dead letter.
func (h *hook) finish(d *delivery, attempts int, reason, msg string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.sending = nil
	if reason == "" {
		h.rec.delivered++
		h.rec.lastDeliveredAt = h.n.clock.Now().UTC()
		return
	}
	h.deadLocked(d, attempts, reason, msg)
}

// deadLocked adds d to the dead letters; h.mu is held.
func (h *hook) deadLocked(d *delivery, attempts int, reason, msg string) {
	h.rec.deadLettered++
	if len(h.dead) >= max(h.n.cfg.DeadLetters, 1) {
		h.dead = append(h.dead[:0], h.dead[1:]...)
	}
	h.dead = append(h.dead, DeadLetter{DeliveryID: d.id, Type: d.typ, IncidentID: d.inc.ID, Kind: d.inc.Kind,
		Chain: d.inc.Chain, Severity: d.inc.Severity, Attempts: attempts, Reason: reason, Error: msg, At: h.n.clock.Now().UTC()})
	h.n.log.Warn("webhook event given up", "webhook", h.cfg.Name, "url", h.shownURL, "event", d.typ,
		"incident", d.inc.ID, "reason", reason, "attempts", attempts, "err", msg)
}

// undelivered counts the events not yet delivered nor given up.
func (h *hook) undelivered() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := len(h.queue)
	if h.sending != nil {
		n++
	}
	return n
}

// status is the hook as GET /notify shows it.
func (h *hook) status() HookStatus {
	h.mu.Lock()
	defer h.mu.Unlock()
	format := h.cfg.Format
	if format == "" {
		format = config.WebhookJSON
	}
	st := HookStatus{Name: h.cfg.Name, URL: h.shownURL, Format: format, Queued: len(h.queue), Sending: h.sending != nil,
		Delivered: h.rec.delivered, FailedAttempts: h.rec.failedAttempts, DeadLettered: h.rec.deadLettered,
		LastError: h.rec.lastError, LastErrorAt: h.rec.lastErrorAt, LastDeliveredAt: h.rec.lastDeliveredAt,
		DeadLetters: make([]DeadLetter, 0, len(h.dead))}
	for i := len(h.dead) - 1; i >= 0; i-- {
		st.DeadLetters = append(st.DeadLetters, h.dead[i])
	}
	return st
}
