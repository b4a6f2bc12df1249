package statuspage_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/status"
	"github.com/rpcmesh/rpcmesh/internal/statuspage"
	"github.com/rpcmesh/rpcmesh/internal/statuspage/pagetest"
)

var client = &http.Client{Timeout: 10 * time.Second}

func fetch(t *testing.T, method, url string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// TestServe: each of the page's paths answers with its type and content;
// files outside the page, other methods and unknown paths do not.
func TestServe(t *testing.T) {
	base := pagetest.Serve(t, statuspage.New(pagetest.NewSource(pagetest.Example()), statuspage.Options{}))
	for _, tc := range []struct {
		method, path string
		code         int
		ctype, body  string
	}{
		{"GET", "/", 200, "text/html; charset=utf-8", `<script src="/status/assets/page.js">`},
		{"GET", "/status", 200, "text/html; charset=utf-8", "<title>rpcmesh status</title>"},
		{"GET", "/status/", 200, "text/html; charset=utf-8", "<title>rpcmesh status</title>"},
		{"HEAD", "/status", 200, "text/html; charset=utf-8", ""},
		{"GET", "/status.json", 200, "application/json", `"name":"devnet"`},
		{"GET", "/status/history.json", 200, "application/json", `"intervalMs":10000`},
		{"GET", "/status/assets/page.js", 200, "text/javascript; charset=utf-8", "EventSource"},
		{"GET", "/status/assets/charts.js", 200, "text/javascript; charset=utf-8", "new uPlot("},
		{"GET", "/status/assets/page.css", 200, "text/css; charset=utf-8", ".timeline"},
		{"GET", "/status/assets/uplot/uPlot.iife.min.js", 200, "text/javascript; charset=utf-8", "uPlot"},
		{"GET", "/status/assets/uplot/uPlot.min.css", 200, "text/css; charset=utf-8", ".uplot"},
		{"GET", "/status/assets/uplot/LICENSE", 200, "text/plain; charset=utf-8", "MIT"},
		{"GET", "/status/assets/nothing.js", 404, "text/plain; charset=utf-8", "no such file"},
		{"GET", "/status/assets/", 404, "text/plain; charset=utf-8", "no such file"},
		// Cleaned by the client or the server to a path that is not the
		// page's (ctype "": not checked); never the package's source.
		{"GET", "/status/assets/../page.go", 404, "", ""},
		{"GET", "/status/assets/%2e%2e/page.go", 404, "", ""},
		{"GET", "/status/assets/uplot/../../page.go", 404, "", ""},
		{"POST", "/status.json", 405, "text/plain; charset=utf-8", "read-only"},
		{"DELETE", "/status", 405, "text/plain; charset=utf-8", "read-only"},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			resp, body := fetch(t, tc.method, base+tc.path)
			if resp.StatusCode != tc.code {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.code, body)
			}
			if strings.Contains(body, "package statuspage") {
				t.Fatalf("served Go source: %.100s", body)
			}
			if tc.ctype == "" {
				return
			}
			if got := resp.Header.Get("Content-Type"); got != tc.ctype {
				t.Errorf("Content-Type %q, want %q", got, tc.ctype)
			}
			if !strings.Contains(body, tc.body) {
				t.Errorf("body does not contain %q:\n%.300s", tc.body, body)
			}
			if tc.method == "HEAD" && body != "" {
				t.Errorf("HEAD answered a body: %.100s", body)
			}
			if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
				t.Errorf("Content-Security-Policy %q", csp)
			}
		})
	}
}

// TestOwns: the page claims its own paths and no chain's.
func TestOwns(t *testing.T) {
	for path, want := range map[string]bool{
		"/": true, "/status": true, "/status/": true, "/status.json": true, "/status/events": true,
		"/status/history.json": true, "/status/assets/page.js": true,
		"/devnet": false, "/1": false, "/statusx": false, "/status/other": false, "//": false,
	} {
		if got := statuspage.Owns([]byte(path)); got != want {
			t.Errorf("Owns(%q) = %v, want %v", path, got, want)
		}
	}
}

// TestSnapshotJSON: /status.json is the source's snapshot.
func TestSnapshotJSON(t *testing.T) {
	src := pagetest.NewSource(pagetest.Example())
	base := pagetest.Serve(t, statuspage.New(src, statuspage.Options{}))
	_, body := fetch(t, "GET", base+"/status.json")
	var got status.Snapshot
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatal(err)
	}
	want := src.Snapshot()
	if len(got.Chains) != 1 || got.Chains[0].Head != want.Chains[0].Head || len(got.Chains[0].Providers) != 5 {
		t.Fatalf("got %+v", got)
	}
	if p := got.Chains[0].Providers[1]; p.State != status.StateDown || p.Reason == "" {
		t.Errorf("node2 = %+v, want down with its reason", p)
	}
	if time.Since(got.At) > time.Minute {
		t.Errorf("snapshot at %v: not taken now", got.At)
	}
}

