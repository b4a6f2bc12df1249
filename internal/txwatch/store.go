package txwatch

import (
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Store keeps tracked transactions and censorship evidence across
// restarts. It is a bbolt file: pure Go, one file, ACID transactions with
// fsync on commit, no server and no background compaction. The watch
// writes a few small records per transaction keyed by hash, which is what
// a B+tree in one file does well; a crash mid-write leaves the last
// committed state. One Store serves every chain (a bucket pair each), since
// bbolt locks its file for one opener.
type Store struct {
	db *bolt.DB
}

// OpenStore opens (or creates) the store at path.
func OpenStore(path string) (*Store, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("txwatch: open store %s: %w", path, err)
	}
	return &Store{db: db}, nil
}

// Close closes the store's file.
func (s *Store) Close() error { return s.db.Close() }

func txBucket(chain string) []byte       { return []byte("tx/" + chain) }
func evidenceBucket(chain string) []byte { return []byte("censor/" + chain) }

// put writes v under key in bucket.
func (s *Store) put(bucket []byte, key string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		bk, err := tx.CreateBucketIfNotExists(bucket)
		if err != nil {
			return err
		}
		return bk.Put([]byte(key), b)
	})
}

// delete removes key from bucket.
func (s *Store) delete(bucket []byte, key string) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		if bk := tx.Bucket(bucket); bk != nil {
			return bk.Delete([]byte(key))
		}
		return nil
	})
}

// load reads every record of bucket into fn.
func (s *Store) load(bucket []byte, fn func(v []byte) error) error {
	return s.db.View(func(tx *bolt.Tx) error {
		bk := tx.Bucket(bucket)
		if bk == nil {
			return nil
		}
		return bk.ForEach(func(_, v []byte) error { return fn(v) })
	})
}
