package filters

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/subscribe"
)

// events records subscriptions; a test plays the hub by calling their sinks.
type events struct {
	mu    sync.Mutex
	next  int
	sinks map[string]subscribe.Sink
	kinds map[string]string
}

func newEvents() *events {
	return &events{sinks: map[string]subscribe.Sink{}, kinds: map[string]string{}}
}

func (e *events) Subscribe(kind string, _ json.RawMessage, sink subscribe.Sink) (string, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.next++
	id := fmt.Sprint(e.next)
	e.sinks[id], e.kinds[id] = sink, kind
	return id, nil
}

func (e *events) Unsubscribe(id string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	_, ok := e.sinks[id]
	delete(e.sinks, id)
	return ok
}

// send delivers raw to every open subscription of kind.
func (e *events) send(kind, raw string) {
	e.mu.Lock()
	var sinks []subscribe.Sink
	for id, s := range e.sinks {
		if e.kinds[id] == kind {
			sinks = append(sinks, s)
		}
	}
	e.mu.Unlock()
	for _, s := range sinks {
		s(json.RawMessage(raw))
	}
}

func (e *events) open() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.sinks)
}

// clock is a test clock a test moves.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

var testLimits = Limits{MaxPerClient: 2, MaxTotal: 3, MaxChanges: 3, Timeout: time.Minute}

func newTestStore() (*Store, *events, *clock) {
	ev, clk := newEvents(), &clock{t: time.Unix(1_000_000, 0)}
	return NewStore(ev, testLimits, clk.now), ev, clk
}

func TestStoreBounds(t *testing.T) {
	// Each step installs a filter for a client (or uninstalls the one made
	// at step undo) and expects the error.
	steps := []struct {
		client string
		undo   int // step whose filter is uninstalled instead; -1: install
		want   error
	}{
		{"a", -1, nil},
		{"a", -1, nil},
		{"a", -1, ErrClientLimit}, // a has 2
		{"b", -1, nil},
		{"c", -1, ErrTotalLimit}, // 3 in total
		{"", 0, nil},             // a uninstalls one
		{"c", -1, nil},           // room again
		{"a", -1, ErrTotalLimit},
	}
	s, ev, _ := newTestStore()
	ids := make([]string, len(steps))
	for i, st := range steps {
		if st.undo >= 0 {
			if !s.Uninstall(ids[st.undo]) {
				t.Fatalf("step %d: uninstall of step %d's filter said not installed", i, st.undo)
			}
			continue
		}
		id, err := s.Install(st.client, Spec{Kind: Blocks, From: -1, To: -1})
		if !errors.Is(err, st.want) || (err == nil) != (id != "") {
			t.Fatalf("step %d (client %s): got %q, %v; want error %v", i, st.client, id, err, st.want)
		}
		ids[i] = id
	}
	if s.Len() != 3 || ev.open() != 3 {
		t.Fatalf("%d filters and %d event subscriptions, want 3 and 3", s.Len(), ev.open())
	}
}

