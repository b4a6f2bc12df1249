package head

import "time"

// OnChain reports whether hash is the agreed block at number: known is
// false when the tracker cannot tell (no head yet, number above the head
// or below the heights it keeps), else on says whether a provider whose
// head is that block follows the agreed chain (false: a fork the operators
// agreeing on the head do not follow).
func (t *Tracker) OnChain(number uint64, hash string) (on, known bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.head.IsZero() || number > t.head.Number || hash == "" {
		return false, false
	}
	c, ok := t.canon[number]
	if !ok {
		return false, false
	}
	return c == hash, true
}

// Agreed returns the last block agreement settled on (the head, unless a
// degraded head moved past it on fewer operators) and how long ago it
// moved; ok is false without a head.
func (t *Tracker) Agreed() (number uint64, age time.Duration, ok bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.head.IsZero() {
		return 0, 0, false
	}
	return t.agreedTop, t.opt.Now().Sub(t.agreedMoved), true
}
