package privacye2e

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/rpcmesh/rpcmesh/internal/config"
	"github.com/rpcmesh/rpcmesh/internal/devnetgw"
)

// identifying are headers a client sends that say who it is; no provider
// may receive any of them, nor their values anywhere.
var identifying = []string{
	"Cookie", "session=secret-cookie",
	"Authorization", "Bearer secret-token",
	"X-Api-Key", "secret-api-key",
	"X-Forwarded-For", "203.0.113.9",
	"X-Real-Ip", "203.0.113.9",
	"Forwarded", "for=203.0.113.9",
	"User-Agent", "secret-wallet/1.0",
	"Referer", "https://secret-dapp.example/page",
	"X-Request-Id", "secret-request-id",
	"Accept-Language", "secret-lang",
}

// secrets are strings of the client's that must appear in no provider's
// request: header values, the client's JSON-RPC ids, an extra member of
// its request objects.
var secrets = []string{"secret", "203.0.113.9", "987654321", "client-id-", "x-user"}

// clientCalls are the client's calls: state reads of an address (proven),
// an eth_call (quorum: several operators), logs, a block, a fee; with its
// own ids and a member no node knows.
const clientCalls = `[
{"jsonrpc":"2.0","id":987654321,"method":"eth_getBalance","params":["0x00000000000000000000000000000000000a11ce","latest"],"x-user":"secret-user"},
{"jsonrpc":"2.0","id":"client-id-1","method":"eth_getTransactionCount","params":["0x00000000000000000000000000000000000a11ce","latest"]},
{"jsonrpc":"2.0","id":"client-id-2","method":"eth_call","params":[{"to":"0x00000000000000000000000000000000000a11ce","data":"0x"},"latest"]},
{"jsonrpc":"2.0","id":"client-id-3","method":"eth_getLogs","params":[{"address":"0x00000000000000000000000000000000000a11ce","fromBlock":"latest"}]},
{"jsonrpc":"2.0","id":"client-id-4","method":"eth_getBlockByNumber","params":["latest",false]},
{"jsonrpc":"2.0","id":"client-id-5","method":"eth_gasPrice","params":[]}]`

// allowedHeaders are the only headers a provider may receive, with the
// value each must have ("" for any).
var allowedHeaders = map[string]string{
	"Content-Type":    "application/json",
	"Accept":          "application/json",
	"User-Agent":      "rpcmesh",
	"Content-Length":  "",
	"Accept-Encoding": "gzip",
}

// TestClientIdentityNeverReachesProvider: a client that sends identifying
// headers, its own request ids and extra members, over HTTP (one call, a
// batch) and WebSocket, with the privacy policy on and off: every request
// the providers receive carries only the gateway's own headers and ids,
// and none of the client's strings.
func TestClientIdentityNeverReachesProvider(t *testing.T) {
	for _, tc := range []struct {
		name    string
		privacy string
		wsCalls bool // providers' calls over WebSocket (call_transport ws)
		send    func(t *testing.T, tg *testGateway)
	}{
		{"http batch, privacy on", config.PrivacySpread, false, func(t *testing.T, tg *testGateway) { tg.post(t, clientCalls, identifying...) }},
		{"http batch, privacy off", "", false, func(t *testing.T, tg *testGateway) { tg.post(t, clientCalls, identifying...) }},
		{"http single calls", "", false, func(t *testing.T, tg *testGateway) {
			for _, c := range splitCalls(clientCalls) {
				tg.post(t, c, identifying...)
			}
		}},
		{"websocket client", config.PrivacySpread, false, func(t *testing.T, tg *testGateway) { sendWS(t, tg, clientCalls) }},
		{"websocket client, providers over websocket", config.PrivacySpread, true, func(t *testing.T, tg *testGateway) { sendWS(t, tg, clientCalls) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tg := startGatewayWS(t, tc.wsCalls, func(c *config.Config) {
				c.Routing.Privacy = tc.privacy
				if tc.wsCalls {
					for i := range c.Chains[0].Providers {
						c.Chains[0].Providers[i].CallTransport = "ws"
					}
				}
			})
			mark := tg.marks()
			tc.send(t, tg)
			asked, askedWS := 0, 0 // requests naming the client's address; of them, WebSocket messages
			for i, rec := range tg.recs {
				for _, r := range rec.requests()[mark[i]:] {
					checkRequest(t, rec.operator, r)
					if strings.Contains(string(r.body), "a11ce") {
						asked++
						if r.header.Get("Upgrade") == "websocket" {
							askedWS++
						}
					}
				}
			}
			if asked == 0 || (tc.wsCalls && askedWS == 0) {
				t.Fatalf("%d requests (%d over WebSocket) asked about the client's address: the test saw nothing", asked, askedWS)
			}
		})
	}
}

