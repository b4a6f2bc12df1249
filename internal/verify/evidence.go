package verify

import (
	"cmp"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"
)

// Bounds on what one evidence record keeps of the request and answer.
const (
	maxEvidenceParams = 1024
	maxEvidenceAnswer = 2048
)

// Evidence records one answer that failed verification: who gave it, to
// what, what it said, and what failed. It is what the admin endpoint shows.
type Evidence struct {
	// ID numbers the record: 1 for the first the gateway ever recorded,
	// counting on across restarts when the log is kept in the store. The
	// open scores link each penalty to its records by ID.
	ID       uint64          `json:"id"`
	Time     time.Time       `json:"time"`
	Chain    string          `json:"chain,omitempty"`
	Provider string          `json:"provider"`
	Operator string          `json:"operator,omitempty"`
	Method   string          `json:"method"`
	Params   json.RawMessage `json:"params,omitempty"`
	Answer   string          `json:"answer"`  // excerpt of the provider's answer
	Kind     string          `json:"kind"`    // what failed, as Kind names it: "bad_proof", "value_mismatch", ...
	Failure  string          `json:"failure"` // the full error
	// Reason is the penalty reason the record stands behind when it is
	// not Kind (a head that failed its hash: "head_hash").
	Reason string `json:"reason,omitempty"`
}

// PenaltyReason is the penalty reason the record stands behind: Reason,
// else Kind.
func (e *Evidence) PenaltyReason() string {
	if e.Reason != "" {
		return e.Reason
	}
	return e.Kind
}

// NewEvidence builds a record for an answer that failed with err, keeping
// bounded excerpts of params and answer.
func NewEvidence(provider, method string, params, answer json.RawMessage, err error) Evidence {
	e := Evidence{Time: time.Now().UTC(), Provider: provider, Method: method, Answer: cut(answer, maxEvidenceAnswer), Kind: Kind(err)}
	if err != nil {
		e.Failure = err.Error()
	}
	if len(params) <= maxEvidenceParams && json.Valid(params) {
		e.Params = params
	} else if len(params) > 0 {
		e.Params, _ = json.Marshal(cut(params, maxEvidenceParams))
	}
	return e
}

// kinds names the sentinels for evidence and metric labels.
var kinds = []struct {
	err  error
	name string
}{
	{ErrMalformed, "malformed"}, {ErrHashMismatch, "hash_mismatch"}, {ErrBrokenChain, "broken_chain"},
	{ErrBadProof, "bad_proof"}, {ErrValueMismatch, "value_mismatch"}, {ErrRootMismatch, "root_mismatch"},
	{ErrNotIncluded, "not_included"}, {ErrNoTrust, "no_trust"}, {ErrUnverifiable, "unverifiable"},
	{ErrAboveHead, "above_head"}, {ErrNotFound, "not_found"},
}

// Kind names the sentinel err wraps ("bad_proof", "value_mismatch", ...),
// a bounded label for metrics; "" when none.
func Kind(err error) string {
	for _, k := range kinds {
		if errors.Is(err, k.err) {
			return k.name
		}
	}
	return ""
}

func cut(b []byte, n int) string {
	if len(b) <= n {
		return string(b)
	}
	return string(b[:n]) + "…"
}

// EvidenceLog keeps the most recent evidence records in a fixed-size ring.
// Safe for concurrent use; use NewEvidenceLog.
type EvidenceLog struct {
	mu    sync.Mutex
	ring  []Evidence
	next  int
	total uint64 // also the ID of the newest record
	// onRecord, when set, is told after every Record (outside mu): the
	// embedded store keeps the log (see Restore).
	onRecord func()
}

// NewEvidenceLog returns a log that keeps the last size records (at least 1).
func NewEvidenceLog(size int) *EvidenceLog {
	return &EvidenceLog{ring: make([]Evidence, 0, max(size, 1))}
}

// Size is how many records the log keeps.
func (l *EvidenceLog) Size() int { return cap(l.ring) }