// sse reads server-sent events from a stream.
type sse struct {
	r    *bufio.Reader
	body io.Closer
}

func openEvents(t *testing.T, ctx context.Context, url string) (*sse, *http.Response) {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return &sse{r: bufio.NewReader(resp.Body), body: resp.Body}, resp
}

// next returns the next event's type and data.
func (s *sse) next() (string, string, error) {
	var typ, data string
	for {
		line, err := s.r.ReadString('\n')
		if err != nil {
			return "", "", err
		}
		line = strings.TrimRight(line, "\n")
		switch {
		case line == "" && typ != "":
			return typ, data, nil
		case strings.HasPrefix(line, "event: "):
			typ = line[len("event: "):]
		case strings.HasPrefix(line, "data: "):
			data = line[len("data: "):]
		}
	}
}

// until reads events until one of type typ whose data satisfies ok.
func (s *sse) until(t *testing.T, typ string, ok func(data string) bool) string {
	t.Helper()
	for {
		got, data, err := s.next()
		if err != nil {
			t.Fatalf("waiting for a %s event: %v", typ, err)
		}
		if got == typ && ok(data) {
			return data
		}
	}
}

// TestEvents: the stream opens with a snapshot, pushes fresh snapshots,
// passes an incident event on as it is published, and tells when the
// history has a new sample.
func TestEvents(t *testing.T) {
	src := pagetest.NewSource(pagetest.Example())
	page := statuspage.New(src, statuspage.Options{PushInterval: 50 * time.Millisecond, SampleInterval: 100 * time.Millisecond})
	base := pagetest.Serve(t, page)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, resp := openEvents(t, ctx, base+statuspage.PathEvents)
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream; charset=utf-8" {
		t.Fatalf("Content-Type %q", ct)
	}
	typ, data, err := s.next()
	if err != nil || typ != "snapshot" || !strings.Contains(data, `"devnet"`) {
		t.Fatalf("first event %q %q %v, want the snapshot", typ, data, err)
	}
	src.Update(func(snap *status.Snapshot) { snap.Chains[0].Head = 4712 })
	s.until(t, "snapshot", func(d string) bool { return strings.Contains(d, `"head":4712`) })

	inc := status.Incident{ID: "inc-1", Kind: status.KindCloudOutage, Chain: "devnet", Severity: status.SeverityMajor,
		Impact: status.ImpactNone, Clouds: []string{"aws"}, Start: time.Now().UTC(), Message: "devnet: aws unreachable"}
	src.Publish(status.Event{Type: status.EventOpened, Incident: inc})
	data = s.until(t, "incident", func(string) bool { return true })
	var ev status.Event
	if err := json.Unmarshal([]byte(data), &ev); err != nil || ev.Incident.ID != "inc-1" || ev.Type != status.EventOpened {
		t.Fatalf("incident event %s: %v", data, err)
	}
	s.until(t, "sample", func(string) bool { return true })
}

// TestStreamsBounded: past max_streams a new stream is refused with 503;
// once one closes, a new one opens; Close ends the open ones.
func TestStreamsBounded(t *testing.T) {
	page := statuspage.New(pagetest.NewSource(pagetest.Example()), statuspage.Options{MaxStreams: 1, PushInterval: 20 * time.Millisecond})
	base := pagetest.Serve(t, page)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	first, _ := openEvents(t, ctx, base+statuspage.PathEvents)
	if typ, _, err := first.next(); err != nil || typ != "snapshot" {
		t.Fatalf("first stream: %q %v", typ, err)
	}
	resp, body := fetch(t, "GET", base+statuspage.PathEvents)
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("second stream: %d %q, want 503 with Retry-After", resp.StatusCode, body)
	}
	first.body.Close()
	// The first stream's slot frees when its next write fails: a bounded
	// poll until a new stream opens.
	for {
		sctx, scancel := context.WithTimeout(ctx, 2*time.Second)
		s, resp := openEvents(t, sctx, base+statuspage.PathEvents)
		if resp.StatusCode == http.StatusOK {
			if typ, _, err := s.next(); err != nil || typ != "snapshot" {
				t.Fatalf("stream after the first closed: %q %v", typ, err)
			}
			page.Close()
			if _, _, err := s.next(); err == nil {
				// frames queued before Close may still arrive; the stream must end
				for err == nil {
					_, _, err = s.next()
				}
			}
			scancel()
			return
		}
		scancel()
		if ctx.Err() != nil {
			t.Fatal("no stream opened after the first one closed")
		}
	}
}
