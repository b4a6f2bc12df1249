package verify

// EvidenceRef is an evidence record with its number in the log: the
// records ever added, counted from 1, so a number names one record for
// good (the admin listener's /verify/evidence lists the newest first,
// with the total).
type EvidenceRef struct {
	Seq      uint64   `json:"seq"`
	Evidence Evidence `json:"evidence"`
}

// Since returns the records kept whose number is above seq, oldest first,
// and the number of the newest record (the log's total).
func (l *EvidenceLog) Since(seq uint64) ([]EvidenceRef, uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	k := uint64(len(l.ring))
	if seq >= l.total || k == 0 {
		return nil, l.total
	}
	n := min(l.total-seq, k)
	out := make([]EvidenceRef, 0, n)
	for i := n; i > 0; i-- {
		// The i-th newest: just before next when the ring is full, else
		// the i-th from the end.
		idx := (uint64(l.next) + k - i) % k
		if len(l.ring) < cap(l.ring) {
			idx = k - i
		}
		out = append(out, EvidenceRef{Seq: l.total - i + 1, Evidence: l.ring[idx]})
	}
	return out, l.total
}
