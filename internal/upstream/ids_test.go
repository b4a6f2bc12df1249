package upstream

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/config"
	"github.com/rpcmesh/rpcmesh/internal/upstream/transport/wstest"
)

// idOf returns r's id plus d, as JSON.
func idOf(r wstest.Req, d int) string {
	n, _ := strconv.Atoi(string(r.ID))
	return strconv.Itoa(n + d)
}

// TestOtherIDsRefused: an answer whose ids are not the request's (another
// call's id, none, one answered twice) is never handed to a caller, over
// HTTP or WebSocket, for a call or a batch: the provider failed
// (bad_response). On 82001cf a single call took any id, and a batch
// skipped the unknown and repeated ones and took the rest.
func TestOtherIDsRefused(t *testing.T) {
	tests := []struct {
		name   string
		batch  bool
		answer func(reqs []wstest.Req) string
	}{
		{"another call's id", false, func(r []wstest.Req) string {
			return `{"jsonrpc":"2.0","id":` + idOf(r[0], 1) + `,"result":"0x1"}`
		}},
		{"an error without id", false, func([]wstest.Req) string {
			return `{"jsonrpc":"2.0","id":null,"error":{"code":-32000,"message":"nonce too low"}}`
		}},
		{"batch: an id not of the batch", true, func(r []wstest.Req) string {
			return `[{"jsonrpc":"2.0","id":` + idOf(r[0], 0) + `,"result":"0x1"},{"jsonrpc":"2.0","id":` + idOf(r[1], 5) + `,"result":"0x2"}]`
		}},
		{"batch: an id twice", true, func(r []wstest.Req) string {
			return `[{"jsonrpc":"2.0","id":` + idOf(r[0], 0) + `,"result":"0x1"},{"jsonrpc":"2.0","id":` + idOf(r[0], 0) + `,"result":"0x2"}]`
		}},
		{"batch: an answer without id", true, func(r []wstest.Req) string {
			return `[{"jsonrpc":"2.0","id":` + idOf(r[0], 0) + `,"result":"0x1"},{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"x"}}]`
		}},
	}
	for _, transport := range []string{config.CallTransportHTTP, config.CallTransportWS} {
		for _, tt := range tests {
			t.Run(transport+"/"+tt.name, func(t *testing.T) {
				var p *Provider
				if transport == config.CallTransportWS {
					srv := wstest.Start(t, func(c *wstest.Peer, msg []byte) {
						reqs, _ := wstest.ParseReqs(t, msg)
						c.Send([]byte(tt.answer(reqs)))
					})
					p = wsProvider(t, srv.URL(), 1, nil)
				} else {
					p = batchProvider(t, func(w http.ResponseWriter, r *http.Request) {
						msg, _ := io.ReadAll(r.Body)
						reqs, _ := wstest.ParseReqs(t, msg)
						io.WriteString(w, tt.answer(reqs))
					})
				}
				var err error
				if tt.batch {
					var answers []BatchAnswer
					answers, err = p.CallBatch(timed(t, 5*time.Second), []BatchCall{{Method: "eth_getBalance"}, {Method: "eth_getCode"}})
					if err == nil {
						t.Fatalf("batch answered %+v, want a failure", answers)
					}
				} else {
					var res json.RawMessage
					res, err = p.Call(timed(t, time.Second), "eth_getBalance", nil)
					if err == nil {
						t.Fatalf("answered %s, want a failure", res)
					}
				}
				want := ClassBadResponse
				if transport == config.CallTransportWS && !tt.batch {
					// Over WebSocket an answer goes to the call waiting for
					// its id: one for no call is dropped (as a late answer
					// is), and the call waits on to its deadline.
					want = ClassTimeout
				}
				if class, _ := classOf(err); class != want {
					t.Errorf("got %v, want a %s failure", err, want)
				}
				if strings.Contains(err.Error(), "0x2") {
					t.Errorf("the error carries another answer: %v", err)
				}
			})
		}
	}
}
