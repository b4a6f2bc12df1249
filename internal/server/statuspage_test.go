package server

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/rpcmesh/rpcmesh/internal/config"
	"github.com/rpcmesh/rpcmesh/internal/status"
	"github.com/rpcmesh/rpcmesh/internal/testwait"
)

// get fetches url and returns the status, Content-Type and body.
func get(t *testing.T, url string) (int, string, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
}

// firstEvents opens the page's live stream and returns its first n events
// (raw text).
func firstEvents(t *testing.T, url string, n int) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s: HTTP %d", url, resp.StatusCode)
	}
	var out strings.Builder
	br := bufio.NewReader(resp.Body)
	for got := 0; got < n; {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("reading the stream: %v (so far %q)", err, out.String())
		}
		out.WriteString(line)
		if strings.HasPrefix(line, "data: ") {
			got++ // one line of data per event
		}
	}
	return out.String()
}

// TestStatusPageOnThePublicListener: the page, /status.json and the live
// stream answer on the public listener with the served chain; a chain's
// own path answers as before (405 for a GET, a WebSocket upgrade at / and
// /dev); JSON-RPC POSTs to / are untouched.
func TestStatusPageOnThePublicListener(t *testing.T) {
	tg := startGateway(t, 2, nil)
	code, ctype, body := get(t, tg.url+"/")
	if code != 200 || ctype != "text/html; charset=utf-8" || !strings.Contains(body, "rpcmesh status") {
		t.Fatalf("GET /: %d %s %.200s", code, ctype, body)
	}
	if code, _, _ := get(t, tg.url+"/status"); code != 200 {
		t.Errorf("GET /status: %d", code)
	}
	code, _, body = get(t, tg.url+"/status.json")
	var snap status.Snapshot
	if err := json.Unmarshal([]byte(body), &snap); code != 200 || err != nil || len(snap.Chains) != 1 || snap.Chains[0].Name != "dev" {
		t.Fatalf("GET /status.json: %d %v %.300s", code, err, body)
	}
	if len(snap.Chains[0].Providers) != 2 {
		t.Errorf("providers %+v", snap.Chains[0].Providers)
	}
	req, _ := http.NewRequest(http.MethodGet, tg.url+"/status.json", nil)
	req.Header.Set("Origin", "https://dashboard.example")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("Access-Control-Allow-Origin"); got != "*" {
		t.Errorf("GET /status.json from another origin: Access-Control-Allow-Origin %q, want * (server.cors)", got)
	}
	if ev := firstEvents(t, tg.url+"/status/events", 1); !strings.Contains(ev, `"name":"dev"`) {
		t.Errorf("first event %q", ev)
	}
	if code, _, body := get(t, tg.url+"/dev"); code != http.StatusMethodNotAllowed || !strings.Contains(body, "-32600") {
		t.Errorf("GET /dev: %d %s, want the JSON-RPC 405 as before", code, body)
	}
	resp, err = http.Post(tg.url+"/", "application/json", strings.NewReader(`{"jsonrpc":"2.0","id":7,"method":"eth_chainId"}`))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), `"id":7,"result":"0x539"`) {
		t.Errorf("POST /: %s", b)
	}
	for _, path := range []string{"/", "/dev"} {
		c, resp, err := websocket.DefaultDialer.Dial("ws://"+tg.gw.HTTPAddr()+path, nil)
		if err != nil {
			t.Fatalf("WebSocket at %s: %v (%v)", path, err, resp)
		}
		if err := c.WriteMessage(websocket.TextMessage, []byte(`{"jsonrpc":"2.0","id":1,"method":"eth_chainId"}`)); err != nil {
			t.Fatal(err)
		}
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, msg, err := c.ReadMessage(); err != nil || !strings.Contains(string(msg), `"result":"0x539"`) {
			t.Errorf("WebSocket at %s: %s %v", path, msg, err)
		}
		c.Close()
	}
}

