package upstream

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/jsonrpc"
	"github.com/rpcmesh/rpcmesh/internal/upstream/transport/wstest"
)

// TestErrorAnswerClasses: an error answer speaks of the provider by its
// code only. Whatever its message says, an answer with any other code is
// the caller's (a revert, code 3 with its data, above all), and leaves the
// provider's health alone; on 82001cf messages with "rate limit",
// "internal error" and the like benched the provider or counted as its
// failure.
func TestErrorAnswerClasses(t *testing.T) {
	const revertData = `"0x08c379a0"`
	tests := []struct {
		method  string
		code    int
		message string
		data    string
		want    Class // "" for the node's answer
	}{
		{"eth_call", 3, "execution reverted: rate limit exceeded", revertData, ""},
		{"eth_call", 3, "execution reverted: Too Many Requests", revertData, ""},
		{"eth_call", 3, "execution reverted: exceeded capacity", revertData, ""},
		{"eth_call", 3, "execution reverted: internal error", revertData, ""},
		{"eth_call", -32000, "execution reverted: service unavailable", revertData, ""},
		{"eth_call", -32000, "request timed out; bad gateway", "", ""},
		{"eth_call", -32000, "rate limit exceeded", "", ""},
		{"eth_call", 429, "slow down", "", ClassThrottled},
		{"eth_call", -32005, "project ID request rate exceeded", "", ClassThrottled},
		// A log query over the provider's result limit is the caller's answer.
		{"eth_getLogs", -32005, "query returned more than 10000 results", `{"from":"0x1","to":"0x2710","limit":10000}`, ""},
		{"eth_getLogs", 429, "slow down", "", ClassThrottled},
		{"eth_call", -32603, "whatever", "", ClassNodeError},
		{"eth_call", -32002, "request timed out", "", ClassNodeError},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s %d %s", tt.method, tt.code, tt.message), func(t *testing.T) {
			data := ""
			if tt.data != "" {
				data = `,"data":` + tt.data
			}
			answer := func(w http.ResponseWriter, r *http.Request) {
				msg, _ := io.ReadAll(r.Body)
				reqs, batch := wstest.ParseReqs(t, msg)
				out := ""
				for i, q := range reqs {
					if i > 0 {
						out += ","
					}
					out += fmt.Sprintf(`{"jsonrpc":"2.0","id":%s,"error":{"code":%d,"message":%q%s}}`, q.ID, tt.code, tt.message, data)
				}
				if batch {
					out = "[" + out + "]"
				}
				io.WriteString(w, out)
			}
			// One provider for the call, one for the batch: a throttled
			// provider takes no batch.
			p, pb := batchProvider(t, answer), batchProvider(t, answer)
			_, err := p.Call(timed(t, 5*time.Second), tt.method, nil)
			answers, berr := pb.CallBatch(timed(t, 5*time.Second), []BatchCall{{Method: tt.method}})
			if berr != nil {
				t.Fatalf("batch: %v", berr)
			}
			for what, err := range map[string]error{"call": err, "batch": answers[0].Err} {
				var je *jsonrpc.Error
				if class, _ := classOf(err); class != tt.want || tt.want == "" && (!errors.As(err, &je) || je.Code != tt.code) {
					t.Errorf("%s: got %v (class %q), want class %q", what, err, class, tt.want)
				}
			}
			for _, p := range []*Provider{p, pb} {
				s := p.Snapshot(time.Now())
				if tt.want == "" && (s.State != StateOK && s.State != StateUnchecked || s.ThrottleRate > 0 || s.ErrorRate > 0 || s.Failures > 0) {
					t.Errorf("the provider's health moved: state %s, throttle %.2f, errors %.2f, failures %d", s.State, s.ThrottleRate, s.ErrorRate, s.Failures)
				}
			}
		})
	}
}
