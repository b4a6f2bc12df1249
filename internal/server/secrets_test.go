package server

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/cmdtest"
	"github.com/rpcmesh/rpcmesh/internal/config"
)

// deadPort returns a loopback port nothing listens on.
func deadPort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	return port
}

// TestProviderKeyNeverShown: a provider URL's API key, from ${ENV}, in its
// path, query or userinfo, appears in no log line, no answer to a client,
// and neither /status nor /metrics, while its providers fail in every way
// (dial errors, HTTP 500s, timeouts, the breaker opening, over HTTP and
// WebSocket). On 82001cf net/http's errors quoted the URL, path and query
// included, in the "circuit breaker opened" line and elsewhere.
func TestProviderKeyNeverShown(t *testing.T) {
	const key = "s3cr3tK3y0123456789"
	t.Setenv("RPCMESH_TEST_KEY", key)
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "upstream trouble", http.StatusInternalServerError)
	}))
	t.Cleanup(failing.Close)
	hung := make(chan struct{})
	hanging := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-hung:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(hanging.Close)
	t.Cleanup(func() { close(hung) })
	failingHost, hangingHost := strings.TrimPrefix(failing.URL, "http://"), strings.TrimPrefix(hanging.URL, "http://")
	deadCreds := deadPort(t)

	yaml := fmt.Sprintf(`
server: { listen: "127.0.0.1:0" }
admin: { listen: "127.0.0.1:0" }
health: { breaker_failures: 2, breaker_cooldown: 100ms, probe_interval: 50ms, poll_interval: 50ms, provider_timeout: 300ms }
verify: { enabled: false }
chains:
  - name: dev
    chain_id: 1337
    providers:
      - { name: dead-path, http: "http://127.0.0.1:%d/v3/${RPCMESH_TEST_KEY}", labels: { operator: a } }
      - { name: dead-creds, http: "http://user:${RPCMESH_TEST_KEY}@127.0.0.1:%d/x?apikey=${RPCMESH_TEST_KEY}", labels: { operator: b } }
      - { name: failing-creds, http: "http://${RPCMESH_TEST_KEY}@%s/rpc/${RPCMESH_TEST_KEY}", labels: { operator: c } }
      - { name: hanging-query, http: "http://%s/rpc?apikey=${RPCMESH_TEST_KEY}", labels: { operator: d } }
      - { name: dead-ws, http: "https://127.0.0.1:%d/${RPCMESH_TEST_KEY}", ws: "ws://127.0.0.1:%d/ws/${RPCMESH_TEST_KEY}", call_transport: ws, labels: { operator: e } }
`, deadPort(t), deadCreds, failingHost, hangingHost, deadPort(t), deadPort(t))
	cfg, err := config.Parse([]byte(yaml), "secrets.yaml")
	if err != nil {
		t.Fatal(err)
	}
	logs := &cmdtest.SyncBuffer{}
	gw := runGateway(t, cfg, slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))

	get := func(url string) string {
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	var seen strings.Builder
	// Calls, until every provider has failed often enough to open its
	// breaker (the health loop's checks fail too, and count).
	deadline := time.Now().Add(20 * time.Second)
	for {
		for _, body := range []string{
			`{"jsonrpc":"2.0","id":1,"method":"eth_getBalance","params":["0x407d73d8a49eeb85d32cf465507dd71d507100c1","latest"]}`,
			`[{"jsonrpc":"2.0","id":1,"method":"eth_getCode","params":["0x407d73d8a49eeb85d32cf465507dd71d507100c1","latest"]},{"jsonrpc":"2.0","id":2,"method":"eth_gasPrice"}]`,
			`{"jsonrpc":"2.0","id":3,"method":"eth_sendRawTransaction","params":["0x01"]}`,
		} {
			resp, err := http.Post("http://"+gw.HTTPAddr()+"/dev", "application/json", strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			seen.Write(b)
		}
		if allOpened(logs.String()) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("breakers did not open; logs:\n%s", logs.String())
		}
	}
	admin := "http://" + gw.AdminAddr()
	status, metrics := get(admin+"/status"), get(admin+"/metrics")

	// net/http's errors name the endpoint by scheme and host now.
	if want := fmt.Sprintf(`Post \"http://127.0.0.1:%d\": dial tcp`, deadCreds); !strings.Contains(logs.String(), want) {
		t.Errorf("no %s in the logs:\n%s", want, logs.String())
	}
	for what, text := range map[string]string{"logs": logs.String(), "answers": seen.String(), "/status": status, "/metrics": metrics} {
		if i := strings.Index(text, key); i >= 0 {
			t.Errorf("the key in %s: …%s…", what, text[max(i-200, 0):min(i+50, len(text))])
		}
	}
}

// allOpened reports whether the logs say every provider's breaker opened.
func allOpened(logs string) bool {
	for _, name := range []string{"dead-path", "dead-creds", "failing-creds", "hanging-query", "dead-ws"} {
		if !strings.Contains(logs, `msg="circuit breaker opened" chain=dev provider=`+name+" ") {
			return false
		}
	}
	return true
}
