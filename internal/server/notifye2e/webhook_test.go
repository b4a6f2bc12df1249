package notifye2e

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/devnet"
	"github.com/rpcmesh/rpcmesh/internal/notify"
	"github.com/rpcmesh/rpcmesh/internal/status"
)

// TestWebhookOpenedThenClosed: a cloud outage staged on the devnet (fault
// "down" on cloud=aws) reaches a webhook as a signed "opened" event, its
// recovery as "closed" for the same incident id, in that order; the
// incident (id, kind, message) is the one /status.json and the status
// page's live stream carry, and a Slack webhook is sent the same message.
func TestWebhookOpenedThenClosed(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	calm(ctx, t)
	live := openStream(t)
	ops.reset(0)
	chat.reset(0)
	clear := stage(t, devnet.FaultDown, "cloud=aws")
	staged := time.Now()

	opened := ops.wait(ctx, t, "opened cloud_outage naming aws", func(rq *request) bool {
		inc := &rq.decoded.Incident
		return rq.decoded.Type == status.EventOpened && inc.Kind == status.KindCloudOutage && slices.Contains(inc.Clouds, "aws")
	})
	inc := opened.decoded.Incident
	t.Logf("opened delivered %s after staging: %s", opened.at.Sub(staged).Round(time.Millisecond), inc.Message)
	if !slices.Equal(inc.Providers, []string{"node1", "node2"}) || !inc.Open() || inc.Chain != "devnet" {
		t.Errorf("opened incident: providers %v, open %v, chain %q; want node1 and node2, open, devnet", inc.Providers, inc.Open(), inc.Chain)
	}
	checkDelivery(t, opsSecret, &opened, status.EventOpened)
	// The same incident on /status.json and on the live stream.
	if got, ok := incidentIn(statusJSON(ctx, t), inc.ID); !ok || !same(got, inc) || !got.Open() {
		t.Errorf("/status.json has %+v, the webhook %+v", got, inc)
	}
	if ev := live.wait(ctx, t, status.EventOpened, inc.ID); !same(ev.Incident, inc) {
		t.Errorf("the live stream's opened event %+v, the webhook's %+v", ev.Incident, inc)
	}

	clear()
	recovered := time.Now()
	closed := ops.wait(ctx, t, "closed "+inc.ID, func(rq *request) bool {
		return rq.decoded.Type == status.EventClosed && rq.decoded.Incident.ID == inc.ID
	})
	end := closed.decoded.Incident
	t.Logf("closed delivered %s after recovery: %s", closed.at.Sub(recovered).Round(time.Millisecond), end.Message)
	checkDelivery(t, opsSecret, &closed, status.EventClosed)
	if end.Open() || end.Kind != inc.Kind || !strings.HasPrefix(end.Message, inc.Message) || !strings.Contains(end.Message, "resolved at") {
		t.Errorf("closed incident: kind %s, end %v, message %q; want %s ended, %q and when it was resolved", end.Kind, end.End, end.Message, inc.Kind, inc.Message)
	}
	if got, ok := incidentIn(statusJSON(ctx, t), inc.ID); !ok || !same(got, end) || !got.End.Equal(end.End) {
		t.Errorf("/status.json has %+v, the webhook's closed event %+v", got, end)
	}
	if ev := live.wait(ctx, t, status.EventClosed, inc.ID); !same(ev.Incident, end) {
		t.Errorf("the live stream's closed event %+v, the webhook's %+v", ev.Incident, end)
	}

	// In order: opened, its updates, closed, each once and delivered at
	// the first attempt.
	var types []status.EventType
	for _, rq := range ops.requests() {
		if rq.decoded.Incident.ID == inc.ID {
			types = append(types, rq.decoded.Type)
			if rq.attempt != 1 || rq.answered != http.StatusOK {
				t.Errorf("a %s event was attempt %d (answered %d) at a receiver that never fails", rq.decoded.Type, rq.attempt, rq.answered)
			}
		}
	}
	if len(types) < 2 || types[0] != status.EventOpened || types[len(types)-1] != status.EventClosed ||
		slices.ContainsFunc(types[1:len(types)-1], func(ty status.EventType) bool { return ty != status.EventUpdated }) {
		t.Errorf("the receiver got %v for %s, want opened, any updates, closed", types, inc.ID)
	}

	// The Slack webhook: the same two events as one line each.
	for _, want := range []string{
		notify.SlackText(status.EventOpened, inc.Severity, inc.Chain, inc.Message),
		notify.SlackText(status.EventClosed, end.Severity, end.Chain, end.Message),
	} {
		chat.wait(ctx, t, "the slack line "+want, func(rq *request) bool {
			var body struct {
				Text string `json:"text"`
			}
			return json.Unmarshal(rq.body, &body) == nil && body.Text == want
		})
	}
}

// same reports whether two states of an incident agree on what people
// read: id, kind, chain and message.
func same(a, b status.Incident) bool {
	return a.ID == b.ID && a.Kind == b.Kind && a.Chain == b.Chain && a.Message == b.Message
}

