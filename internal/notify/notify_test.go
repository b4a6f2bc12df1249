package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/cmdtest"
	"github.com/rpcmesh/rpcmesh/internal/config"
	"github.com/rpcmesh/rpcmesh/internal/status"
	"github.com/rpcmesh/rpcmesh/internal/testwait"
)

// TestSignedDelivery: the receiver gets the event as a versioned JSON body
// with a delivery id, and checks its signature the way
// docs/notifications.md tells receivers to (HMAC-SHA256 over
// "<t>.<body>", computed here without this package), and with Verify.
func TestSignedDelivery(t *testing.T) {
	rc := newReceiver(t, nil)
	n, src, clock := start(t, testConfig(rc.srv.URL+"/hooks/rpcmesh", nil), Options{})
	src.send(t, event(status.EventOpened, "inc-1", status.SeverityCritical, "eth: 2 of 5 operators (both on aws) unreachable"))
	r := rc.next(t)

	// The receiver's check, from the documented recipe.
	sig := r.header.Get(SignatureHeader)
	var ts, v1 string
	for part := range strings.SplitSeq(sig, ",") {
		k, v, _ := strings.Cut(part, "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			v1 = v
		}
	}
	m := hmac.New(sha256.New, []byte(testSecret))
	m.Write([]byte(ts + "." + string(r.body)))
	if want := hex.EncodeToString(m.Sum(nil)); v1 != want {
		t.Fatalf("signature %q, the receiver computes v1=%s", sig, want)
	}
	if ts != fmt.Sprint(clock.Now().Unix()) {
		t.Errorf("signature timestamp %s, want the send time %d", ts, clock.Now().Unix())
	}
	if err := Verify(testSecret, sig, r.body, clock.Now(), DefaultTolerance); err != nil {
		t.Errorf("Verify: %v", err)
	}
	if err := Verify("another-secret-0123456789", sig, r.body, clock.Now(), DefaultTolerance); err == nil {
		t.Error("Verify accepted the signature with another secret")
	}

	b := r.decode(t)
	if b.Version != SchemaVersion || b.Type != status.EventOpened || b.DeliveryID == "" || b.DeliveryID != r.header.Get(DeliveryHeader) {
		t.Errorf("body version %d type %s delivery %q (header %q)", b.Version, b.Type, b.DeliveryID, r.header.Get(DeliveryHeader))
	}
	if b.Incident.ID != "inc-1" || b.Incident.Severity != status.SeverityCritical || !slices.Equal(b.Incident.Clouds, []string{"aws"}) ||
		!strings.Contains(b.Incident.Message, "unreachable") {
		t.Errorf("incident %+v", b.Incident)
	}
	for k, want := range map[string]string{"Content-Type": "application/json", EventHeader: "opened", AttemptHeader: "1"} {
		if got := r.header.Get(k); got != want {
			t.Errorf("header %s: %q, want %q", k, got, want)
		}
	}
	testwait.For(t, 5*time.Second, "the delivery recorded", func() bool { return hookStatus(n).Delivered == 1 })
	doc, _ := json.Marshal(n.Status())
	if bytes.Contains(doc, []byte(testSecret)) || bytes.Contains(doc, []byte("/hooks/rpcmesh")) {
		t.Errorf("GET /notify shows the secret or the URL's path: %s", doc)
	}
}

