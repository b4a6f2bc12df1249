package route

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/config"
	"github.com/rpcmesh/rpcmesh/internal/ethmethod"
	"github.com/rpcmesh/rpcmesh/internal/fakenode"
)

// privacyRouting is testRouting with the privacy policy on.
func privacyRouting(share float64, addresses, clients int) config.Routing {
	r := testRouting()
	r.Privacy = config.PrivacySpread
	r.PrivacyMaxShare, r.PrivacyAddresses, r.PrivacyClients = share, addresses, clients
	return r
}

// operators returns n specs of n operators, one provider each, one tier.
func operators(n int) []nodeSpec {
	out := make([]nodeSpec, n)
	for i := range out {
		out[i] = nodeSpec{name: fmt.Sprintf("n%d", i), operator: fmt.Sprintf("op%d", i), cloud: fmt.Sprintf("c%d", i), tier: "own"}
	}
	return out
}

// testAddress is the i-th address a test asks about.
func testAddress(i int) string { return fmt.Sprintf("0x%040x", 0xa11ce000+i) }

// balance is an eth_getBalance of addr by client.
func balance(client, addr string) *Request {
	return &Request{Method: "eth_getBalance", Params: json.RawMessage(`["` + addr + `","latest"]`),
		Info: ethmethod.Lookup("eth_getBalance"), Client: client}
}

// privacyRecorder is a recorder that also hears the privacy outcomes.
type privacyRecorder struct {
	*recorder
	mu       sync.Mutex
	outcomes map[string]int
}

func newPrivacyRecorder() *privacyRecorder {
	return &privacyRecorder{recorder: newRecorder(), outcomes: map[string]int{}}
}

func (r *privacyRecorder) Privacy(_, outcome string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.outcomes[outcome]++
}

func (r *privacyRecorder) outcome(o string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.outcomes[o]
}

// withObserver rebuilds n's router over the same providers with obs.
func (n *testNet) withObserver(routing config.Routing, obs Observer) {
	n.router = New(Options{Chain: "test", Routing: routing, MaxLagBlocks: 3, ProviderTimeout: 2 * time.Second,
		Providers: n.router.Providers(), Head: n.head, Observer: obs})
}

// operatorOf returns the operator of the provider named name.
func (n *testNet) operatorOf(name string) string { return n.provider(name).Labels().Operator }

// ask sends an eth_getBalance of addr by client and returns the operator
// that answered it.
func (n *testNet) ask(t *testing.T, client, addr string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	res, err := n.router.Do(ctx, balance(client, addr))
	if err != nil {
		t.Fatalf("eth_getBalance %s: %v", addr, err)
	}
	return n.operatorOf(res.Provider)
}

// TestPrivacySpread: one client's distinct addresses, asked at once from
// many goroutines, are spread so that no operator serves more than the
// share of them (when there are enough operators for the share), or
// evenly (when there are not).
func TestPrivacySpread(t *testing.T) {
	for _, tc := range []struct {
		name      string
		operators int
		share     float64
		addresses int
		want      float64  // the largest share an operator may end with
		tiers     []string // the operators' tiers (default: all own)
	}{
		{"five operators, 0.3", 5, 0.3, 500, 0.3, nil},
		{"four operators, 0.3", 4, 0.3, 400, 0.3, nil},
		{"five operators, 0.25", 5, 0.25, 400, 0.25, nil},
		{"three operators cannot keep 0.3: even", 3, 0.3, 300, 1.0/3 + 0.01, nil},
		{"five operators in four tiers, 0.3", 5, 0.3, 500, 0.3, []string{"own", "partner", "partner", "community", "public"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			specs := operators(tc.operators)
			for i, tier := range tc.tiers {
				specs[i].tier = tier
			}
			n := startNet(t, privacyRouting(tc.share, 4096, 16), specs...)
			var mu sync.Mutex
			perOp := map[string]int{}
			var wg sync.WaitGroup
			for g := range 8 {
				wg.Go(func() {
					for i := g; i < tc.addresses; i += 8 {
						op := n.ask(t, "client-1", testAddress(i))
						mu.Lock()
						perOp[op]++
						mu.Unlock()
					}
				})
			}
			wg.Wait()
			t.Logf("addresses per operator: %v", perOp)
			for op, c := range perOp {
				if s := float64(c) / float64(tc.addresses); s > tc.want+1e-9 {
					t.Errorf("operator %s saw %d of %d addresses (%.3f), over %.3f", op, c, tc.addresses, s, tc.want)
				}
			}
			if tc.tiers != nil {
				// The best tiers first, each operator up to its share: the
				// own operator full, the public one not needed.
				if float64(perOp["op0"]) < tc.share*float64(tc.addresses)-1 || perOp["op4"] > 0 {
					t.Errorf("tiers not followed within the share: %v", perOp)
				}
			} else if len(perOp) != tc.operators {
				t.Errorf("%d operators used, want all %d", len(perOp), tc.operators)
			}
		})
	}
}

