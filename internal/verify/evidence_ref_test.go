package verify

import (
	"fmt"
	"testing"
)

// TestEvidenceSince checks that records are numbered for good, before
// and after the ring wraps.
func TestEvidenceSince(t *testing.T) {
	l := NewEvidenceLog(3)
	add := func(n int) {
		for range n {
			l.Record(Evidence{Provider: fmt.Sprint("p", l.Total()+1)})
		}
	}
	add(2)
	refs, total := l.Since(0)
	if total != 2 || len(refs) != 2 || refs[0].Seq != 1 || refs[0].Evidence.Provider != "p1" || refs[1].Seq != 2 {
		t.Fatalf("since 0 of 2: %+v total %d", refs, total)
	}
	add(3) // p3, p4, p5: the ring keeps p3..p5
	refs, total = l.Since(2)
	if total != 5 || len(refs) != 3 {
		t.Fatalf("since 2 of 5: %+v total %d", refs, total)
	}
	for i, r := range refs {
		if want := uint64(3 + i); r.Seq != want || r.Evidence.Provider != fmt.Sprint("p", want) {
			t.Errorf("ref %d: %+v, want seq %d", i, r, want)
		}
	}
	if refs, _ := l.Since(0); len(refs) != 3 || refs[0].Seq != 3 {
		t.Errorf("since 0 after wrap: %+v, want the 3 kept from seq 3", refs)
	}
	if refs, total := l.Since(5); refs != nil || total != 5 {
		t.Errorf("since 5: %+v %d, want none", refs, total)
	}
}