// Record adds e, numbered next (its ID), dropping the oldest record when
// the ring is full, and returns the ID.
func (l *EvidenceLog) Record(e Evidence) uint64 {
	l.mu.Lock()
	l.total++
	e.ID = l.total
	l.addLocked(e)
	onRecord := l.onRecord
	l.mu.Unlock()
	if onRecord != nil {
		onRecord()
	}
	return e.ID
}

func (l *EvidenceLog) addLocked(e Evidence) {
	if len(l.ring) < cap(l.ring) {
		l.ring = append(l.ring, e)
		return
	}
	l.ring[l.next] = e
	l.next = (l.next + 1) % len(l.ring)
}

// Restore refills an empty log with records read back from the store
// (any order; the newest it keeps), counts on from total, and calls
// onRecord after every later Record (nil: nobody). Call it before use.
func (l *EvidenceLog) Restore(records []Evidence, total uint64, onRecord func()) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.onRecord = onRecord
	sorted := slices.Clone(records)
	slices.SortFunc(sorted, func(a, b Evidence) int { return cmp.Compare(a.ID, b.ID) })
	if n := len(sorted) - cap(l.ring); n > 0 {
		sorted = sorted[n:]
	}
	l.ring, l.next = l.ring[:0], 0
	for _, e := range sorted {
		l.addLocked(e)
		total = max(total, e.ID)
	}
	l.total = max(l.total, total)
}

// Since returns the records kept whose ID is above id, oldest first: what
// the store has not seen yet.
func (l *EvidenceLog) Since(id uint64) []Evidence {
	recent := l.Recent(0)
	var out []Evidence
	for i := len(recent) - 1; i >= 0; i-- {
		if recent[i].ID > id {
			out = append(out, recent[i])
		}
	}
	return out
}

// Get returns the record with id, if the log still keeps it.
func (l *EvidenceLog) Get(id uint64) (Evidence, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, e := range l.ring {
		if e.ID == id {
			return e, true
		}
	}
	return Evidence{}, false
}

// Recent returns up to n records, newest first (all kept when n <= 0).
func (l *EvidenceLog) Recent(n int) []Evidence {
	l.mu.Lock()
	defer l.mu.Unlock()
	k := len(l.ring)
	if n <= 0 || n > k {
		n = k
	}
	out := make([]Evidence, 0, n)
	for i := 0; i < n; i++ {
		// The newest is just before next (or the last appended).
		idx := (l.next - 1 - i + 2*k) % k
		if len(l.ring) < cap(l.ring) {
			idx = k - 1 - i
		}
		out = append(out, l.ring[idx])
	}
	return out
}

// Total is how many records were ever added, including dropped ones.
func (l *EvidenceLog) Total() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.total
}

// evidenceExport is the JSON document WriteJSON writes.
type evidenceExport struct {
	Total    uint64     `json:"total"`
	Kept     int        `json:"kept"`
	Evidence []Evidence `json:"evidence"`
}

// WriteJSON writes up to n records (newest first) and the totals as one JSON document.
func (l *EvidenceLog) WriteJSON(w io.Writer, n int) error {
	recent := l.Recent(n)
	doc := evidenceExport{Total: l.Total(), Kept: len(recent), Evidence: recent}
	return json.NewEncoder(w).Encode(doc)
}

// ServeHTTP serves the log as JSON, newest first; ?limit=N keeps N records
// (default 100); ?id=N serves that one record (404 when no longer kept).
// Mount it on the admin listener only.
func (l *EvidenceLog) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if v := r.URL.Query().Get("id"); v != "" {
		id, err := strconv.ParseUint(v, 10, 64)
		e, ok := l.Get(id)
		if err != nil || !ok {
			http.Error(w, "no evidence record "+strconv.Quote(v)+" is kept", http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(e)
		return
	}
	n := 100
	if v, err := strconv.Atoi(r.URL.Query().Get("limit")); err == nil && v > 0 {
		n = v
	}
	w.Header().Set("Content-Type", "application/json")
	_ = l.WriteJSON(w, n)
}
