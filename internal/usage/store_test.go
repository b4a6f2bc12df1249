package usage

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/rpcmesh/rpcmesh/internal/store"
)

// clock is a settable time for a Meter.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

// traffic is a script of metered events over two epochs of 60 s from t0;
// it returns the requests it counted per epoch.
func traffic(t *testing.T, m *Meter, c *clock, t0 time.Time) map[int64]uint64 {
	t.Helper()
	counted := map[int64]uint64{}
	providers := [][2]string{{"a1", "alpha"}, {"a2", "alpha"}, {"b1", "beta"}, {"c1", "gamma"}}
	methods := []string{"eth_call", "eth_getBalance", "eth_getLogs", "debug_traceCall", "rpcmesh_unknown"}
	for i := range 500 {
		at := t0.Add(time.Duration(i) * 200 * time.Millisecond) // 100 s: two epochs
		c.set(at)
		p := providers[i%len(providers)]
		m.Served("eth", p[0], p[1], methods[i%len(methods)])
		counted[m.epochOf(at)]++
		if i%3 == 0 {
			m.Verified("eth", p[0], p[1])
		}
		if i%50 == 0 {
			m.Audit("eth", p[0], p[1], i%100 == 0)
		}
		if i%97 == 0 { // flushes at arbitrary points: totals must not depend on them
			if err := m.Flush(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
	}
	return counted
}

func newMeter(t *testing.T, st Store, c *clock) *Meter {
	t.Helper()
	m, err := New(Options{Store: st, Signer: NewSigner(testKey(t, 9)), Epoch: time.Minute, Now: c.now})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// run plays traffic through a meter on st and closes the epochs; it
// returns the statements as stored.
func statementsAfterTraffic(t *testing.T, st Store) ([]json.RawMessage, map[int64]uint64) {
	t.Helper()
	c := &clock{}
	t0 := time.Unix(1_800_000_000, 0) // an epoch boundary (a multiple of 60)
	m := newMeter(t, st, c)
	counted := traffic(t, m, c, t0)
	c.set(t0.Add(10 * time.Minute))
	sts, err := m.CloseEpochs(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(sts) != 6 { // 3 operators × 2 epochs
		t.Fatalf("%d statements, want 6", len(sts))
	}
	stored, err := st.Statements(context.Background(), "", 100)
	if err != nil {
		t.Fatal(err)
	}
	return stored, counted
}

// checkTotals verifies each statement and compares its records' requests
// per epoch with what the traffic counted.
func checkTotals(t *testing.T, stored []json.RawMessage, counted map[int64]uint64) {
	t.Helper()
	got := map[int64]uint64{}
	for _, b := range stored {
		st, err := DecodeStatement(b)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.Verify(NewSigner(testKey(t, 9)).Address()); err != nil {
			t.Fatal(err)
		}
		for _, r := range st.Records {
			got[r.EpochStart] += r.Requests
		}
	}
	for ep, n := range counted {
		if got[ep] != n {
			t.Errorf("epoch %d: statements count %d requests, the traffic sent %d", ep, got[ep], n)
		}
	}
}

func openEmbedded(t *testing.T, path string) (*Embedded, *store.DB) {
	t.Helper()
	db, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	return NewEmbedded(db), db
}

// TestEmbeddedTotalsAcrossRestart: counts flushed by one meter and counted
// by the next on the same store file (a gateway restart mid-epoch) add up
// in the epoch's statements to exactly what was sent.
func TestEmbeddedTotalsAcrossRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gw.db")
	c := &clock{}
	t0 := time.Unix(1_800_000_000, 0)
	st, db := openEmbedded(t, path)
	m := newMeter(t, st, c)
	for i := range 70 {
		c.set(t0.Add(time.Duration(i) * 100 * time.Millisecond))
		m.Served("eth", "a1", "alpha", "eth_getLogs")
	}
	if err := m.Flush(context.Background()); err != nil { // what Run does at shutdown
		t.Fatal(err)
	}
	db.Close()

	st, db = openEmbedded(t, path)
	defer db.Close()
	m = newMeter(t, st, c)
	for range 30 {
		m.Served("eth", "a1", "alpha", "eth_getLogs")
	}
	c.set(t0.Add(2 * time.Minute))
	sts, err := m.CloseEpochs(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(sts) != 1 || len(sts[0].Records) != 1 {
		t.Fatalf("statements %+v", sts)
	}
	if r := sts[0].Records[0]; r.Requests != 100 || r.ComputeUnits != 100*75 {
		t.Fatalf("record %+v, want 100 requests and 7500 compute units", r)
	}
	if again, err := m.CloseEpochs(context.Background()); err != nil || len(again) != 0 {
		t.Fatalf("an epoch was stated twice: %v %v", again, err)
	}
}

// TestEmbeddedStatements: totals per epoch equal the traffic's.
func TestEmbeddedStatements(t *testing.T) {
	st, db := openEmbedded(t, filepath.Join(t.TempDir(), "gw.db"))
	defer db.Close()
	stored, counted := statementsAfterTraffic(t, st)
	checkTotals(t, stored, counted)
}

// postgresDSN is the test server's DSN (RPCMESH_TEST_POSTGRES, set by
// .ci/run from .ci/postgres), with a fresh schema of this test's own.
// Without it the test is skipped, unless CI is set: then it fails.
func postgresDSN(t *testing.T) string {
	t.Helper()
	dsn := os.Getenv("RPCMESH_TEST_POSTGRES")
	if dsn == "" {
		if testing.Short() {
			t.Skip("PostgreSQL test skipped with -short")
		}
		msg := "RPCMESH_TEST_POSTGRES is not set: start a server with .ci/postgres start DIR (docs/usage.md)"
		if os.Getenv("CI") != "" {
			t.Fatal(msg + "; CI is set, so this is a failure")
		}
		t.Skip(msg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect to %s: %v", dsn, err)
	}
	defer conn.Close(ctx)
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "usage_test_" + hex.EncodeToString(b[:])
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		if c, err := pgx.Connect(ctx, dsn); err == nil {
			_, _ = c.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE")
			c.Close(ctx)
		}
	})
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

func openPostgres(t *testing.T, dsn string) *Postgres {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	pg, err := OpenPostgres(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	return pg
}

// TestPostgresMatchesEmbedded: the same traffic metered into PostgreSQL
// and into the embedded store gives byte-identical statements, and
// PostgreSQL keeps totals across a reconnect (a restart).
func TestPostgresMatchesEmbedded(t *testing.T) {
	dsn := postgresDSN(t)
	pg := openPostgres(t, dsn)
	fromPG, counted := statementsAfterTraffic(t, pg)
	pg.Close()
	checkTotals(t, fromPG, counted)

	emb, db := openEmbedded(t, filepath.Join(t.TempDir(), "gw.db"))
	defer db.Close()
	fromBolt, _ := statementsAfterTraffic(t, emb)
	if len(fromPG) != len(fromBolt) {
		t.Fatalf("%d statements from PostgreSQL, %d from the embedded store", len(fromPG), len(fromBolt))
	}
	for i := range fromPG {
		if !bytes.Equal(fromPG[i], fromBolt[i]) {
			t.Fatalf("statement %d differs:\npostgres: %s\nembedded: %s", i, fromPG[i], fromBolt[i])
		}
	}

	// A restart: a new pool on the same tables sees the totals and the
	// stated epochs, and filters by operator.
	pg = openPostgres(t, dsn)
	defer pg.Close()
	beta, err := pg.Statements(context.Background(), "beta", 10)
	if err != nil || len(beta) != 2 {
		t.Fatalf("beta's statements after reconnect: %d (%v), want 2", len(beta), err)
	}
	if un, err := pg.Unstated(context.Background(), 1<<40); err != nil || len(un) != 0 {
		t.Fatalf("unstated epochs after reconnect: %v %v", un, err)
	}
}

// TestAddAppliesABatchOnce: each store applies a writer's batch once: the
// same batch written again (after a commit whose outcome the meter could
// not learn) or an older one is skipped; a newer one, or another writer's,
// is added; writers silent for WriterKeep are forgotten.
func TestAddAppliesABatchOnce(t *testing.T) {
	stores := []struct {
		name string
		open func(t *testing.T) Store
	}{
		{"embedded", func(t *testing.T) Store {
			st, db := openEmbedded(t, filepath.Join(t.TempDir(), "gw.db"))
			t.Cleanup(func() { db.Close() })
			return st
		}},
		{"postgres", func(t *testing.T) Store {
			pg := openPostgres(t, postgresDSN(t))
			t.Cleanup(pg.Close)
			return pg
		}},
	}
	rec := func(n uint64) []Record {
		return []Record{{Chain: "eth", Provider: "a1", Operator: "alpha", EpochStart: 3600, EpochSeconds: 60, Requests: n, ComputeUnits: 20 * n}}
	}
	const t0 = 1_800_000_000
	later := t0 + int64(WriterKeep/time.Second) + 1
	steps := []struct {
		b    Batch
		want uint64 // the stored requests after it
	}{
		{Batch{Writer: "w1", Seq: 1, At: t0, Counts: rec(5)}, 5},
		{Batch{Writer: "w1", Seq: 1, At: t0, Counts: rec(5)}, 5}, // written again
		{Batch{Writer: "w1", Seq: 2, At: t0, Counts: rec(3)}, 8},
		{Batch{Writer: "w1", Seq: 1, At: t0, Counts: rec(5)}, 8}, // older
		{Batch{Writer: "w2", Seq: 1, At: t0, Counts: rec(4)}, 12},
		{Batch{Writer: "w2", Seq: 2, At: t0, Counts: nil}, 12},
		{Batch{Writer: "w1", Seq: 3, At: t0, Counts: rec(1)}, 13},
		// A writer starting more than WriterKeep later forgets w1 and w2:
		// w1's last batch would now be counted again.
		{Batch{Writer: "w3", Seq: 1, At: later, Counts: rec(2)}, 15},
		{Batch{Writer: "w3", Seq: 1, At: later, Counts: rec(2)}, 15},
		{Batch{Writer: "w1", Seq: 3, At: t0, Counts: rec(1)}, 16},
	}
	for _, s := range stores {
		t.Run(s.name, func(t *testing.T) {
			st := s.open(t)
			ctx := context.Background()
			for i, step := range steps {
				if err := st.Add(ctx, step.b); err != nil {
					t.Fatalf("step %d: %v", i, err)
				}
				rs, err := st.Records(ctx, 3600)
				if err != nil {
					t.Fatal(err)
				}
				if len(rs) != 1 || rs[0].Requests != step.want || rs[0].ComputeUnits != 20*step.want {
					t.Fatalf("step %d (%s #%d): records %+v, want %d requests", i, step.b.Writer, step.b.Seq, rs, step.want)
				}
			}
		})
	}
}
