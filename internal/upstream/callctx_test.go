package upstream

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/config"
	"github.com/rpcmesh/rpcmesh/internal/fakenode"
)

type ctxKey struct{}

func TestCallContext(t *testing.T) {
	parent, cancelParent := context.WithCancelCause(context.WithValue(context.Background(), ctxKey{}, "v"))
	defer cancelParent(nil)

	t.Run("deadline", func(t *testing.T) {
		var c CallContext
		c.Init(parent, time.Now().Add(30*time.Millisecond))
		if c.Err() != nil || c.Value(ctxKey{}) != "v" {
			t.Fatalf("fresh: err %v, value %v", c.Err(), c.Value(ctxKey{}))
		}
		select {
		case <-c.Done(): // the first Done arms the deadline's timer
		case <-time.After(2 * time.Second):
			t.Fatal("Done not closed at the deadline")
		}
		if !errors.Is(c.Err(), context.DeadlineExceeded) || !errors.Is(c.Cause(), context.DeadlineExceeded) {
			t.Fatalf("err %v, cause %v", c.Err(), c.Cause())
		}
	})
	t.Run("escaped", func(t *testing.T) {
		for name, use := range map[string]func(*CallContext){
			"Done":  func(c *CallContext) { c.Done() },
			"Value": func(c *CallContext) { c.Value(ctxKey{}) },
		} {
			var c CallContext
			c.Init(parent, time.Now().Add(time.Second))
			_, _ = c.Deadline()
			_ = c.Err()
			c.Cancel(nil)
			if c.Escaped() {
				t.Fatalf("escaped before %s", name)
			}
			use(&c)
			if !c.Escaped() {
				t.Fatalf("not escaped after %s", name)
			}
		}
	})
	t.Run("deadline without Done", func(t *testing.T) {
		var c CallContext
		c.Init(parent, time.Now().Add(-time.Millisecond))
		if !errors.Is(c.Err(), context.DeadlineExceeded) {
			t.Fatalf("err %v", c.Err())
		}
		select {
		case <-c.Done():
		default:
			t.Fatal("Done open after the deadline")
		}
	})
	t.Run("cancel with cause", func(t *testing.T) {
		var c CallContext
		c.Init(parent, time.Now().Add(time.Hour))
		child, cancelChild := context.WithCancel(&c) // builds the standard mirror
		defer cancelChild()
		c.Cancel(ErrStalled)
		c.Cancel(errors.New("later causes are ignored"))
		<-child.Done()
		if !errors.Is(c.Err(), context.Canceled) || !errors.Is(c.Cause(), ErrStalled) {
			t.Fatalf("err %v, cause %v", c.Err(), c.Cause())
		}
		if got := context.Cause(child); !errors.Is(got, ErrStalled) {
			t.Fatalf("child's cause %v, want the cause of Cancel", got)
		}
	})
	t.Run("outlives the parent", func(t *testing.T) {
		p, cancel := context.WithCancel(parent)
		var c CallContext
		c.Init(p, time.Time{})
		cancel()
		select {
		case <-c.Done():
			t.Fatal("ended with its parent")
		case <-time.After(10 * time.Millisecond):
		}
		if _, ok := c.Deadline(); ok || c.Err() != nil {
			t.Fatalf("deadline %v, err %v", ok, c.Err())
		}
	})
}

// TestCallContextLeanClient checks that the lean client honours an
// attempt's context without a watch goroutine or timer: the deadline ends
// a hung call as a timeout, Cancel ends it at once with its cause, and a
// connection that carried a deadline serves calls without one afterwards.
func TestCallContextLeanClient(t *testing.T) {
	n := fakenode.Start("a", fakenode.NewChain(7, 100))
	defer n.Close()
	p := New(Options{ChainID: 7, Provider: config.Provider{Name: "a", HTTP: n.URL()}, Health: testHealth()})
	if p.h1 == nil {
		t.Fatal("the fake node should be served by the lean client")
	}
	call := func(ctx context.Context) (Class, time.Duration) {
		start := time.Now()
		_, err := p.Call(ctx, "eth_gasPrice", nil)
		var ue *Error
		if errors.As(err, &ue) {
			return ue.Class, time.Since(start)
		}
		if err != nil {
			t.Fatalf("call: %v", err)
		}
		return "", time.Since(start)
	}

	// A deadline that passes while the call waits leaves the connection
	// with it: later calls must not inherit it.
	var c0 CallContext
	c0.Init(context.Background(), time.Now().Add(50*time.Millisecond))
	if class, _ := call(&c0); class != "" {
		t.Fatalf("first call: %s", class)
	}
	time.Sleep(60 * time.Millisecond)
	if class, _ := call(context.Background()); class != "" {
		t.Fatalf("a call without deadline after one with: %s", class)
	}

	n.SetFault(fakenode.Fault{Hang: true})
	var c1 CallContext
	c1.Init(context.Background(), time.Now().Add(100*time.Millisecond))
	if class, took := call(&c1); class != ClassTimeout || took > time.Second {
		t.Fatalf("hung call: %q after %s, want a timeout after 100ms", class, took)
	}

	var c2 CallContext
	c2.Init(context.Background(), time.Now().Add(time.Minute))
	time.AfterFunc(50*time.Millisecond, func() { c2.Cancel(ErrStalled) })
	if class, took := call(&c2); class != ClassStalled || took > time.Second {
		t.Fatalf("cancelled call: %q after %s, want stalled after 50ms", class, took)
	}

	var c3 CallContext
	c3.Init(context.Background(), time.Now().Add(time.Minute))
	c3.Cancel(nil)
	if class, took := call(&c3); class != ClassCanceled || took > 100*time.Millisecond {
		t.Fatalf("call on a cancelled context: %q after %s", class, took)
	}

	n.SetFault(fakenode.Fault{})
	var c4 CallContext
	c4.Init(context.Background(), time.Now().Add(time.Second))
	if class, _ := call(&c4); class != "" {
		t.Fatalf("after the interrupts: %s", class)
	}
}
