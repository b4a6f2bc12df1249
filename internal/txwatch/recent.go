package txwatch

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/common"
)

// Sent is a transaction users sent through the gateway, as the audit's
// propagation check sees it: who had it and who held it, not its bytes
// (Raw gives those, for the one transaction a check uses).
type Sent struct {
	Hash      common.Hash
	FirstSent time.Time
	Included  bool
	SentTo    []string // every provider the broadcast sent it to
	HeldBy    []string // providers that accepted and held it right after, or reported it since
}

// Recent returns up to n of the transactions first sent since since that
// are pending or included, newest first, leaving out those sent to skip
// and those a later transaction of the same sender and nonce replaced
// (resending one could undo the replacement at a node that has not seen
// it).
func (w *Watcher) Recent(since time.Time, n int, skip string) []Sent {
	w.mu.Lock()
	defer w.mu.Unlock()
	latest := map[string]*Entry{} // sender/nonce → the last one sent
	for _, e := range w.txs {
		k := fmt.Sprintf("%s/%d", strings.ToLower(e.From), e.Nonce)
		if l := latest[k]; l == nil || e.FirstSent.After(l.FirstSent) {
			latest[k] = e
		}
	}
	var out []Sent
	for _, e := range w.txs {
		if e.FirstSent.Before(since) || len(e.Raw) == 0 || (e.State != StatePending && e.State != StateIncluded) ||
			latest[fmt.Sprintf("%s/%d", strings.ToLower(e.From), e.Nonce)] != e {
			continue
		}
		s := Sent{Hash: common.HexToHash(e.Hash), FirstSent: e.FirstSent, Included: e.State == StateIncluded}
		for _, o := range e.Sends {
			s.SentTo = append(s.SentTo, o.Provider)
			if o.Accepted && o.InPool != nil && *o.InPool {
				s.HeldBy = append(s.HeldBy, o.Provider)
			}
		}
		if slices.Contains(s.SentTo, skip) {
			continue
		}
		for _, p := range e.SeenIn {
			if !slices.Contains(s.HeldBy, p) {
				s.HeldBy = append(s.HeldBy, p)
			}
		}
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b Sent) int { return b.FirstSent.Compare(a.FirstSent) })
	return out[:min(len(out), max(n, 0))]
}

// Raw is a copy of the signed transaction's bytes while the watch still
// tracks it.
func (w *Watcher) Raw(hash common.Hash) ([]byte, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	e, ok := w.txs[hash.Hex()]
	if !ok || len(e.Raw) == 0 {
		return nil, false
	}
	return slices.Clone([]byte(e.Raw)), true
}
