package usage

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"
)

// Options configure a Meter.
type Options struct {
	Store  Store   // required
	Signer *Signer // required
	Costs  *Costs  // nil: the built-in table
	// Epoch is the epochs' length (whole seconds); epochs start at its
	// multiples since the Unix epoch. Default 1h.
	Epoch time.Duration
	// FlushInterval is how often counts are written to the store. Default 5s.
	FlushInterval time.Duration
	// MaxStatements bounds a statements listing. Default 100.
	MaxStatements int
	Now           func() time.Time // default time.Now; tests move time themselves
	Logger        *slog.Logger
}

// key names a record: an epoch's provider of a chain.
type key struct {
	epoch           int64
	chain, provider string
}

// Meter counts usage in memory and writes it to its Store in batches: a
// call being served costs a map update under a lock, never a write. Safe
// for concurrent use.
type Meter struct {
	o     Options
	epoch int64 // seconds

	mu      sync.Mutex
	pending map[key]*Record // counts not yet in the store
	// flushMu serialises flushes and epoch closing (Run's loop, Close,
	// tests), so that an epoch is stated only after its counts are stored.
	// It guards writer, seq and unsure too.
	flushMu sync.Mutex
	writer  string // this meter's name in Batch.Writer
	seq     uint64 // the last batch's Seq
	// unsure is the batch whose write failed: it may be in the store
	// already (a commit cut off), so it is written again exactly as it
	// was, before any newer counts.
	unsure *Batch
}

