package usage

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/store"
	bolt "go.etcd.io/bbolt"
)

// Store keeps usage records and statements durably. The Meter writes to
// it from one goroutine, in batches; readers (the admin listener) may call
// it concurrently.
type Store interface {
	// Add adds the counts of each of b's records to the stored record of
	// the same epoch, chain and provider (created at zero), all or none;
	// once: a batch of b.Writer whose Seq is not above the last applied
	// one's is already in and is skipped without error. A writer's first
	// batch (Seq 1) forgets the writers silent for WriterKeep before its At.
	Add(ctx context.Context, b Batch) error
	// Records are the stored records of the epoch starting at epochStart,
	// in statement order.
	Records(ctx context.Context, epochStart int64) ([]Record, error)
	// Unstated are the starts of the epochs before before that have
	// records but no statements yet, oldest first.
	Unstated(ctx context.Context, before int64) ([]int64, error)
	// PutStatements stores an epoch's statements and marks it stated, at once.
	PutStatements(ctx context.Context, epochStart int64, sts []*Statement) error
	// Statements are stored statements (their JSON as Statement.Encode
	// made it), newest epoch first, then by operator; operator "" for
	// every operator; at most limit.
	Statements(ctx context.Context, operator string, limit int) ([]json.RawMessage, error)
}

// Batch is one flush of a Meter. Writer and Seq name it so that a store
// applies it once: a write whose outcome the meter could not learn (a
// commit cut off by a timeout or a dropped connection) is sent again as it
// was, and the store recognises it instead of counting it twice.
type Batch struct {
	Writer string // the meter's own random id, new at each start
	Seq    uint64 // 1, 2, … in the writer's order
	At     int64  // when the meter made it (Unix seconds)
	Counts []Record
}

// WriterKeep is how long a store remembers a writer's last batch after it
// last wrote: one row per gateway start, forgotten a week after that
// gateway stopped. A meter writes a failed batch again within seconds of
// the store answering again, so only a batch left waiting for a week is
// ever counted twice.
const WriterKeep = 7 * 24 * time.Hour

// The embedded store's buckets.
const (
	bucketRecords    = "usage_records"    // epoch ‖ chain 0 provider → Record JSON
	bucketStatements = "usage_statements" // epoch ‖ operator → Statement JSON
	bucketStated     = "usage_stated"     // epoch → "" once its statements exist
	bucketWriters    = "usage_writers"    // writer → last applied Seq ‖ its At (8+8 bytes)
)

// Embedded is the Store in the gateway's bbolt file (internal/store).
type Embedded struct {
	db *store.DB
}

// NewEmbedded keeps usage in db; the caller owns db and closes it.
func NewEmbedded(db *store.DB) *Embedded { return &Embedded{db: db} }

// epochKey is epochStart as 8 big-endian bytes, so keys sort by epoch.
func epochKey(epochStart int64) []byte {
	return binary.BigEndian.AppendUint64(nil, uint64(epochStart))
}

func recordKey(r *Record) []byte {
	k := epochKey(r.EpochStart)
	k = append(k, r.Chain...)
	k = append(k, 0)
	return append(k, r.Provider...)
}

// Add adds b's counts in one transaction, unless b was applied before.
func (e *Embedded) Add(_ context.Context, b Batch) error {
	return e.db.Update(func(tx *bolt.Tx) error {
		wb, err := tx.CreateBucketIfNotExists([]byte(bucketWriters))
		if err != nil {
			return err
		}
		if last := wb.Get([]byte(b.Writer)); len(last) == 16 && binary.BigEndian.Uint64(last) >= b.Seq {
			return nil // applied before
		}
		if b.Seq == 1 {
			if err := forgetWriters(wb, b.At-int64(WriterKeep/time.Second)); err != nil {
				return err
			}
		}
		row := binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(nil, b.Seq), uint64(b.At))
		if err := wb.Put([]byte(b.Writer), row); err != nil {
			return err
		}
		bk, err := tx.CreateBucketIfNotExists([]byte(bucketRecords))
		if err != nil {
			return err
		}
		for i := range b.Counts {
			c := &b.Counts[i]
			k := recordKey(c)
			r := *c
			if old := bk.Get(k); old != nil {
				if err := json.Unmarshal(old, &r); err != nil {
					return fmt.Errorf("usage record %s/%s: %w", c.Chain, c.Provider, err)
				}
				r.add(c)
			}
			b, err := json.Marshal(r)
			if err != nil {
				return err
			}
			if err := bk.Put(k, b); err != nil {
				return err
			}
		}
		return nil
	})
}

