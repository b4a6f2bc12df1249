package verify

import (
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
)

func evidenceIDs(es []Evidence) []uint64 {
	out := []uint64{}
	for _, e := range es {
		out = append(out, e.ID)
	}
	return out
}

// Records are numbered from 1 in the order recorded; Since hands out what
// a store has not seen, oldest first; Get and ?id=N find a record kept.
func TestEvidenceIDs(t *testing.T) {
	l := NewEvidenceLog(3)
	for i := range 5 {
		if id := l.Record(Evidence{Provider: "p", Kind: "bad_proof"}); id != uint64(i+1) {
			t.Fatalf("record %d got ID %d", i, id)
		}
	}
	if got := evidenceIDs(l.Since(3)); !reflect.DeepEqual(got, []uint64{4, 5}) {
		t.Fatalf("since 3: %v", got)
	}
	if got := evidenceIDs(l.Since(0)); !reflect.DeepEqual(got, []uint64{3, 4, 5}) {
		t.Fatalf("since 0 (two dropped): %v", got)
	}
	if _, ok := l.Get(2); ok {
		t.Fatal("a dropped record found")
	}
	for _, tc := range []struct {
		query string
		code  int
		want  string
	}{
		{"?id=4", 200, `"id":4`},
		{"?id=2", 404, "no evidence record"},
		{"?id=x", 404, "no evidence record"},
	} {
		rec := httptest.NewRecorder()
		l.ServeHTTP(rec, httptest.NewRequest("GET", "/verify/evidence"+tc.query, nil))
		if rec.Code != tc.code || !strings.Contains(rec.Body.String(), tc.want) {
			t.Errorf("%s: %d %s", tc.query, rec.Code, rec.Body)
		}
	}
}

// Restore keeps the newest records that fit, numbering goes on from the
// highest of total and the records' IDs, and later records are reported.
func TestEvidenceRestore(t *testing.T) {
	l := NewEvidenceLog(2)
	told := 0
	l.Restore([]Evidence{{ID: 7}, {ID: 9}, {ID: 8}}, 5, func() { told++ })
	if got := evidenceIDs(l.Recent(0)); !reflect.DeepEqual(got, []uint64{9, 8}) || l.Total() != 9 {
		t.Fatalf("restored %v total %d", got, l.Total())
	}
	if id := l.Record(Evidence{}); id != 10 || told != 1 {
		t.Fatalf("next ID %d, told %d", id, told)
	}
	l2 := NewEvidenceLog(4)
	l2.Restore(nil, 41, nil)
	if id := l2.Record(Evidence{}); id != 42 {
		t.Fatalf("after an empty restore with total 41: ID %d", id)
	}
	e := Evidence{Kind: "hash_mismatch"}
	if e.PenaltyReason() != "hash_mismatch" {
		t.Fatal(e.PenaltyReason())
	}
	e.Reason = "head_hash"
	if e.PenaltyReason() != "head_hash" {
		t.Fatal(e.PenaltyReason())
	}
}
