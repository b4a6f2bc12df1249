package notify

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/config"
	"github.com/rpcmesh/rpcmesh/internal/status"
)

const testSecret = "0123456789abcdef-test-secret"

// fakeSource is a status.Source whose events the test sends.
type fakeSource struct{ events chan status.Event }

func newSource() *fakeSource { return &fakeSource{events: make(chan status.Event)} }

func (s *fakeSource) Snapshot() status.Snapshot { return status.Snapshot{} }

func (s *fakeSource) Subscribe(context.Context) <-chan status.Event { return s.events }

// send hands ev to the notifier as the gateway would; it fails the test
// when the notifier does not take it at once (the producer would block).
func (s *fakeSource) send(t *testing.T, ev status.Event) {
	t.Helper()
	select {
	case s.events <- ev:
	case <-time.After(5 * time.Second):
		t.Fatalf("the notifier did not take event %s %s: the producer is blocked", ev.Type, ev.Incident.ID)
	}
}

// fakeClock never waits: it records each wait asked and moves its time on.
type fakeClock struct {
	mu    sync.Mutex
	now   time.Time
	waits []time.Duration
}

func newClock() *fakeClock { return &fakeClock{now: time.Date(2026, 12, 6, 14, 2, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Wait(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.waits = append(c.waits, d)
	c.now = c.now.Add(d)
	return nil
}

func (c *fakeClock) Waits() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.waits...)
}

// received is one request the test receiver saw.
type received struct {
	header http.Header
	body   []byte
	status int // what the receiver answered
}

func (r received) decode(t *testing.T) Body {
	t.Helper()
	var b Body
	if err := json.Unmarshal(r.body, &b); err != nil {
		t.Fatalf("body %s: %v", r.body, err)
	}
	return b
}

// receiver is a webhook receiver on 127.0.0.1 that records every request
// and answers what answer says for the n-th (from 0).
type receiver struct {
	srv    *httptest.Server
	answer func(n int, w http.ResponseWriter, r *http.Request) int
	mu     sync.Mutex
	got    []received
	seen   chan received // every request, as it arrives (no status yet)
}

func newReceiver(t *testing.T, answer func(n int, w http.ResponseWriter, r *http.Request) int) *receiver {
	rc := &receiver{answer: answer, seen: make(chan received, 1000)}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		n := len(rc.got)
		rc.got = append(rc.got, received{header: r.Header.Clone(), body: body})
		rc.mu.Unlock()
		rc.seen <- received{header: r.Header.Clone(), body: body}
		code := http.StatusOK
		if rc.answer != nil {
			code = rc.answer(n, w, r)
		}
		rc.mu.Lock()
		rc.got[n].status = code
		rc.mu.Unlock()
		w.WriteHeader(code)
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

// requests returns every request seen so far.
func (rc *receiver) requests() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]received(nil), rc.got...)
}

// messages is the incident message of every request seen so far, in order.
func (rc *receiver) messages(t *testing.T) []string {
	t.Helper()
	var got []string
	for _, r := range rc.requests() {
		got = append(got, r.decode(t).Incident.Message)
	}
	return got
}

// next waits for the next request to arrive.
func (rc *receiver) next(t *testing.T) received {
	t.Helper()
	select {
	case r := <-rc.seen:
		return r
	case <-time.After(5 * time.Second):
		t.Fatal("no request reached the receiver")
	}
	return received{}
}

// testConfig is a notify section with one webhook to url.
func testConfig(url string, edit func(*config.Notify)) config.Notify {
	c := config.DefaultNotify()
	c.Webhooks = []config.Webhook{{Name: "ops", URL: url, Secret: testSecret}}
	if edit != nil {
		edit(&c)
	}
	return c
}

// start builds a notifier with a fake clock and no jitter, and starts it
// on a fake source; it is closed when the test ends.
func start(t *testing.T, cfg config.Notify, opts Options) (*Notifier, *fakeSource, *fakeClock) {
	t.Helper()
	clock := newClock()
	if opts.Clock == nil {
		opts.Clock = clock
	}
	if opts.Jitter == nil {
		opts.Jitter = func() float64 { return 0 }
	}
	n := New(cfg, opts)
	src := newSource()
	n.Start(src)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		n.Close(ctx)
	})
	return n, src, clock
}

// event is an incident event of the chain "eth".
func event(typ status.EventType, id string, sev status.Severity, msg string) status.Event {
	at := time.Date(2026, 12, 6, 14, 2, 0, 0, time.UTC)
	return status.Event{Type: typ, Incident: status.Incident{ID: id, Kind: status.KindCloudOutage, Chain: "eth",
		Severity: sev, Impact: status.ImpactNone, Providers: []string{"a", "b"}, Clouds: []string{"aws"},
		Start: at, Updated: at, Message: msg}}
}

// hookStatus is the first webhook's status.
func hookStatus(n *Notifier) HookStatus { return n.Status().Webhooks[0] }
