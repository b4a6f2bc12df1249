package upstream

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/config"
	"github.com/rpcmesh/rpcmesh/internal/upstream/transport/wstest"
)

// wsProvider is a provider whose calls go over conns WebSockets to url.
func wsProvider(t *testing.T, url string, conns int, tune func(*Options)) *Provider {
	t.Helper()
	h := testHealth()
	h.BreakerFailures = 1000 // these tests fail calls on purpose
	o := Options{Chain: "test", ChainID: 7, Health: h, Provider: config.Provider{
		Name: "w", HTTP: "http://127.0.0.1:1", WS: url, MaxConcurrency: 512,
		CallTransport: config.CallTransportWS, WSConns: conns,
	}}
	if tune != nil {
		tune(&o)
	}
	p := New(o)
	if p.Transport().Kind != "ws" {
		t.Fatal("no WebSocket call transport")
	}
	t.Cleanup(p.Close)
	return p
}

// echoCall calls method with param and returns the string the server echoed.
func echoCall(ctx context.Context, p *Provider, method, param string) (string, error) {
	res, err := p.Call(ctx, method, json.RawMessage(`["`+param+`"]`))
	if err != nil {
		return "", err
	}
	return wstest.EchoedString(res)
}

// timed returns a context for one call, ending after d.
func timed(t *testing.T, d time.Duration) context.Context { return wstest.Timed(t, d) }

// classOf returns the class of an *Error and whether it was sent.
func classOf(err error) (Class, bool) {
	var ue *Error
	if errors.As(err, &ue) {
		return ue.Class, ue.Sent
	}
	return "", false
}

// TestWSConnectionDroppedCountsOnce: calls waiting on a connection the
// server drops fail as sent transport failures, and count as one failure
// of the provider, not one per call (a load balancer closing a busy
// connection must not open a healthy provider's breaker).
func TestWSConnectionDroppedCountsOnce(t *testing.T) {
	srv, hung := wstest.HangingServer(t)
	p := wsProvider(t, srv.URL(), 1, nil)
	if got, err := echoCall(timed(t, 5*time.Second), p, "eth_call", "warm"); err != nil || got != "warm" {
		t.Fatalf("first call: %q, %v", got, err)
	}
	const hangs = 3
	for _, err := range wstest.DropHung(t, hung, hangs, func() error {
		_, err := echoCall(timed(t, 10*time.Second), p, "hang", "h")
		return err
	}) {
		if class, sent := classOf(err); class != ClassTransport || !sent {
			t.Errorf("pending call: %v (class %q, sent %v), want a sent transport failure", err, class, sent)
		}
	}
	if s := p.Snapshot(time.Now()); s.Failures != 1 {
		t.Errorf("one dropped connection with %d calls counted as %d failures, want 1", hangs, s.Failures)
	}
	if got, err := echoCall(timed(t, 5*time.Second), p, "eth_call", "again"); err != nil || got != "again" {
		t.Fatalf("call after the drop: %q, %v", got, err)
	}
}