// TestPrivacySticky: an address asked again, by one goroutine or many at
// once, the first time included, goes to one operator only; another
// client's same address is its own (spread independently).
func TestPrivacySticky(t *testing.T) {
	n := startNet(t, privacyRouting(0.3, 4096, 16), operators(5)...)
	const addrs, rounds, parallel = 40, 4, 6
	var mu sync.Mutex
	seen := map[string]map[string]bool{} // client/address → operators
	var wg sync.WaitGroup
	for round := range rounds {
		for g := range parallel {
			wg.Go(func() {
				for i := range addrs {
					client := fmt.Sprintf("client-%d", (g+round)%2)
					op := n.ask(t, client, testAddress(i))
					mu.Lock()
					key := client + "/" + testAddress(i)
					if seen[key] == nil {
						seen[key] = map[string]bool{}
					}
					seen[key][op] = true
					mu.Unlock()
				}
			})
		}
		wg.Wait()
	}
	for key, ops := range seen {
		if len(ops) != 1 {
			t.Errorf("%s went to %d operators: %v", key, len(ops), ops)
		}
	}
	if len(seen) != 2*addrs {
		t.Fatalf("%d client/address pairs seen, want %d", len(seen), 2*addrs)
	}
}

// TestPrivacyYields: with one operator usable, every call is still
// answered and the policy says it yielded (over_cap); when an address's
// operator goes down its calls are served elsewhere (fallback) without
// moving it, and return to it once it is back.
func TestPrivacyYields(t *testing.T) {
	t.Run("one operator usable", func(t *testing.T) {
		n := startNet(t, privacyRouting(0.3, 4096, 16), operators(2)...)
		obs := newPrivacyRecorder()
		n.withObserver(privacyRouting(0.3, 4096, 16), obs)
		n.nodes["n1"].SetFault(fakenode.Fault{Down: true})
		waitFor(t, "n1's breaker open", func() bool { s := n.provider("n1").RouteSnapshot(time.Now()); return !s.Usable() })
		for i := range 20 {
			if op := n.ask(t, "c", testAddress(i)); op != "op0" {
				t.Fatalf("served by %s", op)
			}
		}
		// The first address is within any share of one; every later one
		// is over 0.3 of the client's addresses.
		if got := obs.outcome(PrivacyOverCap); got != 19 || obs.outcome(PrivacyAssigned) != 1 {
			t.Fatalf("over_cap reported %d times, want 19 (outcomes %v)", got, obs.outcomes)
		}
	})
	t.Run("its operator down", func(t *testing.T) {
		n := startNet(t, privacyRouting(0.5, 4096, 16), operators(2)...)
		obs := newPrivacyRecorder()
		n.withObserver(privacyRouting(0.5, 4096, 16), obs)
		addr := testAddress(7)
		first := n.ask(t, "c", addr)
		down := map[string]string{"op0": "n0", "op1": "n1"}[first]
		n.nodes[down].SetFault(fakenode.Fault{Down: true})
		waitFor(t, "the operator's breaker open", func() bool { s := n.provider(down).RouteSnapshot(time.Now()); return !s.Usable() })
		if op := n.ask(t, "c", addr); op == first {
			t.Fatalf("served by %s, which is down", op)
		}
		if obs.outcome(PrivacyFallback) == 0 {
			t.Fatalf("no fallback reported: %v", obs.outcomes)
		}
		n.nodes[down].SetFault(fakenode.Fault{})
		waitFor(t, "the operator back", func() bool { return n.settled(down) })
		if op := n.ask(t, "c", addr); op != first {
			t.Fatalf("after recovery served by %s, want its operator %s", op, first)
		}
	})
}

