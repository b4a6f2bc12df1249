package testwait

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

func TestUntil(t *testing.T) {
	var looks atomic.Int32
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := Until(ctx, "the third look", func() bool { return looks.Add(1) == 3 }); err != nil {
		t.Fatal(err)
	}
	if n := looks.Load(); n != 3 {
		t.Fatalf("%d looks, want 3", n)
	}
}

func TestUntilEndsWithItsContext(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	err := Until(ctx, "never", func() bool { return false })
	if !errors.Is(err, context.DeadlineExceeded) || err.Error() != "waiting for never: context deadline exceeded" {
		t.Fatalf("got %v", err)
	}
}

func TestContextEndsWithItsTest(t *testing.T) {
	var ctx context.Context
	t.Run("inner", func(t *testing.T) {
		ctx = Context(t, time.Minute)
		if ctx.Err() != nil {
			t.Fatalf("ended at once: %v", ctx.Err())
		}
	})
	if ctx.Err() == nil {
		t.Fatal("the context outlived its test")
	}
}
