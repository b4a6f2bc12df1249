package devnet

import (
	"context"
	"sync"
	"testing"
)

// Stage stages spec for a test and returns a func that clears it; the
// fault is also cleared when the test ends. A fault that cannot be staged
// fails the test.
func (d *Devnet) Stage(t testing.TB, spec FaultSpec) (clear func()) {
	t.Helper()
	f, err := d.SetFault(context.Background(), spec)
	if err != nil {
		t.Fatalf("stage %s on %s: %v", spec.Kind, spec.Target, err)
	}
	var once sync.Once
	clear = func() {
		once.Do(func() {
			if err := d.ClearFault(f.ID); err != nil {
				t.Errorf("clear %s on %s: %v", spec.Kind, spec.Target, err)
			}
		})
	}
	t.Cleanup(clear)
	return clear
}