// TestRetriesKeepOrder: the receiver fails the first event twice (500);
// it is retried after 1s then 2s (the backoff, no jitter), with the same
// delivery id, and delivered once; the update and the close wait behind
// it and arrive after it, in order.
func TestRetriesKeepOrder(t *testing.T) {
	rc := newReceiver(t, func(n int, _ http.ResponseWriter, _ *http.Request) int {
		if n < 2 {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	})
	n, src, clock := start(t, testConfig(rc.srv.URL, nil), Options{})
	src.send(t, event(status.EventOpened, "inc-1", status.SeverityMajor, "opened"))
	src.send(t, event(status.EventUpdated, "inc-1", status.SeverityCritical, "worse"))
	src.send(t, event(status.EventClosed, "inc-1", status.SeverityCritical, "over"))
	for range 5 {
		rc.next(t)
	}
	testwait.For(t, 5*time.Second, "three deliveries", func() bool { return hookStatus(n).Delivered == 3 })

	var delivered, tried []string
	ids := map[string]bool{}
	for i, r := range rc.requests() {
		b := r.decode(t)
		tried = append(tried, string(b.Type)+"/"+r.header.Get(AttemptHeader))
		if r.status == http.StatusOK {
			delivered = append(delivered, b.Incident.Message)
		}
		if i < 3 {
			ids[b.DeliveryID] = true
		}
	}
	if want := []string{"opened/1", "opened/2", "opened/3", "updated/1", "closed/1"}; !slices.Equal(tried, want) {
		t.Errorf("attempts %v, want %v", tried, want)
	}
	if want := []string{"opened", "worse", "over"}; !slices.Equal(delivered, want) {
		t.Errorf("delivered %v, want %v", delivered, want)
	}
	if len(ids) != 1 {
		t.Errorf("the retries of one event carried %d delivery ids", len(ids))
	}
	if got, want := clock.Waits(), []time.Duration{time.Second, 2 * time.Second}; !slices.Equal(got, want) {
		t.Errorf("waits %v, want %v", got, want)
	}
	st := hookStatus(n)
	if st.FailedAttempts != 2 || st.DeadLettered != 0 || !strings.Contains(st.LastError, "500") {
		t.Errorf("status %+v", st)
	}
}

// TestRetryAfterHonoured: a 429 or 503 with Retry-After (seconds or a
// date) sets the wait before the next attempt, at most notify.max_backoff.
func TestRetryAfterHonoured(t *testing.T) {
	tests := []struct {
		name  string
		code  int
		value func(now time.Time) string
		want  time.Duration
	}{
		{"429 seconds", http.StatusTooManyRequests, func(time.Time) string { return "7" }, 7 * time.Second},
		{"503 date", http.StatusServiceUnavailable, func(now time.Time) string { return now.Add(90 * time.Second).Format(http.TimeFormat) }, 90 * time.Second},
		{"capped", http.StatusTooManyRequests, func(time.Time) string { return "86400" }, 5 * time.Minute},
		{"unreadable: the backoff", http.StatusTooManyRequests, func(time.Time) string { return "soon" }, time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newClock()
			rc := newReceiver(t, func(n int, w http.ResponseWriter, _ *http.Request) int {
				if n == 0 {
					w.Header().Set("Retry-After", tt.value(clock.Now()))
					return tt.code
				}
				return http.StatusOK
			})
			n, src, _ := start(t, testConfig(rc.srv.URL, nil), Options{Clock: clock})
			src.send(t, event(status.EventOpened, "inc-1", status.SeverityMajor, "m"))
			rc.next(t)
			rc.next(t)
			testwait.For(t, 5*time.Second, "the delivery", func() bool { return hookStatus(n).Delivered == 1 })
			if got := clock.Waits(); !slices.Equal(got, []time.Duration{tt.want}) {
				t.Errorf("waits %v, want [%s]", got, tt.want)
			}
		})
	}
}

// TestTimeoutRetried: a receiver that does not answer within
// notify.timeout counts as a failed attempt and is tried again.
func TestTimeoutRetried(t *testing.T) {
	rc := newReceiver(t, func(n int, _ http.ResponseWriter, r *http.Request) int {
		if n == 0 {
			<-r.Context().Done() // hangs until the notifier gives up on it
		}
		return http.StatusOK
	})
	n, src, _ := start(t, testConfig(rc.srv.URL, func(c *config.Notify) { c.Timeout = config.Duration(100 * time.Millisecond) }), Options{})
	src.send(t, event(status.EventOpened, "inc-1", status.SeverityMajor, "m"))
	testwait.For(t, 5*time.Second, "the delivery after a timeout", func() bool { return hookStatus(n).Delivered == 1 })
	st := hookStatus(n)
	if st.FailedAttempts != 1 || !strings.Contains(st.LastError, "no answer within 100ms") {
		t.Errorf("status %+v", st)
	}
}

// TestFullQueueDeadLetters: while the receiver holds the first event, a
// producer sends five more into a queue of two: it never waits, the three
// oldest waiting go to the dead letters (queue_full), and the receiver
// then gets the held one and the two newest, in order.
func TestFullQueueDeadLetters(t *testing.T) {
	release := make(chan struct{})
	held := make(chan struct{})
	rc := newReceiver(t, func(n int, _ http.ResponseWriter, _ *http.Request) int {
		if n == 0 {
			close(held)
			<-release
		}
		return http.StatusOK
	})
	n, src, _ := start(t, testConfig(rc.srv.URL, func(c *config.Notify) { c.QueueSize = 2 }), Options{})
	src.send(t, event(status.EventOpened, "inc-1", status.SeverityMajor, "e1"))
	select {
	case <-held:
	case <-time.After(5 * time.Second):
		t.Fatal("the first event did not reach the receiver")
	}
	for i := 2; i <= 6; i++ {
		src.send(t, event(status.EventUpdated, "inc-1", status.SeverityMajor, fmt.Sprintf("e%d", i)))
	}
	testwait.For(t, 5*time.Second, "three dead letters", func() bool { return hookStatus(n).DeadLettered == 3 })
	st := hookStatus(n)
	if st.Queued != 2 || !st.Sending {
		t.Errorf("queued %d sending %v, want 2 and true", st.Queued, st.Sending)
	}
	close(release)
	testwait.For(t, 5*time.Second, "three deliveries", func() bool { return hookStatus(n).Delivered == 3 })
	if got, want := rc.messages(t), []string{"e1", "e5", "e6"}; !slices.Equal(got, want) {
		t.Errorf("delivered %v, want %v", got, want)
	}
	dead := hookStatus(n).DeadLetters
	if len(dead) != 3 || dead[0].Reason != ReasonQueueFull || dead[0].Attempts != 0 || !strings.Contains(dead[0].Error, "queue full") ||
		dead[0].IncidentID != "inc-1" || dead[0].Type != status.EventUpdated {
		t.Errorf("dead letters %+v", dead)
	}
}

