package upstream

import (
	"context"
	"testing"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/config"
	"github.com/rpcmesh/rpcmesh/internal/fakenode"
	"github.com/rpcmesh/rpcmesh/internal/upstream/transport/wstest"
)

// TestContextEndsCall: over every transport, a call to a provider that
// hangs ends with its context, classified by how it ended: its deadline
// (timeout), a cancellation with ErrStalled as cause (stalled), or a
// cancellation before it started (canceled); the provider serves calls
// afterwards.
func TestContextEndsCall(t *testing.T) {
	providers := map[string]func(t *testing.T) (p *Provider, method string, unhang func()){
		config.CallTransportHTTP: func(t *testing.T) (*Provider, string, func()) {
			n := fakenode.Start("a", fakenode.NewChain(7, 100))
			t.Cleanup(n.Close)
			p := New(Options{ChainID: 7, Provider: config.Provider{Name: "a", HTTP: n.URL()}, Health: testHealth()})
			t.Cleanup(p.Close)
			n.SetFault(fakenode.Fault{Hang: true})
			return p, "eth_gasPrice", func() { n.SetFault(fakenode.Fault{}) }
		},
		config.CallTransportWS: func(t *testing.T) (*Provider, string, func()) {
			srv, _ := wstest.HangingServer(t)
			p := wsProvider(t, srv.URL(), 1, nil)
			// A connection that answered is redialled at once when a call
			// times out on it in silence (the deadline case).
			if _, err := p.Call(timed(t, 5*time.Second), "eth_chainId", nil); err != nil {
				t.Fatal(err)
			}
			return p, "hang", func() {}
		},
	}
	for name, build := range providers {
		t.Run(name, func(t *testing.T) {
			p, method, unhang := build(t)
			tests := []struct {
				name string
				ctx  func() context.Context
				want Class
			}{
				{"deadline", func() context.Context { return timed(t, 100*time.Millisecond) }, ClassTimeout},
				{"cancelled as stalled", func() context.Context {
					ctx, cancel := context.WithCancelCause(context.Background())
					stop := time.AfterFunc(50*time.Millisecond, func() { cancel(ErrStalled) })
					t.Cleanup(func() { stop.Stop(); cancel(nil) })
					return ctx
				}, ClassStalled},
				{"cancelled before", func() context.Context {
					ctx, cancel := context.WithCancel(context.Background())
					cancel()
					return ctx
				}, ClassCanceled},
			}
			for _, tt := range tests {
				start := time.Now()
				_, err := p.Call(tt.ctx(), method, nil)
				if class, _ := classOf(err); class != tt.want || time.Since(start) > time.Second {
					t.Errorf("%s: %v after %s, want class %s at once", tt.name, err, time.Since(start), tt.want)
				}
			}
			unhang()
			if _, err := p.Call(timed(t, 5*time.Second), "eth_chainId", nil); err != nil {
				t.Errorf("a call afterwards: %v", err)
			}
		})
	}
}
