package upstream

import (
	"math"
	"sort"
	"time"
)

// integrity is a provider's record of misbehaviour that latency and error
// rates cannot show: answers that failed verification, transactions it
// accepted and then did not propagate. It is shared by every part of the
// gateway that catches a provider out, so routing sees one score.
type integrity struct {
	penalty float64   // decayed count, as of at
	at      time.Time // when penalty was last decayed
	total   map[string]uint64
	// onChange, when set, is told after every Penalise (outside mu): the
	// embedded store keeps the record, so a restart does not clear it.
	onChange func(*Provider)
}

// decayed returns the penalty as of now.
func (g *integrity) decayed(now time.Time, halfLife time.Duration) float64 {
	if g.penalty == 0 || halfLife <= 0 {
		return g.penalty
	}
	dt := now.Sub(g.at)
	if dt <= 0 {
		return g.penalty
	}
	v := g.penalty * math.Exp2(-float64(dt)/float64(halfLife))
	if v < 1e-3 {
		v = 0
	}
	return v
}

// Penalise records that the provider was caught misbehaving (reason: the
// kind of failure, e.g. "state_proof", "censored"). Each call adds 1 to a
// penalty that halves every health.penalty_half_life; routing avoids a
// penalised provider while clean ones of its tier are left (route.Score).
func (p *Provider) Penalise(reason string) {
	now := time.Now()
	p.mu.Lock()
	p.integ.penalty = p.integ.decayed(now, p.health.PenaltyHalfLife.D()) + 1
	p.integ.at = now
	if p.integ.total == nil {
		p.integ.total = make(map[string]uint64)
	}
	p.integ.total[reason]++
	level := p.integ.penalty
	onChange := p.integ.onChange
	p.mu.Unlock()
	p.logger.Warn("provider penalised", "reason", reason, "penalty", level)
	if onChange != nil {
		onChange(p)
	}
}

// PenaltyRecord is a provider's integrity record as the embedded store
// keeps it: the penalty as of At (it goes on decaying from At after a
// restart) and the counts by reason.
type PenaltyRecord struct {
	Penalty float64           `json:"penalty"`
	At      time.Time         `json:"at"`
	Counts  map[string]uint64 `json:"counts,omitempty"`
}

// PenaltyRecord returns the provider's integrity record.
func (p *Provider) PenaltyRecord() PenaltyRecord {
	p.mu.Lock()
	defer p.mu.Unlock()
	r := PenaltyRecord{Penalty: p.integ.penalty, At: p.integ.at, Counts: make(map[string]uint64, len(p.integ.total))}
	for k, v := range p.integ.total {
		r.Counts[k] = v
	}
	return r
}

// RestorePenalty replaces the provider's integrity record with r (read
// back from the store at start) and calls onChange after every later
// Penalise (nil: nobody). Call it before the provider takes traffic.
func (p *Provider) RestorePenalty(r PenaltyRecord, onChange func(*Provider)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.integ.onChange = onChange
	if r.Penalty <= 0 && len(r.Counts) == 0 {
		return
	}
	p.integ.penalty, p.integ.at = r.Penalty, r.At
	p.integ.total = make(map[string]uint64, len(r.Counts))
	for k, v := range r.Counts {
		p.integ.total[k] = v
	}
}

// Penalties returns how often the provider was penalised, by reason,
// sorted by reason.
func (p *Provider) Penalties() []PenaltyCount {
	p.mu.Lock()
	out := make([]PenaltyCount, 0, len(p.integ.total))
	for r, n := range p.integ.total {
		out = append(out, PenaltyCount{Reason: r, Count: n})
	}
	p.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Reason < out[j].Reason })
	return out
}

// PenaltyCount is how often a provider was penalised for one reason.
type PenaltyCount struct {
	Reason string `json:"reason"`
	Count  uint64 `json:"count"`
}
