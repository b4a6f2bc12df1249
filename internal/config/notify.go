package config

import (
	"fmt"
	"net/url"
	"slices"
	"time"
)

// Notify configures webhook notifications of incidents (opened, updated,
// closed; docs/notifications.md). Each webhook has its own bounded queue
// and is sent its events one at a time, in order, retried with backoff.
type Notify struct {
	Webhooks []Webhook `yaml:"webhooks,omitempty"` // none by default; at most MaxWebhooks
	// QueueSize bounds the events waiting for one webhook: 256. When it is
	// full the oldest waiting event goes to the dead letters.
	QueueSize int `yaml:"queue_size"`
	// MaxAttempts is how many times one event is sent before it goes to
	// the dead letters: 8.
	MaxAttempts int      `yaml:"max_attempts"`
	Timeout     Duration `yaml:"timeout"` // 10s for one attempt, answer included
	// InitialBackoff is the wait after the first failed attempt; it doubles
	// after each failure (with jitter), up to MaxBackoff. 1s.
	InitialBackoff Duration `yaml:"initial_backoff"`
	// MaxBackoff bounds the wait between two attempts, a receiver's
	// Retry-After included: 5m.
	MaxBackoff  Duration `yaml:"max_backoff"`
	DeadLetters int      `yaml:"dead_letters"` // 100 dead letters kept per webhook, newest first
	// DrainTimeout is how long the gateway, on shutdown, keeps sending
	// the events already queued (also bounded by server.shutdown_timeout):
	// 5s. 0: none are sent after shutdown begins.
	DrainTimeout Duration `yaml:"drain_timeout"`
}

// Webhook is one receiver of incident events.
type Webhook struct {
	Name string `yaml:"name"` // required, unique: how logs and GET /notify name it
	// URL is where events are POSTed: http or https. It may hold a token
	// (Slack's do): logs and GET /notify show its scheme and host only.
	URL string `yaml:"url"`
	// Secret signs each body (HMAC-SHA256, header X-Rpcmesh-Signature):
	// required for format json, at least MinWebhookSecret characters;
	// optional for slack. Write it as ${ENV}.
	Secret string `yaml:"secret"`
	Format string `yaml:"format"` // "json" (default, "" too) or "slack": {"text": "..."}
	// MinSeverity sends only incidents at least this severe: "minor"
	// (default, "" too: all), "major" or "critical".
	MinSeverity string   `yaml:"min_severity"`
	Chains      []string `yaml:"chains,omitempty"` // only incidents of these chains; empty: all
}

// Webhook body formats (Webhook.Format).
const (
	WebhookJSON  = "json"
	WebhookSlack = "slack"
)

// Bounds of the notify section.
const (
	MaxWebhooks      = 32     // webhooks in one config
	MinWebhookSecret = 16     // characters of a webhook secret
	maxNotifyQueue   = 100000 // notify.queue_size
	maxNotifyTries   = 100    // notify.max_attempts
	maxDeadLetters   = 10000  // notify.dead_letters
)

// maxNotifyTimeout bounds notify.timeout; maxNotifyBackoff bounds
// notify.max_backoff (a longer wait only hides a dead receiver).
const (
	maxNotifyTimeout = Duration(5 * time.Minute)
	maxNotifyBackoff = Duration(time.Hour)
)

// DefaultNotify returns the default notify settings: no webhooks.
func DefaultNotify() Notify {
	return Notify{
		QueueSize:      256,
		MaxAttempts:    8,
		Timeout:        Duration(10 * time.Second),
		InitialBackoff: Duration(time.Second),
		MaxBackoff:     Duration(5 * time.Minute),
		DeadLetters:    100,
		DrainTimeout:   Duration(5 * time.Second),
	}
}

