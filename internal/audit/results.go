package audit

import (
	"sort"
	"sync"
	"time"
)

// Outcome is what one audit check found.
type Outcome int

// The outcomes of a check. Only Failed penalises: a provider that did not
// answer (Unavailable) or does not have the block (Absent) has not lied.
const (
	Passed      Outcome = iota // the answer was proven correct
	Failed                     // the answer was proven wrong: a lie (evidence kept)
	Unavailable                // timeout, 5xx, 429, breaker open: availability, not a lie
	Absent                     // null or a node error: the provider lacks the block or state
	outcomes
)

// Windows are the spans over which audit results are counted, shortest
// first, as the open scores publish them.
var Windows = []struct {
	Name string
	Span time.Duration
}{{"5m", 5 * time.Minute}, {"1h", time.Hour}, {"24h", 24 * time.Hour}}

// minutes is how many one-minute buckets a provider keeps: the longest window.
const minutes = 24 * 60

// Counts are a provider's audit outcomes over one window.
type Counts struct {
	Passed      uint64 `json:"passed"`
	Failed      uint64 `json:"failed"`
	Unavailable uint64 `json:"unavailable"`
	Absent      uint64 `json:"absent"`
}

// bucket is one minute of one provider's outcomes.
type bucket struct {
	Minute int64            `json:"m"` // Unix minute
	N      [outcomes]uint32 `json:"n"`
}

// tally is one provider's buckets, a ring indexed by minute.
type tally struct {
	ring     [minutes]bucket
	lastFail uint64    // ID of the newest evidence of a failed check
	lastAt   time.Time // when the last check finished
}

// Results counts every provider's audit outcomes per minute over the last
// day. Safe for concurrent use; the zero value is not: use NewResults.
type Results struct {
	mu sync.Mutex
	by map[string]*tally // by provider name
}

// NewResults returns empty results.
func NewResults() *Results { return &Results{by: map[string]*tally{}} }

func (r *Results) tallyLocked(provider string) *tally {
	t := r.by[provider]
	if t == nil {
		t = &tally{}
		r.by[provider] = t
	}
	return t
}

// Add counts one outcome of provider at time at; evidence is the ID of
// the evidence of a failed check (0: none).
func (r *Results) Add(provider string, o Outcome, at time.Time, evidence uint64) {
	if o < 0 || o >= outcomes {
		return
	}
	m := at.Unix() / 60
	r.mu.Lock()
	defer r.mu.Unlock()
	t := r.tallyLocked(provider)
	b := &t.ring[m%minutes]
	if b.Minute != m {
		*b = bucket{Minute: m}
	}
	b.N[o]++
	t.lastAt = at
	if evidence != 0 {
		t.lastFail = evidence
	}
}

// Summary is a provider's audit results for the open scores.
type Summary struct {
	Windows map[string]Counts `json:"windows"`
	// LastCheck is when the last check finished (zero: none yet).
	LastCheck time.Time `json:"lastCheck"`
	// LastFailure is the ID of the evidence of the newest failed check
	// (0: none) in the verification evidence log.
	LastFailure uint64 `json:"lastFailureEvidence,omitempty"`
}

// Summary counts provider's outcomes over each of Windows as of now.
func (r *Results) Summary(provider string, now time.Time) Summary {
	s := Summary{Windows: map[string]Counts{}}
	nowMin := now.Unix() / 60
	r.mu.Lock()
	defer r.mu.Unlock()
	t := r.by[provider]
	for _, w := range Windows {
		var c Counts
		if t != nil {
			span := int64(w.Span / time.Minute)
			for i := range t.ring {
				b := &t.ring[i]
				if age := nowMin - b.Minute; b.Minute == 0 || age < 0 || age >= span {
					continue
				}
				c.Passed += uint64(b.N[Passed])
				c.Failed += uint64(b.N[Failed])
				c.Unavailable += uint64(b.N[Unavailable])
				c.Absent += uint64(b.N[Absent])
			}
		}
		s.Windows[w.Name] = c
	}
	if t != nil {
		s.LastCheck, s.LastFailure = t.lastAt, t.lastFail
	}
	return s
}

// savedTally is one provider's results as the store keeps them: the
// buckets of the last day that hold anything.
type savedTally struct {
	Buckets  []bucket  `json:"buckets"`
	LastFail uint64    `json:"lastFail,omitempty"`
	LastAt   time.Time `json:"lastAt"`
}

// save returns every provider's non-empty buckets of the last day.
func (r *Results) save(now time.Time) map[string]savedTally {
	nowMin := now.Unix() / 60
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]savedTally, len(r.by))
	for name, t := range r.by {
		st := savedTally{LastFail: t.lastFail, LastAt: t.lastAt}
		for _, b := range t.ring {
			if b.Minute != 0 && nowMin-b.Minute < minutes {
				st.Buckets = append(st.Buckets, b)
			}
		}
		sort.Slice(st.Buckets, func(i, j int) bool { return st.Buckets[i].Minute < st.Buckets[j].Minute })
		out[name] = st
	}
	return out
}

// restore puts back one provider's results read from the store.
func (r *Results) restore(provider string, st savedTally) {
	r.mu.Lock()
	defer r.mu.Unlock()
	t := r.tallyLocked(provider)
	for _, b := range st.Buckets {
		if b.Minute > 0 {
			t.ring[b.Minute%minutes] = b
		}
	}
	t.lastFail, t.lastAt = st.LastFail, st.LastAt
}
