package statuspage

import (
	"encoding/json"
	"slices"
	"sync"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/status"
)

// history keeps the last n samples of every chain, for the page's charts:
// a ring, so its memory is bounded by n and the chains' providers.
type history struct {
	interval time.Duration

	mu    sync.Mutex
	ring  []sample
	next  int  // where the next sample goes
	wraps bool // the ring is full: next is also the oldest
}

// sample is what the charts draw of one snapshot.
type sample struct {
	at     time.Time
	chains map[string]chainSample
}

// chainSample is one chain's values in a sample.
type chainSample struct {
	cloudShare    map[string]float64
	operatorShare map[string]float64
	p50Ms         map[string]float64 // by provider
	errorRate     map[string]float64 // by provider
	served        uint64             // answers served since start
	failed        uint64             // answers failed since start
}

func newHistory(n int, interval time.Duration) *history {
	return &history{interval: interval, ring: make([]sample, n)}
}

// add records snap as the newest sample, dropping the oldest when full.
func (h *history) add(snap status.Snapshot) {
	s := sample{at: snap.At, chains: make(map[string]chainSample, len(snap.Chains))}
	for _, c := range snap.Chains {
		cs := chainSample{
			cloudShare: copyMap(c.CloudShare), operatorShare: copyMap(c.OperatorShare),
			p50Ms:     make(map[string]float64, len(c.Providers)),
			errorRate: make(map[string]float64, len(c.Providers)),
			served:    c.Answers.Served, failed: c.Answers.Failed,
		}
		for _, p := range c.Providers {
			if p.P50Ms > 0 { // 0: nothing measured, not a fast provider
				cs.p50Ms[p.Name] = p.P50Ms
			}
			cs.errorRate[p.Name] = p.ErrorRate
		}
		s.chains[c.Name] = cs
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.ring[h.next] = s
	h.next++
	if h.next == len(h.ring) {
		h.next, h.wraps = 0, true
	}
}

func copyMap(m map[string]float64) map[string]float64 {
	out := make(map[string]float64, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// samples returns the kept samples, oldest first.
func (h *history) samples() []sample {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.wraps {
		return slices.Clone(h.ring[:h.next])
	}
	return append(slices.Clone(h.ring[h.next:]), h.ring[:h.next]...)
}

// History is what /status/history.json serves: per chain, columns the
// charts draw directly (uPlot's data layout), one value per sample; null
// where a sample has no value for a series.
type History struct {
	IntervalMs int64          `json:"intervalMs"`
	Samples    int            `json:"samples"` // how many the gateway keeps
	Chains     []ChainHistory `json:"chains"`
}

// ChainHistory is one chain's columns.
type ChainHistory struct {
	Name string `json:"name"`
	// T is each sample's time in Unix seconds.
	T             []int64               `json:"t"`
	CloudShare    map[string][]*float64 `json:"cloudShare"`
	OperatorShare map[string][]*float64 `json:"operatorShare"`
	P50Ms         map[string][]*float64 `json:"p50Ms"`
	ErrorRate     map[string][]*float64 `json:"errorRate"`
	// Failed is the answers that failed in the interval before each sample
	// (null for the first).
	Failed []*float64 `json:"failed"`
}

// json encodes the kept samples as a History.
func (h *history) json() []byte {
	ss := h.samples()
	out := History{IntervalMs: h.interval.Milliseconds(), Samples: len(h.ring), Chains: []ChainHistory{}}
	var names []string
	for _, s := range ss {
		for name := range s.chains {
			if !slices.Contains(names, name) {
				names = append(names, name)
			}
		}
	}
	slices.Sort(names)
	for _, name := range names {
		out.Chains = append(out.Chains, chainColumns(name, ss))
	}
	b, _ := json.Marshal(out) // plain data
	return b
}

// chainColumns turns the samples of chain name into columns.
func chainColumns(name string, ss []sample) ChainHistory {
	ch := ChainHistory{Name: name, T: make([]int64, len(ss)), Failed: make([]*float64, len(ss)),
		CloudShare:    column(name, ss, func(c chainSample) map[string]float64 { return c.cloudShare }),
		OperatorShare: column(name, ss, func(c chainSample) map[string]float64 { return c.operatorShare }),
		P50Ms:         column(name, ss, func(c chainSample) map[string]float64 { return c.p50Ms }),
		ErrorRate:     column(name, ss, func(c chainSample) map[string]float64 { return c.errorRate }),
	}
	var prev *chainSample
	for i, s := range ss {
		ch.T[i] = s.at.Unix()
		c, ok := s.chains[name]
		if !ok {
			prev = nil
			continue
		}
		if prev != nil && c.failed >= prev.failed {
			f := float64(c.failed - prev.failed)
			ch.Failed[i] = &f
		}
		prev = &c
	}
	return ch
}

// column builds one series per key of the maps pick returns, over ss.
func column(name string, ss []sample, pick func(chainSample) map[string]float64) map[string][]*float64 {
	out := map[string][]*float64{}
	for i, s := range ss {
		c, ok := s.chains[name]
		if !ok {
			continue
		}
		for k, v := range pick(c) {
			if out[k] == nil {
				out[k] = make([]*float64, len(ss))
			}
			out[k][i] = &v
		}
	}
	return out
}
