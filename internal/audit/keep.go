package audit

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/rpcmesh/rpcmesh/internal/store"
	"github.com/rpcmesh/rpcmesh/internal/upstream"
	"github.com/rpcmesh/rpcmesh/internal/verify"
)

// Buckets of the embedded store the Keeper writes.
const (
	penaltyBucket  = "penalties"       // "<chain>/<provider>" → upstream.PenaltyRecord
	evidenceBucket = "verify_evidence" // big-endian ID → verify.Evidence
	metaBucket     = "verify_meta"     // "total" → the evidence log's total
	resultsBucket  = "audit_results"   // "<chain>/<provider>" → savedTally
)

// KeptChain is what the Keeper keeps of one chain: its providers'
// penalties and its audit results.
type KeptChain struct {
	Name string
	// Providers are the chain's providers now (they may change at run
	// time: a provider added then is restored with Join).
	Providers func() []*upstream.Provider
	Results   *Results
}

// Keeper keeps providers' integrity penalties, the verification evidence
// log and audit results in the embedded store, so that a restart does not
// launder a liar: Restore reads them back before the providers take
// traffic, and every penalty or evidence record is written within
// MinInterval of when it happened (Run), and at the end (Flush).
type Keeper struct {
	db       *store.DB
	evidence *verify.EvidenceLog
	chains   []KeptChain
	logger   *slog.Logger
	dirty    chan struct{} // a penalty or evidence record not yet written

	mu    sync.Mutex // serialises Flush
	saved uint64     // the newest evidence ID written
}

// MinInterval is the least time between two writes of the Keeper: a
// provider caught lying at every call costs one write a second, not one a call.
const MinInterval = time.Second

// resultsInterval is how often audit results are written when nothing
// else is.
const resultsInterval = time.Minute

// Restore reads what db keeps back into the evidence log and the chains'
// providers and results, and hooks them so that later changes are
// written. Call it before the providers run.
func Restore(db *store.DB, evidence *verify.EvidenceLog, chains []KeptChain, logger *slog.Logger) (*Keeper, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	k := &Keeper{db: db, evidence: evidence, chains: chains, logger: logger, dirty: make(chan struct{}, 1)}
	var records []verify.Evidence
	var total uint64
	err := db.View(func(tx *bolt.Tx) error {
		if b := tx.Bucket([]byte(evidenceBucket)); b != nil {
			// The newest first: only as many as the log keeps are read.
			c := b.Cursor()
			for key, v := c.Last(); key != nil && len(records) < evidence.Size(); key, v = c.Prev() {
				var e verify.Evidence
				if err := json.Unmarshal(v, &e); err != nil {
					return fmt.Errorf("evidence %x: %w", key, err)
				}
				records = append(records, e)
			}
		}
		if b := tx.Bucket([]byte(metaBucket)); b != nil {
			if v := b.Get([]byte("total")); len(v) == 8 {
				total = binary.BigEndian.Uint64(v)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("audit: restore evidence: %w", err)
	}
	evidence.Restore(records, total, k.touch)
	k.saved = evidence.Total()
	for _, ch := range chains {
		for _, p := range ch.Providers() {
			if err := k.restore(ch, p); err != nil {
				return nil, err
			}
		}
	}
	return k, nil
}

// restore reads p's penalty and audit results back and hooks p so that
// later changes are written.
func (k *Keeper) restore(ch KeptChain, p *upstream.Provider) error {
	var r upstream.PenaltyRecord
	if err := get(k.db, penaltyBucket, ch.Name+"/"+p.Name(), &r); err != nil {
		return err
	}
	p.RestorePenalty(r, func(*upstream.Provider) { k.touch() })
	if ch.Results != nil {
		var st savedTally
		if err := get(k.db, resultsBucket, ch.Name+"/"+p.Name(), &st); err != nil {
			return err
		}
		ch.Results.restore(p.Name(), st)
	}
	return nil
}

// Join restores what the store keeps of p, a provider of chain added at
// run time, before it takes traffic: a provider removed and added again
// (or added again after a restart) keeps its penalty.
func (k *Keeper) Join(chain string, p *upstream.Provider) error {
	for _, ch := range k.chains {
		if ch.Name == chain {
			return k.restore(ch, p)
		}
	}
	return fmt.Errorf("audit: no chain %q kept", chain)
}

// get reads the JSON record at bucket/key into v (left as is when absent).
func get(db *store.DB, bucket, key string, v any) error {
	return db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucket))
		if b == nil {
			return nil
		}
		raw := b.Get([]byte(key))
		if raw == nil {
			return nil
		}
		if err := json.Unmarshal(raw, v); err != nil {
			return fmt.Errorf("audit: restore %s/%s: %w", bucket, key, err)
		}
		return nil
	})
}

