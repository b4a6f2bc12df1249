// Package testwait is how tests wait for something they can observe: a
// bounded poll of state instead of a sleep that hopes it is long enough.
package testwait

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// maxInterval bounds the gap between two looks: quick to notice, cheap
// enough for conditions that ask a gateway over HTTP.
const maxInterval = 50 * time.Millisecond

// Until calls cond until it holds, or ctx ends; the error then names what
// was awaited. The first look is at once, the gaps grow from 1 ms to 50 ms.
func Until(ctx context.Context, what string, cond func() bool) error {
	for gap := time.Millisecond; !cond(); gap = min(2*gap, maxInterval) {
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w", what, context.Cause(ctx))
		case <-time.After(gap):
		}
	}
	return nil
}

// For is Until bounded by timeout; it fails t when the time runs out.
func For(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := Until(ctx, what, cond); err != nil {
		t.Fatal(err)
	}
}

// Context is a context for one test's waits: it ends after timeout, or
// when the test's cleanups run.
func Context(t testing.TB, timeout time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	t.Cleanup(cancel)
	return ctx
}
