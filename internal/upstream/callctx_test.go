package upstream

import (
	"context"
	"errors"
	"testing"
	"time"
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