// TestPrivacySlowOperatorKeepsItsAddresses: an operator far slower than
// the others, which routing would otherwise skip, still serves the
// addresses kept with it: slowness is no reason to show them to another.
func TestPrivacySlowOperatorKeepsItsAddresses(t *testing.T) {
	routing := privacyRouting(0.5, 4096, 16)
	routing.ExplorationShare = 0
	n := startNet(t, routing, operators(2)...)
	obs := newPrivacyRecorder()
	n.withObserver(routing, obs)
	kept := map[string][]string{}
	for i := range 20 {
		op := n.ask(t, "c", testAddress(i))
		kept[op] = append(kept[op], testAddress(i))
	}
	if len(kept["op0"]) == 0 || len(kept["op1"]) == 0 {
		t.Fatalf("addresses not spread: %v", kept)
	}
	n.nodes["n0"].SetFault(fakenode.Fault{Delay: 150 * time.Millisecond})
	slow := func() bool {
		s0, s1 := n.provider("n0").RouteSnapshot(time.Now()), n.provider("n1").RouteSnapshot(time.Now())
		return s0.Recent > 5*s1.Recent+50*time.Millisecond
	}
	for round := 0; !slow(); round++ {
		if round == 20 {
			t.Fatal("n0 never looked slow enough for routing to skip it")
		}
		for _, addrs := range kept {
			for _, a := range addrs[:min(3, len(addrs))] {
				n.ask(t, "c", a)
			}
		}
	}
	// Routing without the policy now skips n0 (the test's premise).
	for range 20 {
		if p, _ := n.router.pick(read("eth_gasPrice"), &tried{}, false); p.Name() == "n0" {
			t.Fatal("a plain read went to the slow n0: the test shows nothing")
		}
	}
	for _, a := range kept["op0"] {
		if op := n.ask(t, "c", a); op != "op0" {
			t.Fatalf("%s, kept with the slow op0, went to %s", a, op)
		}
	}
	if fb := obs.outcome(PrivacyFallback); fb != 0 {
		t.Fatalf("%d fallbacks (outcomes %v)", fb, obs.outcomes)
	}
}