// TestStatusPageOff: with status_page.enabled false the page's paths are
// what they were before it: GET / is the only chain's 405, /status.json an
// unknown chain.
func TestStatusPageOff(t *testing.T) {
	tg := startGateway(t, 1, func(c *config.Config) { c.StatusPage.Enabled = false })
	if code, _, body := get(t, tg.url+"/"); code != http.StatusMethodNotAllowed || !strings.Contains(body, "use POST") {
		t.Errorf("GET /: %d %s", code, body)
	}
	if code, _, body := get(t, tg.url+"/status.json"); code != http.StatusNotFound || !strings.Contains(body, "-32") {
		t.Errorf("GET /status.json: %d %s", code, body)
	}
}

// TestCloseEndsStatusStreams: a page left open does not hold up the
// gateway's shutdown.
func TestCloseEndsStatusStreams(t *testing.T) {
	tg := startGateway(t, 1, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, tg.url+"/status/events", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	if _, err := br.ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	closeCtx, closeCancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer closeCancel()
	if err := tg.gw.Close(closeCtx); err != nil {
		t.Fatalf("Close with a status stream open: %v", err)
	}
	if _, err := io.Copy(io.Discard, br); err != nil && ctx.Err() != nil {
		t.Fatalf("the stream did not end with the gateway: %v", err)
	}
}

// TestStatusPageShowsNoProviderURL: a provider URL's API key (in its path,
// query and userinfo) and the URL itself appear in none of the page's
// answers: the page, its scripts, /status.json, the history and the live
// stream, while the providers fail.
func TestStatusPageShowsNoProviderURL(t *testing.T) {
	const key = "pAgEs3cr3tK3y42"
	t.Setenv("RPCMESH_PAGE_KEY", key)
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "upstream trouble "+r.URL.String(), http.StatusInternalServerError)
	}))
	t.Cleanup(failing.Close)
	host := strings.TrimPrefix(failing.URL, "http://")
	urls := []string{
		fmt.Sprintf("http://127.0.0.1:%d/v3/${RPCMESH_PAGE_KEY}", deadPort(t)),
		fmt.Sprintf("http://user:${RPCMESH_PAGE_KEY}@%s/rpc?apikey=${RPCMESH_PAGE_KEY}", host),
	}
	yaml := fmt.Sprintf(`
server: { listen: "127.0.0.1:0" }
admin: { listen: "" }
health: { breaker_failures: 2, breaker_cooldown: 100ms, probe_interval: 50ms, poll_interval: 50ms, provider_timeout: 300ms }
status_page: { sample_interval: 1s, history: 1m }
verify: { enabled: false }
chains:
  - name: dev
    chain_id: 1337
    providers:
      - { name: dead-path, http: %q, labels: { operator: a, cloud: aws, region: us-east-1 } }
      - { name: failing-creds, http: %q, labels: { operator: b, cloud: gcp } }
`, urls[0], urls[1])
	cfg, err := config.Parse([]byte(yaml), "page-secrets.yaml")
	if err != nil {
		t.Fatal(err)
	}
	gw := runGateway(t, cfg, nil)
	base := "http://" + gw.HTTPAddr()
	// Until both providers are seen failing (their failures are what a
	// page would explain), then every answer of the page.
	var body string
	if err := testwait.Until(testwait.Context(t, 30*time.Second), "both providers seen failing", func() bool {
		_, _, body = get(t, base+"/status.json")
		return strings.Count(body, `"reason":`) == 2
	}); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	var seen strings.Builder
	for _, path := range []string{"/", "/status", "/status.json", "/status/history.json",
		"/status/assets/page.js", "/status/assets/charts.js", "/status/assets/dom.js", "/status/assets/page.css"} {
		code, _, body := get(t, base+path)
		if code != 200 {
			t.Errorf("GET %s: %d", path, code)
		}
		seen.WriteString(body)
	}
	seen.WriteString(firstEvents(t, base+"/status/events", 2))
	all := seen.String()
	if !strings.Contains(all, `"name":"failing-creds"`) {
		t.Fatalf("the page's answers do not show the providers at all:\n%.500s", all)
	}
	for _, secret := range []string{key, host, "/v3/", "apikey", "user:"} {
		if strings.Contains(all, secret) {
			i := strings.Index(all, secret)
			t.Errorf("the status page shows %q: ...%s...", secret, all[max(0, i-100):min(len(all), i+100)])
		}
	}
}
