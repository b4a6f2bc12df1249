package usage

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// flaky is a Store whose Add fails while failing is set: before writing,
// or (committed) after writing, as when a commit's acknowledgement is cut
// off by a timeout or a dropped connection.
type flaky struct {
	Store
	failing   bool
	committed bool // the failing write is made all the same
}

func (f *flaky) Add(ctx context.Context, b Batch) error {
	if !f.failing {
		return f.Store.Add(ctx, b)
	}
	if f.committed {
		if err := f.Store.Add(ctx, b); err != nil {
			return err
		}
		return errors.New("connection lost during commit")
	}
	return errors.New("disk full")
}

// TestFlushFailureKeepsCounts: counts a failed flush could not write are
// written by the next one, with what came in between, exactly once
// whether the failed write was made or not.
func TestFlushFailureKeepsCounts(t *testing.T) {
	for _, committed := range []bool{false, true} {
		name := map[bool]string{false: "nothing written", true: "written, then failed"}[committed]
		t.Run(name, func(t *testing.T) {
			emb, db := openEmbedded(t, filepath.Join(t.TempDir(), "gw.db"))
			defer db.Close()
			st := &flaky{Store: emb, failing: true, committed: committed}
			m, c, t0 := fiveServed(t, st)
			if err := m.Flush(context.Background()); err == nil {
				t.Fatal("a failed write was not reported")
			}
			for range 3 {
				m.Served("eth", "a1", "alpha", "eth_call")
			}
			// A second failure: the unsure batch is still written first.
			if err := m.Flush(context.Background()); err == nil {
				t.Fatal("a failed write was not reported")
			}
			st.failing = false
			if r := onlyRecord(t, m, c, t0.Add(time.Minute)); r.Requests != 8 || r.ComputeUnits != 8*30 {
				t.Fatalf("record %+v, want 8 requests, 240 units", r)
			}
		})
	}
}

// cutOff is a Store whose first Add waits for its context to end, then
// commits all the same and reports the context's end: a commit in flight
// when the gateway stops, whose acknowledgement never arrives.
type cutOff struct {
	Store
	entered chan struct{}
	once    sync.Once
}

func (c *cutOff) Add(ctx context.Context, b Batch) error {
	first := false
	c.once.Do(func() { first = true })
	if !first {
		return c.Store.Add(ctx, b)
	}
	close(c.entered)
	<-ctx.Done()
	if err := c.Store.Add(context.WithoutCancel(ctx), b); err != nil {
		return err
	}
	return ctx.Err()
}

// TestStopDuringAWriteCountsOnce: the gateway stopping while a write is
// in flight, which the store commits though the meter hears only that its
// context ended, leaves the counts in the store once (the shutdown flush
// writes the batch again, and the store skips it).
func TestStopDuringAWriteCountsOnce(t *testing.T) {
	emb, db := openEmbedded(t, filepath.Join(t.TempDir(), "gw.db"))
	defer db.Close()
	st := &cutOff{Store: emb, entered: make(chan struct{})}
	m, c, t0 := fiveServed(t, st)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { m.Run(ctx); close(done) }()
	deadline := time.After(20 * time.Second)
	select {
	case <-st.entered:
	case <-deadline:
		t.Fatal("the meter wrote nothing")
	}
	cancel()
	select {
	case <-done:
	case <-deadline:
		t.Fatal("Run did not return after its context ended")
	}
	if r := onlyRecord(t, m, c, t0.Add(time.Minute)); r.Requests != 5 {
		t.Fatalf("record %+v, want 5 requests", r)
	}
}

// fiveServed is a meter on st, its clock at t0, that has counted five
// eth_call answers of provider a1 (operator alpha).
func fiveServed(t *testing.T, st Store) (m *Meter, c *clock, t0 time.Time) {
	t.Helper()
	c = &clock{}
	t0 = time.Unix(1_800_000_000, 0)
	c.set(t0)
	m = newMeter(t, st, c)
	for range 5 {
		m.Served("eth", "a1", "alpha", "eth_call")
	}
	return m, c, t0
}