func TestStoreChanges(t *testing.T) {
	hash := func(n int) string { return fmt.Sprintf(`{"number":"0x%x","hash":"0x%064X"}`, n, n) }
	logAt := func(n int) string { return fmt.Sprintf(`{"blockNumber":"0x%x","logIndex":"0x0"}`, n) }
	removed := func(n, i int) string {
		return fmt.Sprintf(`{"blockNumber":"0x%x","logIndex":"0x%x","removed":true}`, n, i)
	}
	tests := []struct {
		name   string
		spec   Spec
		kind   string
		events []string
		want   string
	}{
		{"no event yet", Spec{Kind: Blocks, From: -1, To: -1}, subscribe.KindNewHeads, nil, `[]`},
		{"block hashes in order, lower case", Spec{Kind: Blocks, From: -1, To: -1}, subscribe.KindNewHeads,
			[]string{hash(10), hash(11)}, fmt.Sprintf(`["0x%064x","0x%064x"]`, 10, 11)},
		{"pending hashes as sent", Spec{Kind: Pending, From: -1, To: -1}, subscribe.KindPending,
			[]string{`"0xaa"`, `"0xbb"`}, `["0xaa","0xbb"]`},
		{"logs, no range", Spec{Kind: Logs, From: -1, To: -1}, subscribe.KindLogs,
			[]string{logAt(5), logAt(6)}, `[` + logAt(5) + `,` + logAt(6) + `]`},
		{"logs from block 6", Spec{Kind: Logs, From: 6, To: -1}, subscribe.KindLogs,
			[]string{logAt(5), logAt(6), logAt(7)}, `[` + logAt(6) + `,` + logAt(7) + `]`},
		{"logs 5 to 6", Spec{Kind: Logs, From: 5, To: 6}, subscribe.KindLogs,
			[]string{logAt(4), logAt(5), logAt(6), logAt(7)}, `[` + logAt(5) + `,` + logAt(6) + `]`},
		// A reorg's removed logs are kept in the order the hub sends them
		// (oldest block first, as a node returns them).
		{"removed logs in the hub's order", Spec{Kind: Logs, From: -1, To: -1}, subscribe.KindLogs,
			[]string{logAt(7), removed(6, 0), removed(6, 1), removed(7, 0), removed(7, 1), logAt(6)},
			`[` + strings.Join([]string{logAt(7), removed(6, 0), removed(6, 1), removed(7, 0), removed(7, 1), logAt(6)}, ",") + `]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := newEvents()
			s := NewStore(ev, Limits{MaxPerClient: 1, MaxTotal: 1, MaxChanges: 100, Timeout: time.Minute}, nil)
			id, err := s.Install("a", tt.spec)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range tt.events {
				ev.send(tt.kind, e)
			}
			got, err := s.Changes(id)
			if err != nil || string(got) != tt.want {
				t.Fatalf("changes: %s, %v; want %s", got, err, tt.want)
			}
			if again, _ := s.Changes(id); string(again) != `[]` {
				t.Fatalf("second poll: %s, want []", again)
			}
		})
	}
}

func TestStoreDropsFilterPastMaxChanges(t *testing.T) {
	s, ev, _ := newTestStore()
	id, _ := s.Install("a", Spec{Kind: Pending, From: -1, To: -1})
	other, _ := s.Install("b", Spec{Kind: Pending, From: -1, To: -1})
	for i := range testLimits.MaxChanges {
		ev.send(subscribe.KindPending, fmt.Sprintf(`"0x%x"`, i))
	}
	if _, err := s.Changes(other); err != nil { // b polls; a does not
		t.Fatal(err)
	}
	ev.send(subscribe.KindPending, `"0xff"`) // a's fourth
	if _, err := s.Changes(id); !errors.Is(err, ErrNotFound) {
		t.Fatalf("filter past max changes: %v, want not found", err)
	}
	if got, err := s.Changes(other); err != nil || string(got) != `["0xff"]` {
		t.Fatalf("the other filter: %s, %v", got, err)
	}
	if ev.open() != 1 {
		t.Fatalf("%d event subscriptions, want 1 (the dropped filter's ended)", ev.open())
	}
}

// A store-wide byte bound drops the filter polled least (most waiting),
// and keeps the one whose client polls.
func TestStoreDropsLargestPastTotalBytes(t *testing.T) {
	ev, clk := newEvents(), &clock{t: time.Unix(1_000_000, 0)}
	limits := Limits{MaxPerClient: 3, MaxTotal: 3, MaxChanges: 1000, MaxTotalBytes: 100, Timeout: time.Minute}
	s := NewStore(ev, limits, clk.now)
	idle, _ := s.Install("a", Spec{Kind: Pending, From: -1, To: -1})
	busy, _ := s.Install("b", Spec{Kind: Pending, From: -1, To: -1})
	waiting := func() int64 { s.mu.Lock(); defer s.mu.Unlock(); return s.bytes }
	send := func(i int) { // 20 bytes to each filter, then busy polls
		ev.send(subscribe.KindPending, fmt.Sprintf(`"0x%016x"`, i))
		if _, err := s.Changes(busy); err != nil {
			t.Fatalf("the polled filter was dropped: %v", err)
		}
	}
	for i := range 4 {
		send(i) // at most 80 (idle) + 20 (busy) waiting: at the bound, not past it
	}
	if got := waiting(); got != 80 {
		t.Fatalf("%d bytes waiting, want 80 (idle's four hashes)", got)
	}
	send(4) // 100 + 20: past the bound
	if _, err := s.Changes(idle); !errors.Is(err, ErrNotFound) {
		t.Fatalf("filter holding most past the store-wide bound: %v, want not found", err)
	}
	if ev.open() != 1 {
		t.Fatalf("%d event subscriptions, want 1 (the dropped filter's ended)", ev.open())
	}
	if got := waiting(); got != 0 {
		t.Fatalf("%d bytes waiting after busy polled, want 0", got)
	}
}

func TestStoreExpiry(t *testing.T) {
	tests := []struct {
		name    string
		steps   []string // "wait N" (seconds), "poll", "logs"
		expired bool
	}{
		{"not polled for the timeout", []string{"wait 61"}, true},
		{"just inside the timeout", []string{"wait 60"}, false},
		{"polling restarts the timeout", []string{"wait 50", "poll", "wait 50"}, false},
		{"getFilterLogs does not", []string{"wait 50", "logs", "wait 20"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, ev, clk := newTestStore()
			id, _ := s.Install("a", Spec{Kind: Logs, Criteria: json.RawMessage(`{}`), From: -1, To: -1})
			for _, st := range tt.steps {
				var n int
				switch {
				case st == "poll":
					if _, err := s.Changes(id); err != nil {
						t.Fatal(err)
					}
				case st == "logs":
					if _, err := s.Criteria(id); err != nil {
						t.Fatal(err)
					}
				default:
					fmt.Sscanf(st, "wait %d", &n)
					clk.add(time.Duration(n) * time.Second)
				}
			}
			_, err := s.Changes(id)
			if gone := errors.Is(err, ErrNotFound); gone != tt.expired {
				t.Fatalf("expired=%v (%v), want %v", gone, err, tt.expired)
			}
			if tt.expired && (ev.open() != 0 || s.Len() != 0) {
				t.Fatalf("expired filter left %d subscriptions, %d filters", ev.open(), s.Len())
			}
		})
	}
}

func TestStoreSweepEndsExpiredSubscriptions(t *testing.T) {
	s, ev, clk := newTestStore()
	s.Install("a", Spec{Kind: Blocks, From: -1, To: -1})
	s.Install("b", Spec{Kind: Blocks, From: -1, To: -1})
	clk.add(2 * time.Minute)
	id, _ := s.Install("a", Spec{Kind: Blocks, From: -1, To: -1}) // sweeps first
	if s.Len() != 1 || ev.open() != 1 {
		t.Fatalf("%d filters, %d subscriptions after the sweep, want 1, 1", s.Len(), ev.open())
	}
	if _, err := s.Changes(id); err != nil {
		t.Fatal(err)
	}
}

func TestStoreUninstall(t *testing.T) {
	s, ev, _ := newTestStore()
	id, _ := s.Install("a", Spec{Kind: Blocks, From: -1, To: -1})
	if !s.Uninstall(id) || s.Uninstall(id) || s.Uninstall("0x1") {
		t.Fatal("uninstall: want true once, then false")
	}
	if ev.open() != 0 {
		t.Fatal("uninstalled filter still subscribed")
	}
	if _, err := s.Changes(id); !errors.Is(err, ErrNotFound) {
		t.Fatalf("changes of uninstalled filter: %v", err)
	}
}

func TestIDsAsGoEthereumMakesThem(t *testing.T) {
	re := regexp.MustCompile(`^0x([1-9a-f][0-9a-f]{0,31}|0)$`)
	seen := map[string]bool{}
	for range 1000 {
		id := newID()
		if !re.MatchString(id) || seen[id] {
			t.Fatalf("id %q: not a go-ethereum filter ID, or repeated", id)
		}
		seen[id] = true
	}
}

// TestStoreConcurrent installs, polls and uninstalls from many goroutines
// while events arrive (run with -race); the counts stay within the bounds
// and nothing is left behind.
func TestStoreConcurrent(t *testing.T) {
	ev := newEvents()
	s := NewStore(ev, Limits{MaxPerClient: 4, MaxTotal: 16, MaxChanges: 50, Timeout: time.Minute}, nil)
	stop := make(chan struct{})
	var feed sync.WaitGroup
	feed.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			ev.send(subscribe.KindNewHeads, fmt.Sprintf(`{"hash":"0x%x"}`, i))
		}
	})
	var wg sync.WaitGroup
	for c := range 8 {
		wg.Go(func() {
			client := fmt.Sprint(c % 3)
			for range 200 {
				id, err := s.Install(client, Spec{Kind: Blocks, From: -1, To: -1})
				if err != nil {
					if !errors.Is(err, ErrClientLimit) && !errors.Is(err, ErrTotalLimit) {
						t.Error(err)
					}
					continue
				}
				_, _ = s.Changes(id)
				s.Uninstall(id)
			}
		})
	}
	wg.Wait()
	close(stop)
	feed.Wait()
	if s.Len() != 0 || ev.open() != 0 || len(s.perClient) != 0 {
		t.Fatalf("left %d filters, %d subscriptions, %d client counts", s.Len(), ev.open(), len(s.perClient))
	}
}
