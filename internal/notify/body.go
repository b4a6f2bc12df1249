package notify

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/status"
)

// SchemaVersion is the version of Body; it changes only when a field
// changes meaning or goes away (new fields may appear without it).
const SchemaVersion = 1

// Body is what a json webhook receives: one incident event. A receiver
// written in Go may decode into it.
type Body struct {
	Version int `json:"version"` // SchemaVersion
	// DeliveryID names this event for this webhook, the same on every
	// attempt: a receiver that sees it twice has seen a retry.
	DeliveryID string           `json:"deliveryId"`
	Type       status.EventType `json:"type"`
	At         time.Time        `json:"at"` // when the gateway saw the event
	// Incident is the whole incident as of the event: a receiver that
	// missed earlier events still knows its state.
	Incident status.Incident `json:"incident"`
}

// delivery is one event on its way to one webhook. It holds copies of
// what it needs, never the source's slices.
type delivery struct {
	id       string
	typ      status.EventType
	at       time.Time
	incident json.RawMessage // the incident, encoded once for every hook
	inc      brief
}

// brief is what the slack text and the dead letters tell of an incident.
type brief struct {
	ID       string
	Kind     status.Kind
	Chain    string
	Severity status.Severity
	Message  string
}

// jsonBody encodes d as a Body.
func jsonBody(d *delivery) ([]byte, error) {
	return json.Marshal(struct {
		Version    int              `json:"version"`
		DeliveryID string           `json:"deliveryId"`
		Type       status.EventType `json:"type"`
		At         time.Time        `json:"at"`
		Incident   json.RawMessage  `json:"incident"`
	}{SchemaVersion, d.id, d.typ, d.at, d.incident})
}

// slackBody encodes d as a Slack incoming webhook's message:
// {"text": "..."}.
func slackBody(d *delivery) ([]byte, error) {
	return json.Marshal(struct {
		Text string `json:"text"`
	}{SlackText(d.typ, d.inc.Severity, d.inc.Chain, d.inc.Message)})
}

// SlackText is the one line a slack webhook is sent for an event.
func SlackText(typ status.EventType, sev status.Severity, chain, message string) string {
	switch typ {
	case status.EventOpened:
		return fmt.Sprintf("[rpcmesh] Incident opened (%s, %s): %s", sev, chain, message)
	case status.EventClosed:
		return fmt.Sprintf("[rpcmesh] Incident resolved (%s): %s", chain, message)
	}
	return fmt.Sprintf("[rpcmesh] Incident updated (%s, %s): %s", sev, chain, message)
}

// backoff is the wait after the given number of failed attempts (1 or
// more): initial doubled per further failure, at most maxWait, less a
// random share of up to half (jitter in [0, 1)), so that hooks failing
// together do not retry together.
func backoff(initial, maxWait time.Duration, failures int, jitter float64) time.Duration {
	d := initial
	for i := 1; i < failures && d < maxWait; i++ {
		d *= 2
	}
	d = min(d, maxWait)
	return d - time.Duration(jitter*float64(d/2))
}

// retryAfter reads a Retry-After header (seconds or an HTTP date) as a
// wait from now; 0 when absent or unreadable.
func retryAfter(h http.Header, now time.Time) time.Duration {
	v := h.Get("Retry-After")
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseInt(v, 10, 64); err == nil {
		if s <= 0 {
			return 0
		}
		return time.Duration(min(s, int64(24*time.Hour/time.Second))) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// retryable reports whether an answer with this HTTP status is worth
// another attempt: timeouts, throttling and server errors. Other answers
// (4xx, 3xx: redirects are not followed) will not change on their own.
func retryable(code int) bool {
	return code == http.StatusRequestTimeout || code == http.StatusTooManyRequests || code >= 500
}

// severityRank orders severities; an unknown one ranks as critical, so a
// new severity is sent rather than filtered out.
func severityRank(s status.Severity) int {
	switch s {
	case status.SeverityMinor, "":
		return 0
	case status.SeverityMajor:
		return 1
	}
	return 2
}
