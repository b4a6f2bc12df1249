package admission

import (
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/store"
	"github.com/rpcmesh/rpcmesh/internal/verify"
)

var t0 = time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)

func testPolicy() Policy {
	return Policy{PromoteAfter: time.Minute, PromoteAnswers: 10, MinAvailability: 0.9, Window: 10 * time.Second}
}

// TestPromotion: a provider on probation is admitted only once both the
// period has passed and enough answers were verified.
func TestPromotion(t *testing.T) {
	cases := []struct {
		name     string
		after    time.Duration
		verified int
		want     Stage
	}{
		{"too early", 30 * time.Second, 50, Probation},
		{"too few answers", 2 * time.Minute, 9, Probation},
		{"both", 2 * time.Minute, 10, Admitted},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tr := NewTracker("dev", testPolicy(), NewLog(10))
			tr.Join("p", Probation, "added", false, t0)
			for range tc.verified {
				tr.Verified("p")
			}
			got := tr.Check(t0.Add(tc.after), map[string]bool{"p": true})
			if s := tr.Stage("p"); s != tc.want {
				t.Fatalf("stage %s, want %s (transitions %+v)", s, tc.want, got)
			}
			if tc.want == Admitted && (len(got) != 1 || got[0].From != Probation || !strings.Contains(got[0].Reason, "probation passed")) {
				t.Errorf("transitions %+v, want one promotion with its reason", got)
			}
		})
	}
}

// TestDemotionOnLie: the first lie demotes a provider on probation, with
// the evidence linked; an admitted one stays unless DemoteAdmitted; a
// record of another chain demotes nobody.
func TestDemotionOnLie(t *testing.T) {
	ev := func(chain, provider string, id uint64) verify.Evidence {
		return verify.Evidence{ID: id, Chain: chain, Provider: provider, Method: "eth_getProof", Kind: "bad_proof", Failure: "bad proof"}
	}
	cases := []struct {
		name   string
		stage  Stage
		demote bool
		alone  bool // the only provider
		chain  string
		want   Stage
	}{
		{"probation", Probation, false, false, "dev", Candidate},
		{"admitted", Admitted, false, false, "dev", Admitted},
		{"admitted, demote_admitted", Admitted, true, false, "dev", Candidate},
		{"last admitted, demote_admitted", Admitted, true, true, "dev", Admitted},
		{"other chain", Probation, false, false, "other", Probation},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := testPolicy()
			p.DemoteAdmitted = tc.demote
			tr := NewTracker("dev", p, NewLog(10))
			if !tc.alone {
				tr.Join("honest", Admitted, "config", false, t0)
			}
			tr.Join("liar", tc.stage, "config", false, t0)
			got := tr.Lies([]verify.Evidence{ev(tc.chain, "liar", 7), ev(tc.chain, "liar", 8), ev("dev", "someone-else", 9)}, t0)
			if s := tr.Stage("liar"); s != tc.want {
				t.Fatalf("stage %s, want %s", s, tc.want)
			}
			if tc.want != Candidate {
				return
			}
			if len(got) != 1 || got[0].To != Candidate || len(got[0].Evidence) != 2 || got[0].Evidence[0].ID != 7 || !strings.Contains(got[0].Reason, "proven lie") {
				t.Errorf("transitions %+v, want one demotion linking evidence 7 and 8", got)
			}
		})
	}
}

// TestAvailability: a provider on probation up at fewer than the bound's
// share of the checks over a whole window is demoted; not before the
// window is whole; one that fails briefly is not.
func TestAvailability(t *testing.T) {
	cases := []struct {
		name string
		down []bool // a check per second
		want Stage
	}{
		{"healthy", repeat(false, 12), Probation},
		{"down", append(repeat(false, 2), repeat(true, 10)...), Candidate},
		{"down, window not whole", repeat(true, 9), Probation},
		{"down once", append(append(repeat(false, 6), true), repeat(false, 6)...), Probation},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := testPolicy()
			p.MinAvailability = 0.8
			tr := NewTracker("dev", p, NewLog(10))
			tr.Join("p", Probation, "added", false, t0)
			var got []Transition
			for i, down := range tc.down {
				got = append(got, tr.Check(t0.Add(time.Duration(i)*time.Second), map[string]bool{"p": !down})...)
			}
			if s := tr.Stage("p"); s != tc.want {
				t.Fatalf("stage %s, want %s (%+v)", s, tc.want, got)
			}
			if tc.want == Candidate && (len(got) != 1 || !strings.Contains(got[0].Reason, "sustained failure")) {
				t.Errorf("transitions %+v, want one demotion for sustained failure", got)
			}
		})
	}
}

func repeat(v bool, n int) []bool {
	out := make([]bool, n)
	for i := range out {
		out[i] = v
	}
	return out
}

// TestLogBoundAndRestore: the log keeps max transitions per chain, in the
// store too, and a restart restores the stage last recorded over the
// config's (a demoted provider stays demoted).
func TestLogBoundAndRestore(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rpcmesh.db")
	db, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	log := NewLog(3)
	if err := log.Open(db); err != nil {
		t.Fatal(err)
	}
	tr := NewTracker("dev", testPolicy(), log)
	if _, rec := tr.Join("old", Admitted, "config", true, t0); rec != nil {
		t.Errorf("an admitted provider of the config recorded %+v; want nothing, as before admission existed", rec)
	}
	tr.Join("p", Probation, "added", false, t0)
	for i := range 4 {
		tr.Set("p", []Stage{Candidate, Probation}[i%2], "operator", t0)
	}
	tr.Lies([]verify.Evidence{{ID: 1, Chain: "dev", Provider: "p"}}, t0) // p on probation: demoted
	if err := log.Err(); err != nil {
		t.Fatal(err)
	}
	if got := log.List("dev", 0); len(got) != 3 || got[0].Seq != 6 || got[0].To != Candidate {
		t.Fatalf("kept %+v, want the newest 3, seq 6 first", got)
	}
	db.Close()

	db, err = store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	log = NewLog(3)
	if err := log.Open(db); err != nil {
		t.Fatal(err)
	}
	if got := log.List("dev", 0); len(got) != 3 || got[0].Seq != 6 || len(got[0].Evidence) != 1 {
		t.Fatalf("after reopening: %+v, want the same 3", got)
	}
	tr = NewTracker("dev", testPolicy(), log)
	if s, rec := tr.Join("p", Admitted, "config", true, t0); s != Candidate || rec != nil {
		t.Errorf("restored p as %s (recorded %+v), want candidate as last recorded", s, rec)
	}
	if got := tr.Leave("p", "removed", t0); got.Seq != 7 || got.To != Removed {
		t.Errorf("leave: %+v, want seq 7 to removed", got)
	}
}

// TestConcurrentUse runs the tracker's calls at once (for -race).
func TestConcurrentUse(t *testing.T) {
	tr := NewTracker("dev", testPolicy(), NewLog(100))
	var wg sync.WaitGroup
	for i := range 4 {
		name := []string{"a", "b", "c", "d"}[i]
		wg.Go(func() {
			tr.Join(name, Probation, "added", false, t0)
			for j := range 200 {
				tr.Verified(name)
				tr.Check(t0.Add(time.Duration(j)*time.Second), map[string]bool{name: j%7 != 0})
				_ = tr.Entries()
			}
			tr.Leave(name, "gone", t0)
		})
	}
	wg.Wait()
	if n := len(tr.Entries()); n != 0 {
		t.Errorf("%d providers left, want 0", n)
	}
}