// TestPrivacyOutcomes: what the policy reports for a client's first calls.
func TestPrivacyOutcomes(t *testing.T) {
	ethCall := func(to, from string) *Request {
		return &Request{Method: "eth_call", Params: json.RawMessage(`[{"to":"` + to + `","from":"` + from + `"},"latest"]`),
			Info: ethmethod.Lookup("eth_call"), Client: "c"}
	}
	n := startNet(t, privacyRouting(0.3, 4096, 16), operators(5)...)
	obs := newPrivacyRecorder()
	n.withObserver(privacyRouting(0.3, 4096, 16), obs)
	for _, tc := range []struct {
		name string
		req  *Request
		want string
	}{
		{"a call naming two new addresses, the client's first", ethCall(testAddress(1), testAddress(2)), PrivacyAssigned},
		{"the same again", ethCall(testAddress(1), testAddress(2)), PrivacySticky},
		{"one of them alone", balance("c", testAddress(2)), PrivacySticky},
		{"a new one", balance("c", testAddress(3)), PrivacyAssigned},
		{"a kept one with a new one", ethCall(testAddress(3), testAddress(4)), PrivacySticky},
		{"the new one, now kept", balance("c", testAddress(4)), PrivacySticky},
	} {
		before := map[string]int{}
		for _, o := range []string{PrivacyAssigned, PrivacySticky, PrivacyOverCap, PrivacyFallback} {
			before[o] = obs.outcome(o)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		_, err := n.router.Do(ctx, tc.req)
		cancel()
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		for o, b := range before {
			want := 0
			if o == tc.want {
				want = 1
			}
			if got := obs.outcome(o) - b; got != want {
				t.Errorf("%s: %d %s, want %d", tc.name, got, o, want)
			}
		}
	}
}

// TestPrivacyBoundedMemory: past privacy_clients clients and
// privacy_addresses addresses each, the oldest are forgotten and every
// call is still served.
func TestPrivacyBoundedMemory(t *testing.T) {
	for _, tc := range []struct {
		clients, addresses         int
		askClients, askAddresses   int
		wantClients, wantAddresses int
	}{
		{clients: 4, addresses: 8, askClients: 10, askAddresses: 20, wantClients: 4, wantAddresses: 32},
		{clients: 16, addresses: 100, askClients: 3, askAddresses: 50, wantClients: 3, wantAddresses: 150},
		{clients: 1, addresses: 1, askClients: 5, askAddresses: 5, wantClients: 1, wantAddresses: 1},
	} {
		t.Run(fmt.Sprintf("%d clients of %d", tc.clients, tc.addresses), func(t *testing.T) {
			n := startNet(t, privacyRouting(0.3, tc.addresses, tc.clients), operators(5)...)
			for c := range tc.askClients {
				for i := range tc.askAddresses {
					n.ask(t, fmt.Sprintf("client-%d", c), testAddress(i))
				}
			}
			clients, addresses := n.router.PrivacyMemory()
			if clients != tc.wantClients || addresses != tc.wantAddresses {
				t.Fatalf("remembers %d clients and %d addresses, want %d and %d", clients, addresses, tc.wantClients, tc.wantAddresses)
			}
			// Each client's per-operator counts still add up to what it remembers.
			pv := n.router.privacy
			for i := 1; i < len(pv.clients.nodes); i++ {
				cl := pv.clients.nodes[i].val
				sum := 0
				for _, c := range cl.perOp {
					if c < 0 {
						t.Fatalf("negative count %v", cl.perOp)
					}
					sum += c
				}
				if sum != cl.addrs.len() {
					t.Fatalf("per-operator counts %v add to %d, remembers %d", cl.perOp, sum, cl.addrs.len())
				}
			}
		})
	}
}

// TestPrivacyOffOrNotCovered: with the policy off, or for a call that
// names no address, or the gateway's own call (no client), nothing is
// remembered and hedging and batching are as without the policy.
func TestPrivacyOffOrNotCovered(t *testing.T) {
	on := privacyRouting(0.3, 64, 4)
	for _, tc := range []struct {
		name    string
		routing config.Routing
		req     *Request
		covered bool
	}{
		{"off", testRouting(), balance("c", testAddress(1)), false},
		{"off explicitly", func() config.Routing { r := on; r.Privacy = config.PrivacyOff; return r }(), balance("c", testAddress(1)), false},
		{"no client", on, balance("", testAddress(1)), false},
		{"no address", on, &Request{Method: "eth_gasPrice", Info: ethmethod.Lookup("eth_gasPrice"), Client: "c"}, false},
		{"bad address", on, balance("c", "0x12"), false},
		{"covered", on, balance("c", testAddress(1)), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := New(Options{Chain: "test", Routing: tc.routing})
			if got := r.privacy.covers(tc.req); got != tc.covered {
				t.Fatalf("covers = %v, want %v", got, tc.covered)
			}
			if _, covered := r.privacy.keptWith(tc.req); covered != tc.covered {
				t.Fatalf("keptWith covered = %v, want %v", covered, tc.covered)
			}
		})
	}
}

