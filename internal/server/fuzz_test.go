package server

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"
)

// FuzzFrontDoor sends arbitrary bodies to the public listener of gateways
// whose providers were never started (so every forwarded call fails fast
// with "no provider"), one with verification on and one without: the
// answer must be valid JSON-RPC or a 204, never a panic, and its error
// messages in plain words (no Go internals).
func FuzzFrontDoor(f *testing.F) {
	urls := []string{serveLoopback(f, unstartedGateway(f, true)) + "/dev", serveLoopback(f, unstartedGateway(f, false)) + "/dev"}
	client := &http.Client{Timeout: 10 * time.Second}
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
		for _, url := range urls {
			status, out := postTo(t, client, url, body)
			switch status {
			case http.StatusNoContent:
				if len(out) != 0 {
					t.Fatal("204 with a body")
				}
			case http.StatusOK, http.StatusRequestEntityTooLarge:
				if !json.Valid(out) {
					t.Fatalf("invalid JSON answer %q to %q", out, body)
				}
				plainMessages(t, out, body)
			default:
				t.Fatalf("status %d for %q", status, body)
			}
		}
	})
}
