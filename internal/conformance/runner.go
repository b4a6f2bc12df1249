package conformance

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"time"
)

// requestTimeout bounds one request, as hive's rpc-compat client does.
const requestTimeout = 5 * time.Second

// maxAnswer bounds one answer read from the endpoint under test.
const maxAnswer = 64 << 20

// Result is the outcome of one fixture against one endpoint.
type Result struct {
	Path string
	Err  error  // nil: passed
	Sent []byte // the request whose answer failed, when one did
	Got  []byte // that answer
	Want []byte // the fixture's answer for it
	Took time.Duration
}

// Run sends every fixture to url in order, one request at a time, and
// judges each answer. Fixtures share the endpoint's state, as in hive.
func Run(ctx context.Context, client *http.Client, url string, fixtures []Fixture, j *Judge) []Result {
	out := make([]Result, 0, len(fixtures))
	for _, f := range fixtures {
		out = append(out, runFixture(ctx, client, url, f, j))
	}
	return out
}

func runFixture(ctx context.Context, client *http.Client, url string, f Fixture, j *Judge) (r Result) {
	r = Result{Path: f.Path}
	start := time.Now()
	defer func() { r.Took = time.Since(start) }()
	for _, s := range f.Steps {
		got, err := post(ctx, client, url, s.Request)
		if err == nil {
			err = j.Check(f.SpecOnly, s, got)
		}
		if err != nil {
			r.Err, r.Sent, r.Got, r.Want = err, s.Request, got, s.Want
			return r
		}
	}
	return r
}

// post sends one request body and returns the answer body, whatever its
// HTTP status (hive reads the body the same way).
func post(ctx context.Context, client *http.Client, url string, body []byte) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("send: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return nil, fmt.Errorf("read answer: %w", err)
	}
	return bytes.TrimSpace(b), nil
}
