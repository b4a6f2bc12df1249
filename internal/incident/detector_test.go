package incident

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/status"
	"github.com/rpcmesh/rpcmesh/internal/store"
)

// clock is a settable clock for the detector.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }
func newClock() *fakeClock                   { return &fakeClock{t: time.Date(2026, 12, 6, 14, 2, 0, 0, time.UTC)} }
func newDetector(t *testing.T, c *fakeClock, db *store.DB) *Detector {
	t.Helper()
	d, err := New(Options{OpenAfter: time.Second, CloseAfter: 2 * time.Second, Keep: 3, SlowAfter: 2 * time.Second, Now: c.now, Store: db})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// devnet is an observation of the devnet's five providers, all up.
func devnet() Observation {
	labels := [][4]string{
		{"node1", "rpcmesh", "aws", "us-east-1"}, {"node2", "blocklabs", "aws", "us-east-1"},
		{"node3", "nodeworks", "gcp", "europe-west3"}, {"node4", "homestakers", "home", "de-berlin"},
		{"node5", "openrpc", "hetzner", "fsn1"},
	}
	tiers := []string{"own", "partner", "partner", "community", "public"}
	o := Observation{Chain: "devnet", Head: 100, HeadAge: 200 * time.Millisecond, BlockTime: 500 * time.Millisecond,
		Agreed: 100, AgreedAge: 200 * time.Millisecond,
		MaxOperatorShare: 0.5, MaxCloudShare: 0.6}
	for i, l := range labels {
		o.Providers = append(o.Providers, Provider{Name: l[0], Operator: l[1], Cloud: l[2], Region: l[3], Tier: tiers[i], TierRank: []int{0, 1, 1, 2, 3}[i],
			State: status.StateUp, Head: 100})
	}
	return o
}

// with returns o with the named providers in state s.
func with(o Observation, s status.ProviderState, names ...string) Observation {
	ps := append([]Provider(nil), o.Providers...)
	for i := range ps {
		for _, n := range names {
			if ps[i].Name == n {
				ps[i].State = s
			}
		}
	}
	o.Providers = ps
	return o
}

// run evaluates o every 100ms of simulated time for d.
func run(det *Detector, c *fakeClock, o Observation, d time.Duration) {
	for end := c.t.Add(d); c.t.Before(end); c.advance(100 * time.Millisecond) {
		det.Evaluate(o)
	}
}

func TestCloudOutageIsOneIncidentWithPlainMessage(t *testing.T) {
	c := newClock()
	det := newDetector(t, c, nil)
	run(det, c, devnet(), time.Second)
	run(det, c, with(devnet(), status.StateDown, "node1", "node2"), 3*time.Second)
	incs := det.Incidents()
	if len(incs) != 1 || incs[0].Kind != status.KindCloudOutage || !incs[0].Open() {
		t.Fatalf("want one open cloud outage, got %+v", incs)
	}
	want := "devnet: 2 of 5 operators (both on aws, us-east-1) unreachable since 14:02:01 UTC; requests are served by the other 3; no failed requests"
	if incs[0].Message != want {
		t.Errorf("message\n got %q\nwant %q", incs[0].Message, want)
	}
	if incs[0].Severity != status.SeverityMajor || incs[0].Impact != status.ImpactNone {
		t.Errorf("severity %s impact %s", incs[0].Severity, incs[0].Impact)
	}
	if strings.Join(incs[0].Clouds, ",") != "aws" || strings.Join(incs[0].Providers, ",") != "node1,node2" {
		t.Errorf("affected: %+v", incs[0])
	}
}

func TestSteadyFaultStaysOneIncidentFor60s(t *testing.T) {
	c := newClock()
	det := newDetector(t, c, nil)
	events := det.Subscribe(t.Context())
	run(det, c, with(devnet(), status.StateLagging, "node4"), 60*time.Second)
	incs := det.Incidents()
	if len(incs) != 1 || !incs[0].Open() || incs[0].Kind != status.KindProviderLagging || len(incs[0].Updates) != 0 {
		t.Fatalf("want one open lagging incident without updates, got %+v", incs)
	}
	if got := len(events); got != 1 {
		t.Errorf("%d events, want 1 (opened)", got)
	}
	run(det, c, devnet(), 3*time.Second)
	if incs := det.Incidents(); len(incs) != 1 || incs[0].Open() || incs[0].End.Sub(incs[0].Start) < 60*time.Second {
		t.Fatalf("want it ended after 60s, got %+v", incs)
	}
}

func TestFlappingFaultIsOneIncident(t *testing.T) {
	c := newClock()
	det := newDetector(t, c, nil)
	for range 10 { // down 1.5s, up 1s: shorter than close_after
		run(det, c, with(devnet(), status.StateDown, "node3"), 1500*time.Millisecond)
		run(det, c, devnet(), time.Second)
	}
	incs := det.Incidents()
	if len(incs) != 1 || !incs[0].Open() {
		t.Fatalf("want one open incident, got %d: %+v", len(incs), incs)
	}
	// Readmitted on probation (degraded) is the same incident, its kind
	// the worst it had, the change an update.
	run(det, c, with(devnet(), status.StateDegraded, "node3"), 2*time.Second)
	incs = det.Incidents()
	if len(incs) != 1 || !incs[0].Open() || incs[0].Kind != status.KindProviderDown || !strings.Contains(incs[0].Message, "failing, throttled or slow") {
		t.Fatalf("want the one incident still open, now degraded: %+v", incs)
	}
	// A blip shorter than open_after is no incident at all.
	run(det, c, devnet(), 3*time.Second)
	run(det, c, with(devnet(), status.StateDown, "node5"), 500*time.Millisecond)
	run(det, c, devnet(), 3*time.Second)
	if incs := det.Incidents(); len(incs) != 1 || incs[0].Open() {
		t.Fatalf("want the one incident ended and no other, got %+v", incs)
	}
}

func TestFrozenThenHaltedIsOneIncident(t *testing.T) {
	c := newClock()
	det := newDetector(t, c, nil)
	frozen := devnet()
	frozen.HeadAge, frozen.AgreedAge = 2*time.Second, 2*time.Second
	frozen.Providers[4].Head = 104
	run(det, c, frozen, time.Second)
	halted := frozen
	halted.Providers = with(frozen, status.StateDown, "node5").Providers
	run(det, c, halted, time.Second)
	incs := det.Incidents()
	if len(incs) != 1 || incs[0].Kind != status.KindChainHalted || len(incs[0].Updates) != 1 {
		t.Fatalf("want one incident, now chain_halted, with one update: %+v", incs)
	}
}

func TestImpactAndUpdates(t *testing.T) {
	c := newClock()
	det := newDetector(t, c, nil)
	events := det.Subscribe(t.Context())
	o := with(devnet(), status.StateDown, "node3")
	run(det, c, o, 2*time.Second)
	o.Answers = status.Answers{Served: 10, Failed: 2}
	run(det, c, o, time.Second)
	inc := det.Incidents()[0]
	if inc.Impact != status.ImpactFailed || inc.Severity != status.SeverityCritical || len(inc.Updates) != 1 {
		t.Fatalf("want failed/critical with one update, got %+v", inc)
	}
	if !strings.HasSuffix(inc.Message, "; 2 failed requests") || !strings.Contains(inc.Message, "node3 (nodeworks on gcp, europe-west3) unreachable") {
		t.Errorf("message %q", inc.Message)
	}
	var types []status.EventType
	for len(events) > 0 {
		types = append(types, (<-events).Type)
	}
	if strings.Join(eventNames(types), ",") != "opened,updated" {
		t.Errorf("events %v", types)
	}
}

func eventNames(ts []status.EventType) []string {
	var out []string
	for _, t := range ts {
		out = append(out, string(t))
	}
	return out
}

func TestKindsFromObservations(t *testing.T) {
	frozen := devnet()
	frozen.HeadAge, frozen.AgreedAge = 2*time.Second, 2*time.Second
	frozen.Providers[4].Head = 104
	halted := devnet()
	halted.HeadAge, halted.AgreedAge = 2*time.Second, 2*time.Second
	busy := with(devnet(), status.StateDown, "node1", "node2", "node3", "node4")
	busy.WindowAttempts, busy.OperatorShare, busy.CloudShare = 100, map[string]float64{"openrpc": 0.9, "nodeworks": 0.1}, map[string]float64{"hetzner": 0.9}
	liar := with(devnet(), status.StateSuspect, "node2")
	liar.Providers[1].VerifyFailures = 3
	censor := with(devnet(), status.StateSuspect, "node2")
	censor.Providers[1].Censored = 2
	for _, tc := range []struct {
		name string
		o    Observation
		want []status.Kind
	}{
		{"down", with(devnet(), status.StateDown, "node3"), []status.Kind{status.KindProviderDown}},
		{"stalled", with(devnet(), status.StateStalled, "node3"), []status.Kind{status.KindProviderDown}},
		{"degraded", with(devnet(), status.StateDegraded, "node3"), []status.Kind{status.KindProviderDegraded}},
		{"forked", with(devnet(), status.StateForked, "node5"), []status.Kind{status.KindProviderForked}},
		{"region", with(with(devnet(), status.StateDown, "node1", "node2"), status.StateUp, "node2"), []status.Kind{status.KindProviderDown}},
		{"capacity", with(devnet(), status.StateDown, "node2", "node3"), []status.Kind{status.KindProviderDown, status.KindProviderDown, status.KindCapacity}},
		{"frozen", frozen, []status.Kind{status.KindHeadFrozen}},
		{"halted", halted, []status.Kind{status.KindChainHalted}},
		{"concentration", busy, []status.Kind{status.KindCloudOutage, status.KindProviderDown, status.KindProviderDown, status.KindCapacity, status.KindConcentration, status.KindConcentration}},
		{"verification", liar, []status.Kind{status.KindVerification}},
		{"censorship", censor, []status.Kind{status.KindCensorship}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []status.Kind
			for _, c := range conditions(&tc.o, 2) {
				got = append(got, c.kind)
			}
			if strings.Join(kindNames(got), ",") != strings.Join(kindNames(tc.want), ",") {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func kindNames(ks []status.Kind) []string {
	var out []string
	for _, k := range ks {
		out = append(out, string(k))
	}
	return out
}

func TestNoConcentrationWhenTheBestTierTakesAll(t *testing.T) {
	o := with(devnet(), status.StateDown, "node3") // a worse tier than node1's
	o.WindowAttempts, o.OperatorShare, o.CloudShare = 100, map[string]float64{"rpcmesh": 1}, map[string]float64{"aws": 1}
	for _, c := range conditions(&o, 2) {
		if c.kind == status.KindConcentration {
			t.Errorf("concentration by design reported: %+v", c)
		}
	}
}

// TestNoConcentrationOnTheFailing: when the operator that carried the
// traffic fails (with another of its cloud: a cloud outage), the routing
// window still holds its share for a while; that is no concentration.
func TestNoConcentrationOnTheFailing(t *testing.T) {
	o := with(devnet(), status.StateDown, "node1", "node2")
	o.WindowAttempts, o.OperatorShare, o.CloudShare = 100, map[string]float64{"rpcmesh": 0.82, "nodeworks": 0.18}, map[string]float64{"aws": 0.82, "gcp": 0.18}
	var got []status.Kind
	for _, c := range conditions(&o, 2) {
		got = append(got, c.kind)
	}
	if !slices.Equal(got, []status.Kind{status.KindCloudOutage}) {
		t.Errorf("got %v, want the cloud outage alone", got)
	}
}

func TestRegionOutageAcrossClouds(t *testing.T) {
	o := devnet()
	o.Providers[2].Region = "us-east-1" // node3 on gcp in us-east-1
	o = with(o, status.StateDown, "node2", "node3")
	cs := conditions(&o, 2)
	if len(cs) != 2 || cs[0].kind != status.KindRegionOutage || cs[0].subject != "us-east-1" {
		t.Fatalf("got %+v", cs)
	}
	msg := message("devnet", &cs[0], &o, newClock().t, impact{}, time.Second)
	if !strings.Contains(msg, "2 of 5 operators (both in us-east-1, on aws and gcp) unreachable") {
		t.Errorf("message %q", msg)
	}
}

func TestIncidentsSurviveRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rpcmesh.db")
	db, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	c := newClock()
	det := newDetector(t, c, db)
	run(det, c, with(devnet(), status.StateDown, "node3"), 2*time.Second)
	run(det, c, with(devnet(), status.StateLagging, "node4"), 4*time.Second) // node3's ends, node4's opens
	before := det.Incidents()
	if len(before) != 2 || !before[0].Open() || before[1].Open() {
		t.Fatalf("want one open, one ended: %+v", before)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db, err = store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	det = newDetector(t, c, db)
	after := det.Incidents()
	if len(after) != 2 || after[0].ID != before[0].ID || after[1].ID != before[1].ID || after[1].Message != before[1].Message {
		t.Fatalf("after restart\n%+v\nwant\n%+v", after, before)
	}
	// The open one goes on as the same incident, and ends when clear.
	run(det, c, with(devnet(), status.StateLagging, "node4"), 2*time.Second)
	if incs := det.Incidents(); len(incs) != 2 || incs[0].ID != before[0].ID || !incs[0].Open() {
		t.Fatalf("the open incident did not go on: %+v", incs)
	}
	run(det, c, devnet(), 3*time.Second)
	if incs := det.Incidents(); len(incs) != 2 || incs[0].Open() {
		t.Fatalf("want both ended: %+v", incs)
	}
}

func TestKeepBoundsEndedIncidents(t *testing.T) {
	c := newClock()
	det := newDetector(t, c, nil)
	for _, n := range []string{"node1", "node2", "node3", "node4", "node5"} {
		run(det, c, with(devnet(), status.StateDegraded, n), 2*time.Second)
		run(det, c, devnet(), 3*time.Second)
	}
	incs := det.Incidents()
	if len(incs) != 3 || incs[0].Providers[0] != "node5" {
		t.Fatalf("want the 3 newest kept, got %+v", incs)
	}
}

func TestSlowSubscriberDoesNotBlock(t *testing.T) {
	c := newClock()
	det := newDetector(t, c, nil)
	ctx, cancel := context.WithCancel(t.Context())
	ch := det.Subscribe(ctx)
	for range subscriberQueue { // an opened and a closed event each
		run(det, c, with(devnet(), status.StateDegraded, "node3"), 1100*time.Millisecond)
		run(det, c, devnet(), 2100*time.Millisecond)
	}
	if len(ch) != subscriberQueue {
		t.Errorf("queue %d, want full at %d", len(ch), subscriberQueue)
	}
	cancel()
	for range ch { // closed once ctx ended
	}
}

// TestConcurrentUse: evaluations, readers and subscribers coming and going
// at once (run with -race).
func TestConcurrentUse(t *testing.T) {
	det, err := New(Options{OpenAfter: time.Nanosecond, CloseAfter: time.Nanosecond})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 200 {
			o := devnet()
			if i%2 == 0 {
				o = with(o, status.StateDown, "node3")
			}
			det.Evaluate(o)
		}
	}()
	for range 20 {
		ctx, cancel := context.WithCancel(t.Context())
		ch := det.Subscribe(ctx)
		_ = det.Incidents()
		_ = det.Open("devnet")
		cancel()
		for range ch { // drained until closed
		}
	}
	<-done
}