// onlyRecord moves c to at, closes m's epochs and returns the one record
// of the one statement they must give.
func onlyRecord(t *testing.T, m *Meter, c *clock, at time.Time) Record {
	t.Helper()
	c.set(at)
	sts, err := m.CloseEpochs(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(sts) != 1 || len(sts[0].Records) != 1 {
		t.Fatalf("%d statements, want one of one record", len(sts))
	}
	return sts[0].Records[0]
}

// TestEpochThatCannotBeStatedHoldsUpNoOther: an epoch whose records were
// counted under two epoch lengths (usage.epoch changed across a restart)
// is reported and left; the next epoch is stated.
func TestEpochThatCannotBeStatedHoldsUpNoOther(t *testing.T) {
	emb, db := openEmbedded(t, filepath.Join(t.TempDir(), "gw.db"))
	defer db.Close()
	ctx := context.Background()
	mixed := []Record{
		{Chain: "eth", Provider: "a1", Operator: "alpha", EpochStart: 7200, EpochSeconds: 60, Requests: 1},
		{Chain: "eth", Provider: "a2", Operator: "alpha", EpochStart: 7200, EpochSeconds: 3600, Requests: 1},
		{Chain: "eth", Provider: "a1", Operator: "alpha", EpochStart: 10800, EpochSeconds: 60, Requests: 1},
	}
	if err := emb.Add(ctx, Batch{Writer: "w", Seq: 1, Counts: mixed}); err != nil {
		t.Fatal(err)
	}
	c := &clock{}
	c.set(time.Unix(20000, 0))
	sts, err := newMeter(t, emb, c).CloseEpochs(ctx)
	if err == nil || !strings.Contains(err.Error(), "1970-01-01T02:00:00Z") {
		t.Fatalf("err = %v, want the mixed epoch named", err)
	}
	if len(sts) != 1 || sts[0].EpochStart != 10800 {
		t.Fatalf("statements %+v, want the epoch at 10800", sts)
	}
}

// TestStatementsHandler: the admin listing filters by operator, bounds
// its length and refuses a bad limit.
func TestStatementsHandler(t *testing.T) {
	emb, db := openEmbedded(t, filepath.Join(t.TempDir(), "gw.db"))
	defer db.Close()
	_, _ = statementsAfterTraffic(t, emb)
	c := &clock{}
	m := newMeter(t, emb, c)
	m.o.MaxStatements = 3
	get := func(query string) (int, []json.RawMessage) {
		rec := httptest.NewRecorder()
		m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/usage/statements"+query, nil))
		var body struct {
			Signer     string            `json:"signer"`
			Statements []json.RawMessage `json:"statements"`
		}
		_ = json.Unmarshal(rec.Body.Bytes(), &body)
		if rec.Code == http.StatusOK && body.Signer != m.Signer().Address().Hex() {
			t.Fatalf("signer %q", body.Signer)
		}
		return rec.Code, body.Statements
	}
	for _, tc := range []struct {
		query string
		code  int
		n     int
	}{
		{"", 200, 3},          // bounded by max_statements
		{"?limit=2", 200, 2},  //
		{"?limit=50", 200, 3}, // never above max_statements
		{"?operator=beta", 200, 2},
		{"?operator=nobody", 200, 0},
		{"?limit=0", 400, 0},
		{"?limit=x", 400, 0},
	} {
		code, sts := get(tc.query)
		if code != tc.code || len(sts) != tc.n {
			t.Errorf("%q: HTTP %d with %d statements, want %d with %d", tc.query, code, len(sts), tc.code, tc.n)
		}
	}
	_, sts := get("?operator=beta")
	for i, b := range sts {
		st, err := DecodeStatement(b)
		if err != nil || st.Operator != "beta" {
			t.Fatalf("statement %d: %v %+v", i, err, st)
		}
		if i > 0 {
			prev, _ := DecodeStatement(sts[i-1])
			if prev.EpochStart <= st.EpochStart {
				t.Fatal("statements not newest epoch first")
			}
		}
	}
}

// BenchmarkServed is the cost a served answer adds to the request path,
// from many goroutines at once.
func BenchmarkServed(b *testing.B) {
	m, err := New(Options{Store: &flaky{}, Signer: NewSigner(testKey(b, 1))})
	if err != nil {
		b.Fatal(err)
	}
	providers := []string{"a1", "a2", "b1", "c1", "d1", "e1"}
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			m.Served("eth", providers[i%len(providers)], "op", "eth_call")
			i++
		}
	})
}
