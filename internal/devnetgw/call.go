package devnetgw

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// Answer is one JSON-RPC answer as the end-to-end suites' clients get it.
type Answer struct {
	Result json.RawMessage
	Error  json.RawMessage // the error member; nil without one
	Header http.Header     // the HTTP response's headers
}

// Call posts one JSON-RPC call of method with params (a JSON array) to url
// through client, bounded by ctx. A body that is not a JSON-RPC answer is
// an error naming the HTTP status; a JSON-RPC error is in Answer.Error.
func Call(ctx context.Context, client *http.Client, url, method, params string) (Answer, error) {
	body := fmt.Sprintf(`{"jsonrpc":"2.0","id":1,"method":%q,"params":%s}`, method, params)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		return Answer{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return Answer{}, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var r struct {
		Result json.RawMessage `json:"result"`
		Error  json.RawMessage `json:"error"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return Answer{}, fmt.Errorf("HTTP %d: %s", resp.StatusCode, b)
	}
	if string(r.Error) == "null" {
		r.Error = nil // "error": null is no error
	}
	return Answer{Result: r.Result, Error: r.Error, Header: resp.Header}, nil
}

// CallResult is Call for a caller that wants a result: a JSON-RPC error
// is an error naming method and the error member.
func CallResult(ctx context.Context, client *http.Client, url, method, params string) (Answer, error) {
	a, err := Call(ctx, client, url, method, params)
	if err == nil && a.Error != nil {
		err = fmt.Errorf("%s: error %s", method, a.Error)
	}
	return a, err
}
