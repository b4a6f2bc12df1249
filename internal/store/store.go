// Package store is the gateway's embedded store: one bbolt file (pure Go,
// ACID transactions with fsync on commit, no server) that every part
// keeping state across restarts shares, a bucket or more each. bbolt locks
// its file for one opener, so the gateway opens it once and hands the DB
// to whoever keeps records in it.
package store

import (
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// DB is an open store.
type DB struct {
	db *bolt.DB
}

// Open opens (or creates) the store at path.
func Open(path string) (*DB, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	return &DB{db: db}, nil
}

// Close closes the store's file.
func (d *DB) Close() error { return d.db.Close() }

// Put writes v as JSON under key in bucket.
func (d *DB) Put(bucket, key string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("store %s/%s: %w", bucket, key, err)
	}
	return d.Update(func(tx *bolt.Tx) error {
		bk, err := tx.CreateBucketIfNotExists([]byte(bucket))
		if err != nil {
			return err
		}
		return bk.Put([]byte(key), b)
	})
}

// Delete removes key from bucket.
func (d *DB) Delete(bucket, key string) error {
	return d.Update(func(tx *bolt.Tx) error {
		if bk := tx.Bucket([]byte(bucket)); bk != nil {
			return bk.Delete([]byte(key))
		}
		return nil
	})
}

// Each calls fn with every record of bucket, in key order (bytewise); fn
// must not keep v past its return.
func (d *DB) Each(bucket string, fn func(key string, v []byte) error) error {
	return d.db.View(func(tx *bolt.Tx) error {
		bk := tx.Bucket([]byte(bucket))
		if bk == nil {
			return nil
		}
		return bk.ForEach(func(k, v []byte) error { return fn(string(k), v) })
	})
}

// Update runs fn in one read-write transaction, for records that must
// change together.
func (d *DB) Update(fn func(tx *bolt.Tx) error) error {
	if err := d.db.Update(fn); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	return nil
}

// View runs fn in one read-only transaction.
func (d *DB) View(fn func(tx *bolt.Tx) error) error { return d.db.View(fn) }