// TestPrivacyBatchAndQuorum: a batch's calls of new addresses are each
// placed on their own; once kept, a batch goes as one upstream batch per
// operator, each call to its address's operator; a quorum's first provider
// is the one the address is kept with, and asked again a quorum asks the
// same operators.
func TestPrivacyBatchAndQuorum(t *testing.T) {
	n := startNet(t, privacyRouting(0.3, 4096, 16), operators(5)...)
	obs := newPrivacyRecorder()
	n.withObserver(privacyRouting(0.3, 4096, 16), obs)
	reqs := make([]Request, 20)
	for i := range reqs {
		reqs[i] = *balance("c", testAddress(i))
	}
	// A plain call in the batch goes as it would without the policy.
	reqs = append(reqs, *read("eth_gasPrice"))
	batch := func() []Result {
		out, errs := make([]Result, len(reqs)), make([]error, len(reqs))
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		n.router.DoBatch(ctx, reqs, out, errs)
		for i := range reqs {
			if errs[i] != nil {
				t.Fatalf("call %d: %v", i, errs[i])
			}
		}
		return out
	}
	batch()
	if got := obs.outcome(PrivacyAssigned); got != 20 {
		t.Fatalf("new addresses in a batch: %d assigned, want 20 (outcomes %v)", got, obs.outcomes)
	}
	want := map[string]string{}
	for i := range 20 {
		want[testAddress(i)] = n.ask(t, "c", testAddress(i))
	}
	before := obs.outcome(PrivacySticky)
	out := batch()
	for i := range 20 {
		if op := n.operatorOf(out[i].Provider); op != want[testAddress(i)] {
			t.Errorf("batch call %d went to %s, its address is kept with %s", i, op, want[testAddress(i)])
		}
	}
	// One routed attempt per operator's batch (up to five), not one per call.
	if got := obs.outcome(PrivacySticky) - before; got < 1 || got > 5 {
		t.Fatalf("kept addresses in a batch: %d routed attempts, want one per operator (outcomes %v)", got, obs.outcomes)
	}
	quorums := map[string]bool{} // every quorum's operators, in order
	for i := range 20 {
		picked := n.router.PickDistinct(balance("c", testAddress(i)), 3, nil, nil)
		if len(picked) != 3 || picked[0].Labels().Operator != want[testAddress(i)] {
			t.Fatalf("quorum for %s: first of %d is %s, want %s", testAddress(i), len(picked), picked[0].Labels().Operator, want[testAddress(i)])
		}
		set := fmt.Sprint(picked[0].Labels().Operator, picked[1].Labels().Operator, picked[2].Labels().Operator)
		quorums[set] = true
		for range 5 {
			again := n.router.PickDistinct(balance("c", testAddress(i)), 3, nil, nil)
			if got := fmt.Sprint(again[0].Labels().Operator, again[1].Labels().Operator, again[2].Labels().Operator); got != set {
				t.Fatalf("quorum for %s asked again: %s, first time %s", testAddress(i), got, set)
			}
		}
		if p := n.router.Pick(balance("c", testAddress(i)), nil); p.Labels().Operator != want[testAddress(i)] {
			t.Fatalf("Pick for %s: %s, want %s", testAddress(i), p.Labels().Operator, want[testAddress(i)])
		}
	}
	if len(quorums) < 3 {
		t.Fatalf("20 addresses' quorums used only %d operator sets: %v", len(quorums), quorums)
	}
}

