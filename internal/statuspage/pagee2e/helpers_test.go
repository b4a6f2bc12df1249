package pagee2e

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/devnet"
	"github.com/rpcmesh/rpcmesh/internal/status"
	"github.com/rpcmesh/rpcmesh/internal/statuspage/browser"
)

// allUp is true on the page when the devnet's five providers are all up.
const allUp = `(() => {
	const rows = [...document.querySelectorAll('[data-chain="devnet"] tr[data-provider]')];
	return rows.length === 5 && rows.every((r) => r.dataset.state === "up");
})()`

// openPage opens the gateway's page in a new tab and waits until it is
// live and shows every provider up. The page must throw no exception.
func openPage(t *testing.T) *browser.Tab {
	t.Helper()
	tab := chromium.OpenPage(t, base)
	tab.Wait(t, 30*time.Second, "every provider up", allUp)
	return tab
}

// stage stages a devnet fault and returns a func that clears it (also
// run when the test ends).
func stage(t *testing.T, kind devnet.FaultKind, params, target string) func() {
	t.Helper()
	spec := devnet.FaultSpec{Target: target, Kind: kind}
	if params != "" {
		spec.Params = json.RawMessage(params)
	}
	return dn.Stage(t, spec)
}

// timedEvent is an incident event and when the gateway published it.
type timedEvent struct {
	at time.Time
	ev status.Event
}

// eventLog records the gateway's incident events as it publishes them
// (its status.Source), so that a test knows when the gateway detected
// what the page shows.
type eventLog struct {
	mu   sync.Mutex
	seen []timedEvent
}

// watchEvents subscribes to the gateway's incident events until the test
// ends.
func watchEvents(t *testing.T) *eventLog {
	ctx, cancel := context.WithCancel(context.Background())
	l := &eventLog{}
	events := gw.StatusSource().Subscribe(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev := range events {
			l.mu.Lock()
			l.seen = append(l.seen, timedEvent{at: time.Now(), ev: ev})
			l.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		if t.Failed() {
			for _, te := range l.seen {
				i := &te.ev.Incident
				t.Logf("%s %s %s %s %v: %s", te.at.Format("15:04:05.000"), te.ev.Type, i.ID, i.Kind, i.Providers, i.Message)
			}
		}
	})
	return l
}

// wait polls the log until an event matches, at most d.
func (l *eventLog) wait(t *testing.T, d time.Duration, what string, match func(status.Event) bool) timedEvent {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		l.mu.Lock()
		for _, te := range l.seen {
			if match(te.ev) {
				l.mu.Unlock()
				return te
			}
		}
		l.mu.Unlock()
		select {
		case <-ctx.Done():
			t.Fatalf("the gateway published no event of %s within %s", what, d)
		case <-tick.C:
		}
	}
}

// incidentSel is the JavaScript expression for the page's item of the
// incident id.
func incidentSel(id string) string {
	return fmt.Sprintf(`document.querySelector('li[data-incident-id=%q]')`, id)
}

// rowSel is the JavaScript expression for the page's row of a provider.
func rowSel(provider string) string {
	return fmt.Sprintf(`document.querySelector('[data-chain="devnet"] tr[data-provider=%q]')`, provider)
}
