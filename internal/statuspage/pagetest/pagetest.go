// Package pagetest helps test the status page: a status.Source whose
// snapshot and incident events a test sets, and a page served on a
// loopback listener.
package pagetest

import (
	"context"
	"maps"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/rpcmesh/rpcmesh/internal/status"
	"github.com/rpcmesh/rpcmesh/internal/statuspage"
)

// Source is a status.Source a test drives: Set replaces the snapshot,
// Publish sends an incident event (and keeps the incident in the snapshot,
// as a real source does).
type Source struct {
	// Vary, when set, changes each snapshot handed out (at its time), so
	// that charts have something to draw.
	Vary func(snap *status.Snapshot, at time.Time)

	mu   sync.Mutex
	snap status.Snapshot
	subs map[chan status.Event]struct{}
}

// NewSource returns a source whose snapshot is snap.
func NewSource(snap status.Snapshot) *Source {
	return &Source{snap: snap, subs: map[chan status.Event]struct{}{}}
}

// Snapshot returns the snapshot set, stamped now (status.Source).
func (s *Source) Snapshot() status.Snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	snap := s.snap
	snap.At = time.Now().UTC()
	snap.Chains = append([]status.Chain(nil), s.snap.Chains...)
	snap.Incidents = append([]status.Incident(nil), s.snap.Incidents...)
	if s.Vary != nil {
		for i := range snap.Chains {
			c := &snap.Chains[i]
			c.Providers = append([]status.Provider(nil), c.Providers...)
			c.OperatorShare, c.CloudShare = maps.Clone(c.OperatorShare), maps.Clone(c.CloudShare)
		}
		s.Vary(&snap, snap.At)
	}
	return snap
}

// Subscribe returns the incident events published from now on, until ctx
// ends (status.Source).
func (s *Source) Subscribe(ctx context.Context) <-chan status.Event {
	ch := make(chan status.Event, 16)
	s.mu.Lock()
	s.subs[ch] = struct{}{}
	s.mu.Unlock()
	go func() {
		<-ctx.Done()
		s.mu.Lock()
		delete(s.subs, ch)
		close(ch)
		s.mu.Unlock()
	}()
	return ch
}

// Update changes the snapshot under the source's lock.
func (s *Source) Update(edit func(*status.Snapshot)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	edit(&s.snap)
}

// Publish records ev's incident in the snapshot (newest first, replacing
// an earlier state of the same incident) and sends ev to every subscriber.
func (s *Source) Publish(ev status.Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []status.Incident{ev.Incident}
	for _, i := range s.snap.Incidents {
		if i.ID != ev.Incident.ID {
			out = append(out, i)
		}
	}
	s.snap.Incidents = out
	for ch := range s.subs {
		select {
		case ch <- ev:
		default: // a subscriber that does not keep up loses events
		}
	}
}

// Serve runs page (its Run loop too) on a loopback listener until the test
// ends, and returns its base URL ("http://127.0.0.1:port").
func Serve(t testing.TB, page *statuspage.Page) string {
	t.Helper()
	return ServeWith(t, page, nil)
}

// ServeWith is Serve with other handling the requests that are not the
// page's (nil: 404).
func ServeWith(t testing.TB, page *statuspage.Page, other fasthttp.RequestHandler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &fasthttp.Server{
		Handler: func(ctx *fasthttp.RequestCtx) {
			switch {
			case statuspage.Owns(ctx.Path()):
				page.Serve(ctx)
			case other != nil:
				other(ctx)
			default:
				ctx.Error("not the page's", fasthttp.StatusNotFound)
			}
		},
		WriteTimeout: 5 * time.Second,
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		_ = srv.Serve(ln)
	}()
	go func() {
		defer wg.Done()
		page.Run(ctx)
	}()
	t.Cleanup(func() {
		page.Close()
		cancel()
		sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer scancel()
		_ = srv.ShutdownWithContext(sctx)
		ln.Close() // in case Serve had not taken it yet when Shutdown ran
		wg.Wait()
	})
	return "http://" + ln.Addr().String()
}