// New builds a Meter; Run writes its counts and states its epochs.
func New(o Options) (*Meter, error) {
	if o.Store == nil || o.Signer == nil {
		return nil, fmt.Errorf("usage meter: a store and a signer are required")
	}
	if o.Costs == nil {
		o.Costs = NewCosts(nil, 0)
	}
	if o.Epoch <= 0 {
		o.Epoch = time.Hour
	}
	if o.Epoch%time.Second != 0 {
		return nil, fmt.Errorf("usage meter: epoch %s is not whole seconds", o.Epoch)
	}
	if o.FlushInterval <= 0 {
		o.FlushInterval = 5 * time.Second
	}
	if o.MaxStatements <= 0 {
		o.MaxStatements = 100
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	var id [16]byte
	_, _ = rand.Read(id[:]) // never fails (crypto/rand)
	return &Meter{o: o, epoch: int64(o.Epoch / time.Second), pending: map[key]*Record{}, writer: hex.EncodeToString(id[:])}, nil
}

// Signer is the key that signs the meter's statements.
func (m *Meter) Signer() *Signer { return m.o.Signer }

// epochOf is the start of the epoch holding t.
func (m *Meter) epochOf(t time.Time) int64 {
	s := t.Unix()
	return s - s%m.epoch
}

// record returns the pending record of provider in the current epoch;
// the caller holds mu.
func (m *Meter) record(chain, provider, operator string) *Record {
	k := key{m.epochOf(m.o.Now()), chain, provider}
	r := m.pending[k]
	if r == nil {
		r = &Record{Chain: chain, Provider: provider, Operator: operator, EpochStart: k.epoch, EpochSeconds: m.epoch}
		m.pending[k] = r
	}
	return r
}

// Served counts one answer of provider (of operator) to method that
// routing handed back, with its compute units.
func (m *Meter) Served(chain, provider, operator, method string) {
	u := m.o.Costs.Units(method)
	m.mu.Lock()
	r := m.record(chain, provider, operator)
	r.Requests++
	r.ComputeUnits += u
	m.mu.Unlock()
}

// Verified counts one answer of provider that verification established
// (by proof or by quorum).
func (m *Meter) Verified(chain, provider, operator string) {
	m.mu.Lock()
	m.record(chain, provider, operator).Verified++
	m.mu.Unlock()
}

// Audit counts one audit of provider and whether its answer passed (the
// continuous audit feeds it).
func (m *Meter) Audit(chain, provider, operator string, passed bool) {
	m.mu.Lock()
	r := m.record(chain, provider, operator)
	if passed {
		r.AuditsPassed++
	} else {
		r.AuditsFailed++
	}
	m.mu.Unlock()
}

// Flush writes the pending counts to the store in one batch. On failure
// the batch is kept and written again, as it was, by the next flush, before
// the counts that came in between; the store applies it once.
func (m *Meter) Flush(ctx context.Context) error {
	m.flushMu.Lock()
	defer m.flushMu.Unlock()
	return m.flush(ctx)
}

func (m *Meter) flush(ctx context.Context) error {
	if m.unsure != nil {
		if err := m.o.Store.Add(ctx, *m.unsure); err != nil {
			return fmt.Errorf("usage flush: %w", err)
		}
		m.unsure = nil
	}
	m.mu.Lock()
	batch := m.pending
	m.pending = map[key]*Record{}
	m.mu.Unlock()
	counts := make([]Record, 0, len(batch))
	for _, k := range slices.SortedFunc(maps.Keys(batch), func(a, b key) int {
		return compareRecords(*batch[a], *batch[b])
	}) {
		if r := batch[k]; !r.zero() {
			counts = append(counts, *r)
		}
	}
	if len(counts) == 0 {
		return nil
	}
	m.seq++
	b := Batch{Writer: m.writer, Seq: m.seq, At: m.o.Now().Unix(), Counts: counts}
	if err := m.o.Store.Add(ctx, b); err != nil {
		m.unsure = &b // nothing counted is lost, nor counted twice
		return fmt.Errorf("usage flush: %w", err)
	}
	return nil
}

// CloseEpochs flushes, then writes the statements of every epoch that has
// ended and has records but no statements yet (an epoch that ended while
// the gateway was down included). It returns the statements written.
func (m *Meter) CloseEpochs(ctx context.Context) ([]*Statement, error) {
	m.flushMu.Lock()
	defer m.flushMu.Unlock()
	if err := m.flush(ctx); err != nil {
		return nil, err
	}
	epochs, err := m.o.Store.Unstated(ctx, m.epochOf(m.o.Now()))
	if err != nil {
		return nil, err
	}
	var all []*Statement
	var errs []error
	for _, ep := range epochs { // one epoch that cannot be stated does not hold up the others
		sts, err := m.state(ctx, ep)
		if err != nil {
			errs = append(errs, fmt.Errorf("usage epoch %s: %w", time.Unix(ep, 0).UTC().Format(time.RFC3339), err))
			continue
		}
		all = append(all, sts...)
	}
	return all, errors.Join(errs...)
}

// state builds, signs and stores the statements of epoch ep.
func (m *Meter) state(ctx context.Context, ep int64) ([]*Statement, error) {
	recs, err := m.o.Store.Records(ctx, ep)
	if err != nil {
		return nil, err
	}
	byOp := map[string][]Record{}
	for _, r := range recs {
		byOp[r.Operator] = append(byOp[r.Operator], r)
	}
	var sts []*Statement
	for _, op := range slices.Sorted(maps.Keys(byOp)) {
		rs := byOp[op]
		st, err := NewStatement(m.o.Signer, op, ep, rs[0].EpochSeconds, rs)
		if err != nil {
			return nil, err
		}
		sts = append(sts, st)
	}
	if err := m.o.Store.PutStatements(ctx, ep, sts); err != nil {
		return nil, err
	}
	m.o.Logger.Info("usage statements written", "epoch_start", time.Unix(ep, 0).UTC(), "operators", len(sts), "signer", m.o.Signer.Address().Hex())
	return sts, nil
}

// storeTimeout bounds one write to the store (a flush, an epoch's
// statements).
const storeTimeout = 10 * time.Second

// Run flushes every FlushInterval and states each epoch once it ended,
// until ctx ends; then it flushes what is left (bounded by storeTimeout) and
// returns. It states the epochs that ended while the gateway was down at
// once.
func (m *Meter) Run(ctx context.Context) {
	tick := time.NewTicker(m.o.FlushInterval)
	defer tick.Stop()
	// A store that hangs must not hold the loop: each write is bounded
	// (counts it could not write are kept for the next).
	bounded := func() (context.Context, context.CancelFunc) { return context.WithTimeout(ctx, storeTimeout) }
	closeEpochs := func() {
		cctx, cancel := bounded()
		defer cancel()
		if _, err := m.CloseEpochs(cctx); err != nil && ctx.Err() == nil {
			m.o.Logger.Warn("usage statements not written; retried at the next epoch's end", "err", err)
		}
	}
	closeEpochs()
	for {
		next := time.Unix(m.epochOf(m.o.Now())+m.epoch, 0)
		epochEnd := time.NewTimer(time.Until(next))
		select {
		case <-ctx.Done():
			epochEnd.Stop()
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), storeTimeout)
			if err := m.Flush(fctx); err != nil {
				m.o.Logger.Error("usage counts lost at shutdown", "err", err)
			}
			cancel()
			return
		case <-tick.C:
			epochEnd.Stop()
			fctx, cancel := bounded()
			if err := m.Flush(fctx); err != nil && ctx.Err() == nil {
				m.o.Logger.Warn("usage counts not written; kept for the next flush", "err", err)
			}
			cancel()
		case <-epochEnd.C:
			closeEpochs()
		}
	}
}
