package txwatch

import (
	"fmt"

	"github.com/rpcmesh/rpcmesh/internal/store"
)

// Store keeps tracked transactions and censorship evidence across
// restarts, in the gateway's embedded store (internal/store): a bucket pair
// per chain, a few small records per transaction keyed by hash.
type Store struct {
	db *store.DB
}

// NewStore keeps the watch's records in db.
func NewStore(db *store.DB) *Store { return &Store{db: db} }

// OpenStore opens (or creates) a store of its own at path.
func OpenStore(path string) (*Store, error) {
	db, err := store.Open(path)
	if err != nil {
		return nil, fmt.Errorf("txwatch: %w", err)
	}
	return &Store{db: db}, nil
}

// Close closes the store's file.
func (s *Store) Close() error { return s.db.Close() }

func txBucket(chain string) []byte       { return []byte("tx/" + chain) }
func evidenceBucket(chain string) []byte { return []byte("censor/" + chain) }

// put writes v under key in bucket.
func (s *Store) put(bucket []byte, key string, v any) error {
	return s.db.Put(string(bucket), key, v)
}

// delete removes key from bucket.
func (s *Store) delete(bucket []byte, key string) error {
	return s.db.Delete(string(bucket), key)
}

// load reads every record of bucket into fn.
func (s *Store) load(bucket []byte, fn func(v []byte) error) error {
	return s.db.Each(string(bucket), func(_ string, v []byte) error { return fn(v) })
}