// wsHandshake are the headers a WebSocket handshake carries besides
// allowedHeaders, each checked by the server that accepts it.
var wsHandshake = map[string]bool{"Connection": true, "Upgrade": true, "Sec-Websocket-Key": true, "Sec-Websocket-Version": true, "Sec-Websocket-Extensions": true}

// checkRequest fails the test when r carries anything of the client's.
func checkRequest(t *testing.T, operator string, r recorded) {
	t.Helper()
	for k, vs := range r.header {
		if r.header.Get("Upgrade") == "websocket" && wsHandshake[k] {
			continue
		}
		want, ok := allowedHeaders[k]
		if !ok {
			t.Errorf("%s received header %s: %q", operator, k, vs)
			continue
		}
		if want != "" && (len(vs) != 1 || vs[0] != want) {
			t.Errorf("%s received %s: %q, want %q", operator, k, vs, want)
		}
	}
	everything := strings.ToLower(string(r.body) + r.host + strings.Join(flatten(r.header), "\n"))
	for _, s := range secrets {
		if strings.Contains(everything, s) {
			t.Errorf("%s received %q of the client's in %s %v", operator, s, r.body, r.header)
		}
	}
	// The ids sent upstream are the gateway's own numbers.
	for _, c := range callsIn(r.body) {
		if len(c.ID) == 0 || c.ID[0] == '"' {
			t.Errorf("%s received id %s, not a number of the gateway's", operator, c.ID)
		}
	}
}

func flatten(h http.Header) []string {
	var out []string
	for k, vs := range h {
		out = append(out, k+": "+strings.Join(vs, ","))
	}
	return out
}

// splitCalls returns the calls of a batch as single request bodies.
func splitCalls(batch string) []string {
	body := strings.TrimSpace(batch)
	body = strings.TrimSuffix(strings.TrimPrefix(body, "["), "]")
	var out []string
	for _, c := range strings.Split(body, "},\n{") {
		c = strings.TrimSpace(c)
		if !strings.HasPrefix(c, "{") {
			c = "{" + c
		}
		if !strings.HasSuffix(c, "}") {
			c += "}"
		}
		out = append(out, c)
	}
	return out
}

// sendWS sends body over a WebSocket with the identifying headers (but
// Origin, which the gateway checks) and waits for the answer.
func sendWS(t *testing.T, tg *testGateway, body string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	h := http.Header{}
	for i := 0; i+1 < len(identifying); i += 2 {
		h.Set(identifying[i], identifying[i+1])
	}
	conn, resp, err := websocket.DefaultDialer.DialContext(ctx, devnetgw.WSURL(tg.gw), h)
	if err != nil {
		t.Fatalf("ws dial: %v", err)
	}
	resp.Body.Close()
	defer conn.Close()
	deadline, _ := ctx.Deadline()
	_ = conn.SetReadDeadline(deadline)
	if err := conn.WriteMessage(websocket.TextMessage, []byte(body)); err != nil {
		t.Fatal(err)
	}
	_, answer, err := conn.ReadMessage()
	if err != nil || !strings.HasPrefix(string(answer), "[") {
		t.Fatalf("ws answer %s: %v", answer, err)
	}
}