// TestGivenUpOnAdminRoute: an event that fails every attempt, and one the
// receiver refuses (404, not retried), go to the dead letters, which the
// admin route shows with the last error, newest first.
func TestGivenUpOnAdminRoute(t *testing.T) {
	rc := newReceiver(t, func(_ int, w http.ResponseWriter, r *http.Request) int {
		if r.Header.Get(EventHeader) == "closed" {
			return http.StatusNotFound
		}
		return http.StatusBadGateway
	})
	n, src, clock := start(t, testConfig(rc.srv.URL, func(c *config.Notify) { c.MaxAttempts = 3 }), Options{})
	src.send(t, event(status.EventOpened, "inc-1", status.SeverityMajor, "m"))
	src.send(t, event(status.EventClosed, "inc-1", status.SeverityMajor, "m"))
	testwait.For(t, 5*time.Second, "two dead letters", func() bool { return hookStatus(n).DeadLettered == 2 })

	admin := httptest.NewServer(n)
	defer admin.Close()
	resp, err := http.Get(admin.URL + "/notify")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc Status
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Webhooks) != 1 || doc.Webhooks[0].Name != "ops" || doc.Webhooks[0].Delivered != 0 || doc.Webhooks[0].FailedAttempts != 4 {
		t.Fatalf("GET /notify: %+v", doc)
	}
	dead := doc.Webhooks[0].DeadLetters
	if len(dead) != 2 {
		t.Fatalf("dead letters %+v", dead)
	}
	refused, outOfTries := dead[0], dead[1]
	if refused.Reason != ReasonRefused || refused.Attempts != 1 || refused.Type != status.EventClosed || !strings.Contains(refused.Error, "404") {
		t.Errorf("refused: %+v", refused)
	}
	if outOfTries.Reason != ReasonMaxAttempts || outOfTries.Attempts != 3 || outOfTries.Type != status.EventOpened ||
		!strings.Contains(outOfTries.Error, "502 Bad Gateway") || outOfTries.IncidentID != "inc-1" {
		t.Errorf("out of attempts: %+v", outOfTries)
	}
	if got := clock.Waits(); len(got) != 2 {
		t.Errorf("waits %v: two between three attempts, none after a 404", got)
	}
	if len(rc.requests()) != 4 {
		t.Errorf("%d requests, want 3 + 1", len(rc.requests()))
	}
}

// TestSlackBody: format slack sends {"text": ...} and nothing else, with
// the incident's message.
func TestSlackBody(t *testing.T) {
	rc := newReceiver(t, nil)
	_, src, _ := start(t, testConfig(rc.srv.URL, func(c *config.Notify) {
		c.Webhooks[0].Format, c.Webhooks[0].Secret = config.WebhookSlack, ""
	}), Options{})
	src.send(t, event(status.EventOpened, "inc-1", status.SeverityCritical, "eth: head frozen at 1200 since 14:02 UTC"))
	src.send(t, event(status.EventClosed, "inc-1", status.SeverityCritical, "eth: head moves again"))
	for _, want := range []string{
		"[rpcmesh] Incident opened (critical, eth): eth: head frozen at 1200 since 14:02 UTC",
		"[rpcmesh] Incident resolved (eth): eth: head moves again",
	} {
		r := rc.next(t)
		var body map[string]any
		if err := json.Unmarshal(r.body, &body); err != nil {
			t.Fatal(err)
		}
		if len(body) != 1 || body["text"] != want {
			t.Errorf("slack body %s, want only text %q", r.body, want)
		}
		if r.header.Get(SignatureHeader) != "" {
			t.Error("signed without a secret")
		}
	}
}