func (v *validator) notify(c *Config) {
	n := &c.Notify
	v.within("notify.queue_size", n.QueueSize, 1, maxNotifyQueue)
	v.within("notify.max_attempts", n.MaxAttempts, 1, maxNotifyTries)
	v.within("notify.dead_letters", n.DeadLetters, 1, maxDeadLetters)
	v.positive("notify.timeout", n.Timeout)
	if n.Timeout > maxNotifyTimeout {
		v.errorf("notify.timeout", "%s is over %s", n.Timeout, maxNotifyTimeout)
	}
	v.positive("notify.initial_backoff", n.InitialBackoff)
	v.positive("notify.max_backoff", n.MaxBackoff)
	if n.MaxBackoff > maxNotifyBackoff {
		v.errorf("notify.max_backoff", "%s is over %s: a receiver down that long is better found in the dead letters", n.MaxBackoff, maxNotifyBackoff)
	}
	if n.InitialBackoff > n.MaxBackoff && n.MaxBackoff > 0 {
		v.errorf("notify.initial_backoff", "%s is over notify.max_backoff (%s)", n.InitialBackoff, n.MaxBackoff)
	}
	v.nonNegative("notify.drain_timeout", n.DrainTimeout)
	if len(n.Webhooks) > MaxWebhooks {
		v.errorf("notify.webhooks", "%d webhooks, at most %d", len(n.Webhooks), MaxWebhooks)
	}
	names := map[string]int{}
	for i := range n.Webhooks {
		v.webhook(c, fmt.Sprintf("notify.webhooks[%d]", i), &n.Webhooks[i], i, names)
	}
}

func (v *validator) webhook(c *Config, path string, h *Webhook, i int, names map[string]int) {
	switch first, dup := names[h.Name]; {
	case h.Name == "":
		v.errorf(path+".name", "a webhook needs a name (logs and GET /notify name it by it)")
	case dup:
		v.errorf(path+".name", "%s is also the name of notify.webhooks[%d]", quote(h.Name), first)
	default:
		names[h.Name] = i
	}
	// The URL is never quoted: it may hold a token.
	u, err := url.Parse(h.URL)
	switch {
	case h.URL == "":
		v.errorf(path+".url", "a webhook needs a url (http:// or https://)")
	case err != nil:
		v.errorf(path+".url", "not a URL (it does not parse)")
	case u.Scheme != "http" && u.Scheme != "https":
		v.errorf(path+".url", "must start with http:// or https://, got scheme %s", quote(u.Scheme))
	case u.Host == "":
		v.errorf(path+".url", "has no host")
	}
	format := h.Format
	switch format {
	case "", WebhookJSON:
		format = WebhookJSON
	case WebhookSlack:
	default:
		v.errorf(path+".format", "%s is not json or slack", quote(h.Format))
	}
	// The secret is never quoted either.
	switch {
	case h.Secret == "" && format == WebhookJSON:
		v.errorf(path+".secret", "a json webhook needs a secret to sign its bodies (at least %d random characters, e.g. from `openssl rand -hex 32`; write it as ${ENV})", MinWebhookSecret)
	case h.Secret != "" && len(h.Secret) < MinWebhookSecret:
		v.errorf(path+".secret", "is %d characters, at least %d are needed", len(h.Secret), MinWebhookSecret)
	}
	switch h.MinSeverity {
	case "", "minor", "major", "critical":
	default:
		v.errorf(path+".min_severity", "%s is not minor, major or critical", quote(h.MinSeverity))
	}
	for j, name := range h.Chains {
		if !slices.ContainsFunc(c.Chains, func(ch Chain) bool { return ch.Name == name }) {
			v.errorf(fmt.Sprintf("%s.chains[%d]", path, j), "%s is not the name of a chain this gateway serves", quote(name))
		}
	}
}

// within checks that an int is in [lo, hi].
func (v *validator) within(path string, n, lo, hi int) {
	if n < lo || n > hi {
		v.errorf(path, "must be %d to %d, got %d", lo, hi, n)
	}
}