// checkDelivery checks a delivered request of a json webhook: its headers
// as documented, the body's version and type, and its signature.
func checkDelivery(t *testing.T, secret string, rq *request, typ status.EventType) {
	t.Helper()
	h, b := rq.header, &rq.decoded
	for name, want := range map[string]string{
		"Content-Type":        "application/json",
		"User-Agent":          "rpcmesh-webhook/1",
		notify.EventHeader:    string(typ),
		notify.DeliveryHeader: b.DeliveryID,
		notify.AttemptHeader:  strconv.Itoa(rq.attempt),
	} {
		if got := h.Get(name); got != want || got == "" {
			t.Errorf("%s event: header %s %q, want %q", typ, name, got, want)
		}
	}
	if b.Version != notify.SchemaVersion || b.Type != typ || b.At.IsZero() {
		t.Errorf("%s event: body version %d, type %s, at %v", typ, b.Version, b.Type, b.At)
	}
	checkSigned(t, secret, rq)
}

// TestWebhookRetried: a receiver that fails each delivery's first two
// attempts (503, then a dropped connection) still gets the incident's
// opened and closed events, in order, each attempt signed afresh with the
// same delivery id; GET /notify counts the failed attempts and no dead
// letter (nor the receiver's path), and a receiver that does not fail is
// not held back.
func TestWebhookRetried(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	calm(ctx, t)
	var before notify.Status
	admin(t, "/notify", &before)
	ops.reset(0)
	flaky.reset(2)
	clear := stage(t, devnet.FaultDown, "node3")
	staged := time.Now()

	opened := flaky.wait(ctx, t, "opened provider_down naming node3", func(rq *request) bool {
		inc := &rq.decoded.Incident
		return rq.decoded.Type == status.EventOpened && inc.Kind == status.KindProviderDown && slices.Equal(inc.Providers, []string{"node3"})
	})
	id := opened.decoded.Incident.ID
	t.Logf("opened delivered %s after staging, at attempt %d", opened.at.Sub(staged).Round(time.Millisecond), opened.attempt)
	clear()
	recovered := time.Now()
	closed := flaky.wait(ctx, t, "closed "+id, func(rq *request) bool {
		return rq.decoded.Type == status.EventClosed && rq.decoded.Incident.ID == id
	})
	t.Logf("closed delivered %s after recovery, at attempt %d", closed.at.Sub(recovered).Round(time.Millisecond), closed.attempt)

	// Every event of the incident: attempts 1 (503), 2 (dropped), 3 (200),
	// with one delivery id, the same body and a valid signature each; an
	// event's first attempt only after the one before was delivered.
	var types []status.EventType
	var lastDelivered time.Time
	attempts := map[string][]request{}
	for _, rq := range flaky.requests() {
		if rq.decoded.Incident.ID != id {
			continue
		}
		d := rq.header.Get(notify.DeliveryHeader)
		if rq.attempt == 1 {
			types = append(types, rq.decoded.Type)
			if rq.at.Before(lastDelivered) {
				t.Errorf("the %s event's first attempt came before the event ahead of it was delivered", rq.decoded.Type)
			}
		}
		if rq.answered == http.StatusOK {
			lastDelivered = rq.at
		}
		attempts[d] = append(attempts[d], rq)
		checkDelivery(t, flakySecret, &rq, rq.decoded.Type)
		if first := attempts[d][0]; string(first.body) != string(rq.body) {
			t.Errorf("delivery %s attempt %d has another body than attempt 1", d, rq.attempt)
		}
	}
	if len(types) < 2 || types[0] != status.EventOpened || types[len(types)-1] != status.EventClosed {
		t.Errorf("the flaky receiver got %v for %s, want opened, any updates, closed", types, id)
	}
	for d, rqs := range attempts {
		var answers []int
		for _, rq := range rqs {
			answers = append(answers, rq.answered)
		}
		if !slices.Equal(answers, []int{http.StatusServiceUnavailable, 0, http.StatusOK}) {
			t.Errorf("delivery %s was answered %v, want 503, dropped, 200", d, answers)
		}
	}

	// The receiver that does not fail got the same events, once each.
	var opsTypes []status.EventType
	for _, rq := range ops.requests() {
		if rq.decoded.Incident.ID == id {
			opsTypes = append(opsTypes, rq.decoded.Type)
		}
	}
	if !slices.Equal(opsTypes, types) {
		t.Errorf("ops got %v, flaky %v", opsTypes, types)
	}

	var after notify.Status
	admin(t, "/notify", &after)
	i := slices.IndexFunc(after.Webhooks, func(h notify.HookStatus) bool { return h.Name == "flaky" })
	if i < 0 {
		t.Fatalf("GET /notify has no flaky webhook: %+v", after)
	}
	h, was := after.Webhooks[i], before.Webhooks[i]
	// At least: events of other incidents (none expected) fail twice too.
	if h.FailedAttempts-was.FailedAttempts < uint64(2*len(types)) || h.DeadLettered != was.DeadLettered || h.LastError == "" ||
		strings.Contains(h.URL, "/hooks/") {
		t.Errorf("GET /notify flaky: %d failed attempts (want %d more than %d at least), %d dead letters (want %d), last error %q, url %q",
			h.FailedAttempts, 2*len(types), was.FailedAttempts, h.DeadLettered, was.DeadLettered, h.LastError, h.URL)
	}
}
