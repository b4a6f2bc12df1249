package admission

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/rpcmesh/rpcmesh/internal/store"
	"github.com/rpcmesh/rpcmesh/internal/verify"
)

// Transition is one change of a provider's stage, with why.
type Transition struct {
	Seq      uint64    `json:"seq"` // per chain, from 1
	Time     time.Time `json:"time"`
	Chain    string    `json:"chain"`
	Provider string    `json:"provider"`
	From     Stage     `json:"from,omitempty"` // "" when it joined
	To       Stage     `json:"to"`
	Reason   string    `json:"reason"`
	// Evidence are the records of the verification evidence log that
	// proved a lie (/verify/evidence and /scores.json name them by ID).
	Evidence []verify.Evidence `json:"evidence,omitempty"`
}

// bucket is the Log's bucket in the embedded store.
const bucket = "admission"

// Log keeps the transitions of every chain: the newest max per chain in
// memory and, when opened on the embedded store, there too (keys
// chain/seq), so stages and their history survive a restart. Safe for
// concurrent use; a nil *Log keeps nothing.
type Log struct {
	max int
	db  *store.DB // nil: memory only

	mu     sync.Mutex
	chains map[string][]Transition // oldest first
	seq    map[string]uint64
	err    error // the last store write's failure, until Err reads it
}

// NewLog returns a log keeping max transitions per chain (at least 1).
func NewLog(max int) *Log {
	if max < 1 {
		max = 1
	}
	return &Log{max: max, chains: map[string][]Transition{}, seq: map[string]uint64{}}
}

// Open loads the transitions kept in db and writes new ones there.
func (l *Log) Open(db *store.DB) error {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	err := db.Each(bucket, func(_ string, v []byte) error {
		var tr Transition
		if err := json.Unmarshal(v, &tr); err != nil {
			return fmt.Errorf("admission: a stored transition: %w", err)
		}
		l.keep(tr)
		return nil
	})
	if err != nil {
		return err
	}
	l.db = db
	return nil
}

// key is a transition's key in the store: in order per chain.
func key(chain string, seq uint64) string { return fmt.Sprintf("%s/%020d", chain, seq) }

// keep adds tr to memory, dropping the chain's oldest beyond max; it
// returns the dropped one's key when one was dropped. Called with mu held.
func (l *Log) keep(tr Transition) (dropped string, ok bool) {
	l.seq[tr.Chain] = max(l.seq[tr.Chain], tr.Seq)
	trs := append(l.chains[tr.Chain], tr)
	if len(trs) > l.max {
		dropped, ok = key(tr.Chain, trs[0].Seq), true
		trs = trs[1:]
	}
	l.chains[tr.Chain] = trs
	return dropped, ok
}

// Add numbers tr, keeps it and returns it. The transition is kept in
// memory even when the store fails to write it; Err reports that.
func (l *Log) Add(tr Transition) Transition {
	if l == nil {
		return tr
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	tr.Seq = l.seq[tr.Chain] + 1
	dropped, ok := l.keep(tr)
	if l.db != nil {
		b, err := json.Marshal(tr)
		if err == nil {
			err = l.db.Update(func(tx *bolt.Tx) error {
				bk, err := tx.CreateBucketIfNotExists([]byte(bucket))
				if err != nil {
					return err
				}
				if ok {
					if err := bk.Delete([]byte(dropped)); err != nil {
						return err
					}
				}
				return bk.Put([]byte(key(tr.Chain, tr.Seq)), b)
			})
		}
		if err != nil {
			l.err = fmt.Errorf("admission: store transition %s: %w", key(tr.Chain, tr.Seq), err)
		}
	}
	return tr
}

// Err returns the last failure to write a transition to the store, once.
func (l *Log) Err() error {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	err := l.err
	l.err = nil
	return err
}

// List returns chain's transitions, newest first, at most n (all when n <= 0).
func (l *Log) List(chain string, n int) []Transition {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	trs := l.chains[chain]
	if n <= 0 || n > len(trs) {
		n = len(trs)
	}
	out := make([]Transition, 0, n)
	for i := len(trs) - 1; i >= len(trs)-n; i-- {
		out = append(out, trs[i])
	}
	return out
}

// Last returns the provider's newest transition on chain.
func (l *Log) Last(chain, provider string) (Transition, bool) {
	if l == nil {
		return Transition{}, false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	trs := l.chains[chain]
	for i := len(trs) - 1; i >= 0; i-- {
		if trs[i].Provider == provider {
			return trs[i], true
		}
	}
	return Transition{}, false
}

// entryBucket keeps the entries of providers added at run time (keys
// chain/name), so that a restart adds them again.
const entryBucket = "admission_providers"

// entryKey is a provider entry's key in the store.
func entryKey(chain, provider string) string { return chain + "/" + provider }

// storedEntry is a provider entry as kept: the bytes its caller gave.
type storedEntry struct {
	Entry []byte `json:"entry"`
}

// KeepEntry keeps the entry of a provider added at run time, for
// Entries after a restart. Without a store it keeps nothing.
func (l *Log) KeepEntry(chain, provider string, entry []byte) error {
	if db := l.store(); db != nil {
		if err := db.Put(entryBucket, entryKey(chain, provider), storedEntry{Entry: entry}); err != nil {
			return fmt.Errorf("admission: keep the entry of %s: %w", provider, err)
		}
	}
	return nil
}

// DropEntry forgets the entry of a provider removed.
func (l *Log) DropEntry(chain, provider string) error {
	if db := l.store(); db != nil {
		if err := db.Delete(entryBucket, entryKey(chain, provider)); err != nil {
			return fmt.Errorf("admission: drop the entry of %s: %w", provider, err)
		}
	}
	return nil
}

// Entries returns the kept entries of chain's providers added at run time,
// by provider name.
func (l *Log) Entries(chain string) (map[string][]byte, error) {
	out := map[string][]byte{}
	db := l.store()
	if db == nil {
		return out, nil
	}
	prefix := chain + "/"
	err := db.Each(entryBucket, func(k string, v []byte) error {
		name, ok := strings.CutPrefix(k, prefix)
		if !ok {
			return nil
		}
		var e storedEntry
		if err := json.Unmarshal(v, &e); err != nil {
			return fmt.Errorf("admission: the kept entry of %s: %w", name, err)
		}
		out[name] = e.Entry
		return nil
	})
	return out, err
}

// store is the log's store (nil: none, or no log).
func (l *Log) store() *store.DB {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.db
}
