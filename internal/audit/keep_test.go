package audit

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/rpcmesh/rpcmesh/internal/config"
	"github.com/rpcmesh/rpcmesh/internal/store"
	"github.com/rpcmesh/rpcmesh/internal/testwait"
	"github.com/rpcmesh/rpcmesh/internal/upstream"
	"github.com/rpcmesh/rpcmesh/internal/verify"
)

func providers(names ...string) []*upstream.Provider {
	var out []*upstream.Provider
	for _, n := range names {
		pc := config.DefaultProvider()
		pc.Name, pc.HTTP = n, "http://127.0.0.1:1"
		out = append(out, upstream.New(upstream.Options{Chain: "c", ChainID: 1, Provider: pc, Health: config.Default().Health}))
	}
	return out
}

// gateway is what one run of a gateway keeps: its providers, evidence
// log and audit results, restored from db.
type gateway struct {
	ps      []*upstream.Provider
	ev      *verify.EvidenceLog
	results *Results
	keeper  *Keeper
}

func start(t *testing.T, db *store.DB, size int) gateway {
	t.Helper()
	g := gateway{ps: providers("liar", "honest"), ev: verify.NewEvidenceLog(size), results: NewResults()}
	k, err := Restore(db, g.ev, []KeptChain{{Name: "c", Providers: func() []*upstream.Provider { return g.ps }, Results: g.results}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	g.keeper = k
	return g
}

// Penalties, evidence and audit results survive a restart on the same
// store: the same counts, the penalty decaying on from when it was
// stored, the evidence with its IDs (numbering goes on), bounded by the
// log's size in memory and in the store.
func TestKeeperRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.db")
	db, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	const size = 3
	g := start(t, db, size)
	for i := range 5 { // past the log's size
		e := verify.NewEvidence("liar", "eth_getProof", json.RawMessage(`[]`), json.RawMessage(`{}`), errors.New("bad"))
		e.Kind = Reason
		g.ev.Record(e)
		g.ps[0].Penalise(Reason)
		g.results.Add("liar", Failed, time.Now(), uint64(i+1))
	}
	g.ps[0].Penalise("censored")
	if err := g.keeper.Flush(); err != nil {
		t.Fatal(err)
	}
	wantPen, wantEv := g.ps[0].PenaltyRecord(), g.ev.Recent(0)
	wantRes := g.results.Summary("liar", time.Now())
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db, err = store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	g2 := start(t, db, size)
	if got := g2.ps[0].PenaltyRecord(); !got.At.Equal(wantPen.At) || got.Penalty != wantPen.Penalty || !reflect.DeepEqual(got.Counts, wantPen.Counts) {
		t.Fatalf("penalty %+v after the restart, %+v before", got, wantPen)
	}
	if got := g2.ps[1].PenaltyRecord(); got.Penalty != 0 || len(got.Counts) != 0 {
		t.Fatalf("honest provider's penalty %+v", got)
	}
	halfLife := config.Default().Health.PenaltyHalfLife.D()
	snap := g2.ps[0].Snapshot(time.Now())
	if max := wantPen.Penalty; snap.Penalty > max || snap.Penalty < max*math.Exp2(-float64(time.Since(wantPen.At))/float64(halfLife))-1e-9 {
		t.Fatalf("decayed penalty %v from %v stored at %v", snap.Penalty, wantPen.Penalty, wantPen.At)
	}
	gotEv := g2.ev.Recent(0)
	if !reflect.DeepEqual(ids(gotEv), []uint64{5, 4, 3}) || !reflect.DeepEqual(ids(gotEv), ids(wantEv)) {
		t.Fatalf("evidence %v after, %v before", ids(gotEv), ids(wantEv))
	}
	if got := g2.results.Summary("liar", time.Now()); got.Windows["24h"] != wantRes.Windows["24h"] || got.LastFailure != 5 {
		t.Fatalf("results %+v after, %+v before", got, wantRes)
	}
	if id := g2.ev.Record(verify.Evidence{Provider: "liar", Kind: Reason}); id != 6 {
		t.Fatalf("next evidence ID %d, want 6", id)
	}
	// The store holds no more records than the log keeps.
	if err := g2.keeper.Flush(); err != nil {
		t.Fatal(err)
	}
	var stored []uint64
	_ = db.View(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte(evidenceBucket)).ForEach(func(k, _ []byte) error {
			stored = append(stored, bytesID(k))
			return nil
		})
	})
	if !reflect.DeepEqual(stored, []uint64{4, 5, 6}) {
		t.Fatalf("store keeps evidence %v, want [4 5 6]", stored)
	}
}

// Run writes a penalty soon after it happens, without a Flush from the
// caller, and once more when it stops.
func TestKeeperRunWrites(t *testing.T) {
	db, err := store.Open(filepath.Join(t.TempDir(), "store.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	g := start(t, db, 8)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		g.keeper.Run(ctx)
	}()
	g.ps[0].Penalise(Reason)
	testwait.For(t, 5*time.Second, "the penalty in the store", func() bool { return stored(t, db) == 1 })
	g.ps[0].Penalise(Reason)
	cancel()
	<-done
	if n := stored(t, db); n != 2 {
		t.Fatalf("stored count %d after Run stopped, want 2", n)
	}
}

// stored is the liar's stored count of audit penalties.
func stored(t *testing.T, db *store.DB) uint64 {
	t.Helper()
	var r upstream.PenaltyRecord
	if err := get(db, penaltyBucket, "c/liar", &r); err != nil {
		t.Fatal(err)
	}
	return r.Counts[Reason]
}

func ids(es []verify.Evidence) []uint64 {
	out := []uint64{}
	for _, e := range es {
		out = append(out, e.ID)
	}
	return out
}

func bytesID(k []byte) uint64 { return binary.BigEndian.Uint64(k) }