// TestCallAddresses: the addresses each method reveals.
func TestCallAddresses(t *testing.T) {
	a, b := testAddress(1), testAddress(2)
	for _, tc := range []struct {
		method, params string
		want           []string
	}{
		{"eth_getBalance", `["` + a + `","latest"]`, []string{a}},
		{"eth_getCode", `["` + a + `","0x10"]`, []string{a}},
		{"eth_getTransactionCount", `["` + a + `"]`, []string{a}},
		{"eth_getStorageAt", `["` + a + `","0x0","latest"]`, []string{a}},
		{"eth_getProof", `["` + a + `",[],"latest"]`, []string{a}},
		{"eth_call", `[{"to":"` + a + `","from":"` + b + `","data":"0x"},"latest"]`, []string{a, b}},
		{"eth_call", `[{"to":"` + a + `","from":"` + a + `"}]`, []string{a}},
		{"eth_estimateGas", `[{"from":"` + b + `"}]`, []string{b}},
		{"eth_getLogs", `[{"address":"` + a + `","fromBlock":"0x1"}]`, []string{a}},
		{"eth_getLogs", `[{"address":["` + a + `","` + b + `"]}]`, []string{a, b}},
		{"eth_getLogs", `[{"fromBlock":"0x1"}]`, nil},
		{"eth_getBalance", `["0xABCDEF0123456789abcdef0123456789ABCDEF01"]`, []string{"0xabcdef0123456789abcdef0123456789abcdef01"}},
		{"eth_getBalance", `["0x` + a[3:] + `"]`, nil}, // 39 digits
		{"eth_getBalance", `[12]`, nil},
		{"eth_getBalance", `{}`, nil},
		{"eth_gasPrice", `[]`, nil},
		{"eth_sendRawTransaction", `["0x00"]`, nil},
	} {
		got := callAddresses(tc.method, json.RawMessage(tc.params))
		var gs []string
		for _, x := range got {
			gs = append(gs, fmt.Sprintf("0x%x", x[:]))
		}
		if fmt.Sprint(gs) != fmt.Sprint(tc.want) {
			t.Errorf("%s %s: %v, want %v", tc.method, tc.params, gs, tc.want)
		}
	}
}

// TestLRU: the least recently used entry goes first, a get counts as a
// use, and the length never passes the capacity.
func TestLRU(t *testing.T) {
	l := newLRU[int, int](3)
	for i := range 3 {
		l.put(i, i*10)
	}
	l.get(0) // 1 is now the oldest
	k, v, ev := l.put(3, 30)
	if !ev || k != 1 || v != 10 {
		t.Fatalf("evicted %v %d %d, want 1 10", ev, k, v)
	}
	if _, ok := l.get(1); ok {
		t.Fatal("1 still there")
	}
	for i := 4; i < 100; i++ {
		l.put(i, i)
		if l.len() > 3 {
			t.Fatalf("len %d over capacity", l.len())
		}
	}
	for _, k := range []int{97, 98, 99} {
		if v, ok := l.peek(k); !ok || v != k {
			t.Fatalf("%d: %d %v", k, v, ok)
		}
	}
	if _, _, ev := l.put(99, 1); ev {
		t.Fatal("updating a key evicted one")
	}
}

// TestPrivacyShareMath: the share limit is the one the docs state (an
// operator takes a new address only while it keeps at most share of the
// client's addresses), so 1/share operators suffice.
func TestPrivacyShareMath(t *testing.T) {
	for _, share := range []float64{0.2, 0.25, 0.3, 0.5} {
		need := int(math.Ceil(1/share - 1e-9))
		n := startNet(t, privacyRouting(share, 4096, 4), operators(need)...)
		perOp := map[string]int{}
		const total = 200
		for i := range total {
			perOp[n.ask(t, "c", testAddress(i))]++
		}
		for op, c := range perOp {
			if float64(c) > share*total+1e-9 {
				t.Errorf("share %.2f with %d operators: %s has %d of %d", share, need, op, c, total)
			}
		}
	}
}
