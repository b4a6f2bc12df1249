package upstream

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// outcome is what a started call completed with.
type outcome struct {
	res json.RawMessage
	err error
}

// completer collects the outcomes of started calls.
type completer chan outcome

func (c completer) Complete(res json.RawMessage, err error) { c <- outcome{res, err} }

// startCall starts one call on p with a fresh CallContext ending after d.
func startCall(t *testing.T, p *Provider, method, param string, d time.Duration, done completer) (*CallContext, bool) {
	t.Helper()
	cc := new(CallContext)
	cc.Init(context.Background(), time.Now().Add(d))
	return cc, p.Start(cc, method, json.RawMessage(`["`+param+`"]`), false, done)
}

// await returns the next outcome, failing the test after 5 s.
func (c completer) await(t *testing.T) outcome {
	t.Helper()
	select {
	case o := <-c:
		return o
	case <-time.After(5 * time.Second):
		t.Fatal("a started call never completed")
		return outcome{}
	}
}

// settled reports whether p has nothing in flight and every slot back.
func settled(p *Provider) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.inflight) == 0 && len(p.sem) == 0
}

// TestWSStart: calls started without a waiting goroutine each complete
// with their own answer, answered out of order, and give back their slot.
func TestWSStart(t *testing.T) {
	srv := startWSServer(t, func(c *wsPeer, msg []byte) {
		reqs, _ := parseReqs(t, msg)
		go func() {
			time.Sleep(time.Duration(rand.IntN(3)) * time.Millisecond)
			c.send([]byte(echo(reqs[0])))
		}()
	})
	p := wsProvider(t, srv.url(), 2, nil)
	// No connection yet: Start does not wait for a dial, Call does.
	if _, ok := startCall(t, p, "eth_call", "x", 5*time.Second, make(completer, 1)); ok {
		t.Fatal("Start began a call with no connection up")
	}
	if _, err := echoCall(timed(t, true, 5*time.Second), p, "eth_call", "warm"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "both connections", func() bool { return p.Transport().WS.Live == 2 })

	const n = 200
	done := make(completer, n)
	want := map[string]bool{}
	for i := range n {
		param := fmt.Sprintf("p%d", i)
		if _, ok := startCall(t, p, "eth_call", param, 5*time.Second, done); !ok {
			t.Fatalf("Start %d did not begin", i)
		}
		want[`"`+param+`"`] = true
	}
	for range n {
		o := done.await(t)
		if o.err != nil || !want[string(o.res)] {
			t.Fatalf("completed with %s, %v: not one of the calls, or twice", o.res, o.err)
		}
		delete(want, string(o.res))
	}
	waitFor(t, "slots and in-flight entries back", func() bool { return settled(p) })
}

// TestWSStartEnds: a started call ends with its context (cancelled
// before or after it began, or at its deadline) or with its connection,
// and reports it as Call would.
func TestWSStartEnds(t *testing.T) {
	srv, hung := hangingServer(t)
	p := wsProvider(t, srv.url(), 1, nil)
	if _, err := echoCall(timed(t, true, 5*time.Second), p, "eth_call", "warm"); err != nil {
		t.Fatal(err)
	}

	t.Run("cancelled before", func(t *testing.T) {
		done := make(completer, 1)
		cc := new(CallContext)
		cc.Init(context.Background(), time.Now().Add(time.Minute))
		cc.Cancel(nil)
		if !p.Start(cc, "hang", json.RawMessage(`[]`), false, done) {
			t.Fatal("Start did not begin")
		}
		o := done.await(t)
		if class, sent := classOf(o.err); class != ClassCanceled || sent {
			t.Errorf("got %v (class %q, sent %v), want canceled, not sent", o.err, class, sent)
		}
	})
	t.Run("cancelled while waiting", func(t *testing.T) {
		done := make(completer, 1)
		cc, _ := startCall(t, p, "hang", "h", time.Minute, done)
		<-hung
		cc.Cancel(nil)
		if class, _ := classOf(done.await(t).err); class != ClassCanceled {
			t.Errorf("class %q, want canceled", class)
		}
	})
	t.Run("deadline", func(t *testing.T) {
		done := make(completer, 1)
		start := time.Now()
		startCall(t, p, "hang", "h", 100*time.Millisecond, done)
		<-hung
		if class, _ := classOf(done.await(t).err); class != ClassTimeout {
			t.Errorf("class %q, want timeout", class)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("timed out after %s", d)
		}
		// Nothing came back on the connection since the call went out.
		waitFor(t, "the silent connection to be failed", func() bool { return p.Transport().WS.Live == 0 })
	})
	t.Run("connection dropped", func(t *testing.T) {
		if _, err := echoCall(timed(t, true, 5*time.Second), p, "eth_call", "redial"); err != nil {
			t.Fatal(err) // redialled after the silent one above
		}
		done := make(completer, 3)
		var peer *wsPeer
		for range 3 {
			startCall(t, p, "hang", "h", time.Minute, done)
			peer = <-hung
		}
		peer.drop()
		for range 3 {
			if class, sent := classOf(done.await(t).err); class != ClassTransport || !sent {
				t.Errorf("class %q, sent %v, want a sent transport failure", class, sent)
			}
		}
	})
	waitFor(t, "slots and in-flight entries back", func() bool { return settled(p) })
}

// TestStartOverHTTP: a provider whose calls go over HTTP starts nothing.
func TestStartOverHTTP(t *testing.T) {
	p := New(Options{Chain: "test", ChainID: 7, Health: testHealth(), Provider: wsProvider(t, "ws://127.0.0.1:1", 1, nil).Config()})
	p.ws = nil
	if _, ok := startCall(t, p, "eth_call", "x", time.Second, make(completer, 1)); ok {
		t.Error("Start began a call over HTTP")
	}
}