// forgetWriters deletes the writers whose last batch was made before
// before (Unix seconds).
func forgetWriters(wb *bolt.Bucket, before int64) error {
	var old [][]byte
	err := wb.ForEach(func(k, v []byte) error {
		if len(v) != 16 || int64(binary.BigEndian.Uint64(v[8:])) < before {
			old = append(old, append([]byte(nil), k...))
		}
		return nil
	})
	for _, k := range old {
		if err == nil {
			err = wb.Delete(k)
		}
	}
	return err
}

// Records reads one epoch's records; keys sort by chain, then provider.
func (e *Embedded) Records(_ context.Context, epochStart int64) ([]Record, error) {
	var out []Record
	prefix := epochKey(epochStart)
	err := e.db.View(func(tx *bolt.Tx) error {
		bk := tx.Bucket([]byte(bucketRecords))
		if bk == nil {
			return nil
		}
		c := bk.Cursor()
		for k, v := c.Seek(prefix); k != nil && strings.HasPrefix(string(k), string(prefix)); k, v = c.Next() {
			var r Record
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("usage record %q: %w", k, err)
			}
			out = append(out, r)
		}
		return nil
	})
	sortRecords(out) // "a\x00z" before "a-b\x00..." by key, but statement order compares chain first
	return out, err
}

// Unstated walks the records' epochs below before.
func (e *Embedded) Unstated(_ context.Context, before int64) ([]int64, error) {
	var out []int64
	err := e.db.View(func(tx *bolt.Tx) error {
		bk := tx.Bucket([]byte(bucketRecords))
		if bk == nil {
			return nil
		}
		stated := tx.Bucket([]byte(bucketStated))
		c := bk.Cursor()
		for k, _ := c.First(); k != nil; {
			ep := int64(binary.BigEndian.Uint64(k[:8]))
			if ep >= before {
				break
			}
			if stated == nil || stated.Get(k[:8]) == nil {
				out = append(out, ep)
			}
			k, _ = c.Seek(epochKey(ep + 1)) // the next epoch
		}
		return nil
	})
	return out, err
}

// PutStatements writes an epoch's statements and its stated mark in one
// transaction.
func (e *Embedded) PutStatements(_ context.Context, epochStart int64, sts []*Statement) error {
	return e.db.Update(func(tx *bolt.Tx) error {
		bs, err := tx.CreateBucketIfNotExists([]byte(bucketStatements))
		if err != nil {
			return err
		}
		for _, st := range sts {
			if err := bs.Put(append(epochKey(epochStart), st.Operator...), st.Encode()); err != nil {
				return err
			}
		}
		done, err := tx.CreateBucketIfNotExists([]byte(bucketStated))
		if err != nil {
			return err
		}
		return done.Put(epochKey(epochStart), []byte{})
	})
}

// Statements walks the statements from the newest epoch back.
func (e *Embedded) Statements(_ context.Context, operator string, limit int) ([]json.RawMessage, error) {
	var out []json.RawMessage
	err := e.db.View(func(tx *bolt.Tx) error {
		bk := tx.Bucket([]byte(bucketStatements))
		if bk == nil {
			return nil
		}
		c := bk.Cursor()
		// Within one epoch keys run by operator; collect an epoch, then
		// append it in operator order, newest epoch first.
		var epoch []json.RawMessage
		var cur []byte
		flush := func() {
			out = append(out, epoch...)
			epoch = epoch[:0]
		}
		for k, v := c.Last(); k != nil && len(out) < limit; k, v = c.Prev() {
			if cur != nil && string(k[:8]) != string(cur) {
				flush()
			}
			cur = append(cur[:0], k[:8]...)
			if operator != "" && string(k[8:]) != operator {
				continue
			}
			epoch = append([]json.RawMessage{append(json.RawMessage(nil), v...)}, epoch...)
		}
		flush()
		return nil
	})
	if len(out) > limit {
		out = out[:limit]
	}
	return out, err
}