// touch marks a change to write.
func (k *Keeper) touch() {
	select {
	case k.dirty <- struct{}{}:
	default:
	}
}

// Run writes changes as they come, at most one write per MinInterval,
// and audit results every minute, until ctx ends; then writes everything
// once more.
func (k *Keeper) Run(ctx context.Context) {
	results := time.NewTicker(resultsInterval)
	defer results.Stop()
	for {
		withResults := false
		select {
		case <-ctx.Done():
			k.flushLogged(true)
			return
		case <-k.dirty:
		case <-results.C:
			withResults = true
		}
		k.flushLogged(withResults)
		select {
		case <-ctx.Done():
		case <-time.After(MinInterval):
		}
	}
}

func (k *Keeper) flushLogged(results bool) {
	if err := k.write(results); err != nil {
		k.logger.Error("audit: store write failed", "err", err)
	}
}

// Flush writes every provider's penalty, the evidence records not yet
// written (dropping from the store those the log no longer keeps) and the
// audit results, in one transaction.
func (k *Keeper) Flush() error { return k.write(true) }

// write writes penalties and new evidence, and audit results when asked
// (they change at every check, and are larger: once a minute is enough).
func (k *Keeper) write(results bool) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	fresh := k.evidence.Since(k.saved)
	total := k.evidence.Total()
	now := time.Now()
	err := k.db.Update(func(tx *bolt.Tx) error {
		pb, err := tx.CreateBucketIfNotExists([]byte(penaltyBucket))
		if err != nil {
			return err
		}
		rb, err := tx.CreateBucketIfNotExists([]byte(resultsBucket))
		if err != nil {
			return err
		}
		for _, ch := range k.chains {
			var saved map[string]savedTally
			if results && ch.Results != nil {
				saved = ch.Results.save(now)
			}
			for _, p := range ch.Providers() {
				key := []byte(ch.Name + "/" + p.Name())
				if err := putJSON(pb, key, p.PenaltyRecord()); err != nil {
					return err
				}
				if st, ok := saved[p.Name()]; ok {
					if err := putJSON(rb, key, st); err != nil {
						return err
					}
				}
			}
		}
		return k.writeEvidence(tx, fresh, total)
	})
	if err != nil {
		return err
	}
	if len(fresh) > 0 {
		k.saved = fresh[len(fresh)-1].ID
	}
	return nil
}

// writeEvidence writes fresh records and the total, and deletes records
// the log no longer keeps (the store holds as many as the log: bounded).
func (k *Keeper) writeEvidence(tx *bolt.Tx, fresh []verify.Evidence, total uint64) error {
	eb, err := tx.CreateBucketIfNotExists([]byte(evidenceBucket))
	if err != nil {
		return err
	}
	for _, e := range fresh {
		if err := putJSON(eb, idKey(e.ID), e); err != nil {
			return err
		}
	}
	if keep := uint64(k.evidence.Size()); total > keep {
		c := eb.Cursor()
		for key, _ := c.First(); key != nil && binary.BigEndian.Uint64(key) <= total-keep; key, _ = c.First() {
			if err := eb.Delete(key); err != nil {
				return err
			}
		}
	}
	mb, err := tx.CreateBucketIfNotExists([]byte(metaBucket))
	if err != nil {
		return err
	}
	return mb.Put([]byte("total"), binary.BigEndian.AppendUint64(nil, total))
}

// idKey is an evidence ID as a store key: big-endian, so keys sort by ID.
func idKey(id uint64) []byte { return binary.BigEndian.AppendUint64(nil, id) }

func putJSON(b *bolt.Bucket, key []byte, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.Put(key, raw)
}
