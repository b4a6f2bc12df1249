package server

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzFrontDoor sends arbitrary bodies to the public handler of gateways
// whose providers were never started (so every forwarded call fails fast
// with "no provider"), one with verification on and one without (in both
// a batch's waves walk the pipeline whole): the
// answer must be valid JSON-RPC or a 204, never a panic, and its error
// messages in plain words (no Go internals).
func FuzzFrontDoor(f *testing.F) {
	gateway := func(verify bool) http.Handler {
		gw := unstartedGateway(f, verify)
		if gw.chains[0].batches == nil {
			f.Fatalf("verification %v: waves whole %v", verify, gw.chains[0].batches != nil)
		}
		return gw.Handler()
	}
	handlers := []http.Handler{gateway(true), gateway(false)}
	for _, s := range []string{
		`{"jsonrpc":"2.0","id":1,"method":"eth_chainId"}`,
		`[{"jsonrpc":"2.0","id":1,"method":"eth_getLogs","params":[{"fromBlock":"0x1"}]},{"jsonrpc":"2.0","method":"x"}]`,
		`{"jsonrpc":"2.0","id":1,"method":"eth_getBalance","params":["0x1",{"blockNumber":"latest"}]}`,
		`[]`, `[1]`, `{`, `null`, `{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":{}}`,
		`[{"jsonrpc":"2.0","id":1,"method":"eth_getBalance","params":["0x1","nope"]},{"jsonrpc":"2.0","id":2,"method":"eth_sendRawTransaction","params":["0x00"]},{"jsonrpc":"2.0","id":3,"method":"eth_chainId"}]`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		for _, h := range handlers {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/dev", strings.NewReader(body)))
			switch rec.Code {
			case http.StatusNoContent:
				if rec.Body.Len() != 0 {
					t.Fatal("204 with a body")
				}
			case http.StatusOK, http.StatusRequestEntityTooLarge:
				if !json.Valid(rec.Body.Bytes()) {
					t.Fatalf("invalid JSON answer %q to %q", rec.Body.String(), body)
				}
				plainMessages(t, rec.Body.Bytes(), body)
			default:
				t.Fatalf("status %d for %q", rec.Code, body)
			}
		}
	})
}
