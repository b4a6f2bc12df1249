package vet

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
)

// errorProbes are bad requests every conformant node answers with a
// JSON-RPC error object (go-ethereum: -32700, -32601, -32602).
var errorProbes = []struct{ what, body string }{
	{"malformed JSON", `{"jsonrpc":"2.0","id":1,"method":`},
	{"unknown method", `{"jsonrpc":"2.0","id":1,"method":"rpcmesh_noSuchMethod","params":[]}`},
	{"bad params", `{"jsonrpc":"2.0","id":1,"method":"eth_getBalance","params":["0xnot-an-address","latest"]}`},
}

// checkErrors sends the bad requests and records the answers, and how
// the candidate throttled the vetting's own calls.
func checkErrors(ctx context.Context, c *client) ErrorsResult {
	var r ErrorsResult
	for _, p := range errorProbes {
		pr := ErrorProbe{What: p.what}
		status, _, body, err := c.postPatient(ctx, []byte(p.body))
		switch {
		case err != nil:
			pr.Answer = err.Error()
		default:
			pr.Status, pr.Answer = status, excerpt(body)
			var msg struct {
				Error *RPCError `json:"error"`
			}
			if json.Unmarshal(body, &msg) == nil && msg.Error != nil {
				pr.Code, pr.OK = msg.Error.Code, status < http.StatusInternalServerError
			}
		}
		r.Probes = append(r.Probes, pr)
	}
	n, last := c.throttleStats()
	r.Throttles = n
	if last != nil {
		r.RetryAfter = last.RetryAfter
	}
	return r
}

// errorsFailure is the errors criterion's failure for the bad requests,
// or nil.
func errorsFailure(r ErrorsResult) *Failure {
	var ev []string
	for _, p := range r.Probes {
		if !p.OK {
			ev = append(ev, fmt.Sprintf("%s: HTTP %d %s", p.What, p.Status, p.Answer))
		}
	}
	if len(ev) == 0 {
		return nil
	}
	return &Failure{Criterion: CritErrors, Reason: "bad requests are not answered with JSON-RPC error objects", Evidence: ev}
}

// throttleFailure is the throttling criterion's failure when the
// candidate's 429s carried no Retry-After, or nil.
func throttleFailure(r ErrorsResult) *Failure {
	if r.Throttles == 0 || r.RetryAfter != "" {
		return nil
	}
	return &Failure{Criterion: CritThrottling, Reason: "its 429 answers carry no Retry-After",
		Evidence: []string{fmt.Sprintf("%d answers were HTTP 429 without Retry-After", r.Throttles)}}
}