// TestFilters: a hook with min_severity major and chains [eth] gets only
// incidents of eth at least major, and every later event of those (the
// close of one that grew milder included).
func TestFilters(t *testing.T) {
	rc := newReceiver(t, nil)
	n, src, _ := start(t, testConfig(rc.srv.URL, func(c *config.Notify) {
		c.Webhooks[0].MinSeverity, c.Webhooks[0].Chains = "major", []string{"eth"}
	}), Options{})
	other := event(status.EventOpened, "inc-0", status.SeverityCritical, "other chain")
	other.Incident.Chain = "base"
	src.send(t, other)
	src.send(t, event(status.EventOpened, "inc-1", status.SeverityMinor, "minor"))
	src.send(t, event(status.EventOpened, "inc-2", status.SeverityMajor, "major"))
	src.send(t, event(status.EventUpdated, "inc-2", status.SeverityMinor, "milder"))
	src.send(t, event(status.EventUpdated, "inc-1", status.SeverityMinor, "minor again"))
	src.send(t, event(status.EventClosed, "inc-2", status.SeverityMinor, "over"))
	testwait.For(t, 5*time.Second, "three deliveries", func() bool { return hookStatus(n).Delivered == 3 })
	if got, want := rc.messages(t), []string{"major", "milder", "over"}; !slices.Equal(got, want) {
		t.Errorf("delivered %v, want %v", got, want)
	}
}

// TestCloseDrains: Close sends what is queued before it returns; with a
// receiver that never answers it returns after notify.drain_timeout,
// leaving the event undelivered (and logged).
func TestCloseDrains(t *testing.T) {
	rc := newReceiver(t, nil)
	n := New(testConfig(rc.srv.URL, nil), Options{Clock: newClock()})
	src := newSource()
	n.Start(src)
	for i := range 3 {
		src.send(t, event(status.EventUpdated, "inc-1", status.SeverityMajor, fmt.Sprint(i)))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	n.Close(ctx)
	if st := hookStatus(n); st.Delivered != 3 || st.Queued != 0 {
		t.Errorf("after Close: %+v", st)
	}

	hang := newReceiver(t, func(_ int, _ http.ResponseWriter, r *http.Request) int {
		<-r.Context().Done()
		return http.StatusOK
	})
	var logs cmdtest.SyncBuffer
	n = New(testConfig(hang.srv.URL, func(c *config.Notify) { c.DrainTimeout = config.Duration(50 * time.Millisecond) }),
		Options{Clock: newClock(), Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	n.Start(src)
	src.send(t, event(status.EventOpened, "inc-1", status.SeverityMajor, "m"))
	hang.next(t)
	n.Close(ctx)
	if ctx.Err() != nil {
		t.Fatal("Close waited past its context")
	}
	if st := hookStatus(n); st.Delivered != 0 || !st.Sending {
		t.Errorf("after Close: %+v", st)
	}
	if !strings.Contains(logs.String(), "webhook events not delivered at shutdown") {
		t.Errorf("logs: %s", logs.String())
	}
}

// TestSecretsNeverShown: while a webhook whose URL holds a token fails
// every way (refused connections, 500s), neither the token nor the
// secret appears in a log line or on GET /notify.
func TestSecretsNeverShown(t *testing.T) {
	const token = "T000/B000/s3cr3tT0ken"
	rc := newReceiver(t, func(int, http.ResponseWriter, *http.Request) int { return http.StatusInternalServerError })
	ln := httptest.NewServer(http.NotFoundHandler())
	deadURL := ln.URL
	ln.Close() // nothing listens there any more
	var logs cmdtest.SyncBuffer
	n, src, _ := start(t, testConfig(rc.srv.URL+"/"+token, func(c *config.Notify) {
		c.MaxAttempts = 2
		dead := c.Webhooks[0]
		dead.Name, dead.URL = "gone", deadURL+"/"+token+"?key="+testSecret
		c.Webhooks = append(c.Webhooks, dead)
	}), Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	src.send(t, event(status.EventOpened, "inc-1", status.SeverityMajor, "m"))
	testwait.For(t, 5*time.Second, "both webhooks given up", func() bool {
		st := n.Status()
		return st.Webhooks[0].DeadLettered == 1 && st.Webhooks[1].DeadLettered == 1
	})
	doc, _ := json.Marshal(n.Status())
	for _, shown := range []string{logs.String(), string(doc)} {
		if strings.Contains(shown, "s3cr3tT0ken") || strings.Contains(shown, testSecret) {
			t.Errorf("a secret is shown:\n%s", shown)
		}
	}
	if st := n.Status().Webhooks[1]; !strings.Contains(st.LastError, "connection refused") {
		t.Errorf("last error of the dead address: %q", st.LastError)
	}
	if !strings.Contains(logs.String(), "webhook event given up") {
		t.Errorf("no log line for the dead letters:\n%s", logs.String())
	}
}
