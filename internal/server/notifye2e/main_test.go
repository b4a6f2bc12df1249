package notifye2e

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/config"
	"github.com/rpcmesh/rpcmesh/internal/devnet"
	"github.com/rpcmesh/rpcmesh/internal/devnetgw"
	"github.com/rpcmesh/rpcmesh/internal/server"
	"github.com/rpcmesh/rpcmesh/internal/status"
	"github.com/rpcmesh/rpcmesh/internal/testwait"
)

var (
	dn   *devnet.Devnet
	gw   *server.Gateway
	base string // the gateway's public listener, "http://host:port"

	// The gateway's webhooks: ops and flaky get signed JSON, chat the
	// Slack body.
	ops, flaky, chat *receiver
)

// The webhooks' secrets.
const (
	opsSecret   = "ops-secret-0123456789abcdef"
	flakySecret = "flaky-secret-fedcba9876543210"
)

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		fmt.Println("notify e2e: skipped with -short")
		return
	}
	ops, flaky, chat = newReceiver(), newReceiver(), newReceiver()
	code := devnetgw.RunSuite("notify e2e", false,
		func(ctx context.Context, d *devnet.Devnet) (*server.Gateway, error) {
			cfg := devnetgw.Config(d.Info(), "127.0.0.1:0", "")
			cfg.Notify.Webhooks = []config.Webhook{
				{Name: "ops", URL: ops.url(), Secret: opsSecret},
				{Name: "flaky", URL: flaky.url(), Secret: flakySecret},
				{Name: "chat", URL: chat.url(), Format: config.WebhookSlack},
			}
			// Retries within the test's time: 50 ms, 100 ms, ... at most 400 ms.
			cfg.Notify.InitialBackoff = config.Duration(50 * time.Millisecond)
			cfg.Notify.MaxBackoff = config.Duration(400 * time.Millisecond)
			cfg.Notify.Timeout = config.Duration(2 * time.Second)
			cfg.Notify.MaxAttempts = 5
			return devnetgw.Start(ctx, cfg, devnetgw.SuiteLogger())
		},
		func(d *devnet.Devnet, g *server.Gateway) int {
			dn, gw, base = d, g, "http://"+g.HTTPAddr()
			return m.Run()
		})
	for _, r := range []*receiver{ops, flaky, chat} {
		r.srv.Close()
	}
	os.Exit(code)
}

// calm waits until every provider is up and no incident is open: the
// start of every test.
func calm(ctx context.Context, t *testing.T) {
	t.Helper()
	var snap status.Snapshot
	if err := testwait.Until(ctx, "every provider up and no incident open", func() bool {
		snap = gw.StatusSource().Snapshot()
		up := !slices.ContainsFunc(snap.Chains[0].Providers, func(p status.Provider) bool { return p.State != status.StateUp })
		return up && !slices.ContainsFunc(snap.Incidents, func(i status.Incident) bool { return i.Open() })
	}); err != nil {
		b, _ := json.MarshalIndent(snap, "", " ")
		t.Fatalf("%v\n%s", err, b)
	}
}

// stage stages a devnet fault and returns a func that clears it (also
// run when the test ends).
func stage(t *testing.T, kind devnet.FaultKind, target string) func() {
	t.Helper()
	return dn.Stage(t, devnet.FaultSpec{Target: target, Kind: kind})
}

// statusJSON fetches /status.json from the gateway's public listener.
func statusJSON(ctx context.Context, t *testing.T) status.Snapshot {
	t.Helper()
	var snap status.Snapshot
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/status.json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET /status.json: %v", err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&snap); err != nil {
		t.Fatalf("GET /status.json: %v", err)
	}
	return snap
}

// incidentIn returns the incident id of snap.
func incidentIn(snap status.Snapshot, id string) (status.Incident, bool) {
	i := slices.IndexFunc(snap.Incidents, func(i status.Incident) bool { return i.ID == id })
	if i < 0 {
		return status.Incident{}, false
	}
	return snap.Incidents[i], true
}

// stream is the status page's live stream (/status/events) as a browser
// reads it: the incident events it carried, in order.
type stream struct {
	mu     sync.Mutex
	events []status.Event
}

// openStream reads /status/events until the test ends; it returns once
// the stream's first snapshot came (from then on no event is missed).
func openStream(t *testing.T) *stream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/status/events", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatalf("GET /status/events: %v", err)
	}
	s := &stream{}
	first := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 64<<10), 4<<20)
		typ, snapshots := "", 0
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event: "):
				typ = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: ") && typ == "snapshot":
				if snapshots++; snapshots == 1 {
					close(first)
				}
			case strings.HasPrefix(line, "data: ") && typ == "incident":
				var ev status.Event
				if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &ev); err == nil {
					s.mu.Lock()
					s.events = append(s.events, ev)
					s.mu.Unlock()
				}
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	select {
	case <-first:
	case <-done:
		t.Fatal("the live stream ended before its first snapshot")
	case <-time.After(10 * time.Second):
		t.Fatal("no snapshot on the live stream within 10 s")
	}
	return s
}

// wait polls the stream until it carried an event of typ for incident
// id, at most until ctx ends.
func (s *stream) wait(ctx context.Context, t *testing.T, typ status.EventType, id string) status.Event {
	t.Helper()
	var ev status.Event
	if err := testwait.Until(ctx, fmt.Sprintf("a %s event for %s on the live stream", typ, id), func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		i := slices.IndexFunc(s.events, func(ev status.Event) bool { return ev.Type == typ && ev.Incident.ID == id })
		if i >= 0 {
			ev = s.events[i]
		}
		return i >= 0
	}); err != nil {
		t.Fatal(err)
	}
	return ev
}

// admin fetches an admin path of the gateway and decodes its JSON.
func admin(t *testing.T, path string, v any) {
	t.Helper()
	rec := httptest.NewRecorder()
	gw.AdminHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, rec.Code, rec.Body)
	}
	if err := json.Unmarshal(rec.Body.Bytes(), v); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
}
