package privacye2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/rpcmesh/rpcmesh/internal/config"
)

// addressesFrom returns n distinct addresses starting at base.
func addressesFrom(base, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("0x%040x", base+i)
	}
	return out
}

// askBalances asks the gateway every address's balance in batches of 50
// and checks each answer is zero.
func (tg *testGateway) askBalances(t *testing.T, addrs []string) {
	t.Helper()
	tg.ask(t, "eth_getBalance", "0x0", addrs)
}

// ask asks the gateway method(address, "latest") of every address in
// batches of 50 and checks each answer is want.
func (tg *testGateway) ask(t *testing.T, method, want string, addrs []string) {
	t.Helper()
	for start := 0; start < len(addrs); start += 50 {
		chunk := addrs[start:min(start+50, len(addrs))]
		var answers []struct {
			Result string          `json:"result"`
			Error  json.RawMessage `json:"error"`
		}
		body := tg.post(t, addressBatch(method, chunk))
		if err := json.Unmarshal(body, &answers); err != nil || len(answers) != len(chunk) {
			t.Fatalf("batch answer %s: %v", body, err)
		}
		for _, a := range answers {
			if a.Error != nil || a.Result != want {
				t.Fatalf("%s of a fresh address: %s", method, body)
			}
		}
	}
}

// TestPrivacySpread: one client asks the balances of 1,000 distinct
// addresses through five operators (the devnet's, in four tiers). With the
// policy on, counted at the providers, no operator received more than 30%
// of them, and each address reached one operator only; asked again, no
// operator learns a new one. With it off, routing is as before: the own
// tier's one operator sees them all.
func TestPrivacySpread(t *testing.T) {
	for _, tc := range []struct {
		name      string
		configure func(*config.Config)
		addresses int
		check     func(t *testing.T, perOp map[string]int, total int)
	}{
		{
			name: "on for the chain",
			configure: func(c *config.Config) {
				c.Chains[0].Routing = &config.Routing{Privacy: config.PrivacySpread} // the rest inherited
			},
			addresses: 1000,
			check: func(t *testing.T, perOp map[string]int, total int) {
				for op, n := range perOp {
					if n*10 > total*3 {
						t.Errorf("operator %s saw %d of %d addresses, over 30%%", op, n, total)
					}
				}
			},
		},
		{
			name:      "off",
			configure: func(*config.Config) {},
			addresses: 200,
			check: func(t *testing.T, perOp map[string]int, total int) {
				if perOp["rpcmesh"] != total {
					t.Errorf("the own tier's operator saw %d of %d addresses, want all (routing unchanged)", perOp["rpcmesh"], total)
				}
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tg := startGateway(t, tc.configure)
			addrs := addressesFrom(0xbeef0000, tc.addresses)
			mark := tg.marks()
			tg.askBalances(t, addrs)
			seen := tg.addressesSeen(mark)
			perOp := map[string]int{}
			reached := map[string]int{} // address → operators it reached
			for op, set := range seen {
				perOp[op] = len(set)
				for a := range set {
					reached[a]++
				}
			}
			t.Logf("distinct addresses per operator: %v; privacy outcomes %v", perOp, tg.privacyOutcomes(t))
			for _, a := range addrs {
				if reached[a] == 0 {
					t.Fatalf("%s reached no provider", a)
				}
			}
			tc.check(t, perOp, len(addrs))
			if tc.name == "off" {
				return
			}
			// Each address reached one operator, unless the policy says it
			// yielded for a retry (fallback).
			extra := 0
			for _, n := range reached {
				extra += n - 1
			}
			if fb := tg.privacyOutcomes(t)["fallback"]; float64(extra) > fb {
				t.Errorf("%d extra operator sightings, only %v fallbacks reported", extra, fb)
			}
			// Asked again (stickiness), for their code (a proof every time:
			// no kept proof answers it): every address goes back where it
			// went, each wave of a batch (limits.batch_concurrency calls) as
			// one upstream batch per operator.
			again := tg.marks()
			tg.ask(t, "eth_getCode", "0x", addrs[:200])
			reachedAgain := 0
			for op, set := range tg.addressesSeen(again) {
				for a := range set {
					reachedAgain++
					if !seen[op][a] {
						t.Errorf("asked again, %s reached %s, which had not seen it", a, op)
					}
				}
			}
			if reachedAgain < 200 {
				t.Errorf("asked again, %d of 200 addresses reached a provider", reachedAgain)
			}
			waves := 4 * ((50 + config.Default().Limits.BatchConcurrency - 1) / config.Default().Limits.BatchConcurrency)
			if n := tg.requestsNaming(again); n > waves*len(tg.recs) {
				t.Errorf("asked again in %d waves: %d upstream requests, want at most one per wave and operator", waves, n)
			}
		})
	}
}

// TestPrivacyOneOperator: with one operator, privacy yields to
// availability: every call is answered, and the metric says over_cap.
func TestPrivacyOneOperator(t *testing.T) {
	tg := startGateway(t, func(c *config.Config) { c.Routing.Privacy = config.PrivacySpread }, "node1")
	addrs := addressesFrom(0xcafe0000, 20)
	tg.askBalances(t, addrs)
	out := tg.privacyOutcomes(t)
	if out["over_cap"] < 19 {
		t.Fatalf("privacy outcomes %v: want at least 19 over_cap (one operator cannot keep a share of 0.3)", out)
	}
}

// TestPrivacyQuorum: an eth_call is verified by a quorum of two operators,
// so it necessarily shows its address to two; asked again and again, the
// same two, counted at the providers.
func TestPrivacyQuorum(t *testing.T) {
	tg := startGateway(t, func(c *config.Config) { c.Routing.Privacy = config.PrivacySpread })
	addrs := addressesFrom(0xf00d0000, 20)
	mark := tg.marks()
	for round := range 3 {
		for i, a := range addrs {
			body := fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"eth_call","params":[{"to":"%s","data":"0x"},"latest"]}`, i, a)
			var answer struct {
				Result string          `json:"result"`
				Error  json.RawMessage `json:"error"`
			}
			if err := json.Unmarshal(tg.post(t, body), &answer); err != nil || answer.Error != nil || answer.Result != "0x" {
				t.Fatalf("round %d eth_call %s: %+v %v", round, a, answer, err)
			}
		}
	}
	reached := map[string]int{}
	for _, set := range tg.addressesSeen(mark) {
		for a := range set {
			reached[a]++
		}
	}
	k := config.DefaultVerify().Quorum
	for _, a := range addrs {
		if reached[a] == 0 || reached[a] > k {
			t.Errorf("%s reached %d operators over 3 rounds, want 1 to %d", a, reached[a], k)
		}
	}
	t.Logf("privacy outcomes %v", tg.privacyOutcomes(t))
}

// TestPrivacyMethodsOneOperator: every way of asking about an address
// (state reads, proven by eth_getProof against agreed headers; logs by
// address), in one batch or one at a time, reaches the one operator the
// address is kept with, counted at the providers.
func TestPrivacyMethodsOneOperator(t *testing.T) {
	tg := startGateway(t, func(c *config.Config) { c.Routing.Privacy = config.PrivacySpread })
	addrs := addressesFrom(0xd00d0000, 30)
	calls := func(a string) []string {
		return []string{
			`{"jsonrpc":"2.0","id":1,"method":"eth_getBalance","params":["` + a + `","latest"]}`,
			`{"jsonrpc":"2.0","id":2,"method":"eth_getTransactionCount","params":["` + a + `","latest"]}`,
			`{"jsonrpc":"2.0","id":3,"method":"eth_getCode","params":["` + a + `","latest"]}`,
			`{"jsonrpc":"2.0","id":4,"method":"eth_getStorageAt","params":["` + a + `","0x0","latest"]}`,
			`{"jsonrpc":"2.0","id":5,"method":"eth_getProof","params":["` + a + `",[],"latest"]}`,
			`{"jsonrpc":"2.0","id":6,"method":"eth_getLogs","params":[{"address":"` + a + `","fromBlock":"latest"}]}`,
		}
	}
	mark := tg.marks()
	for i, a := range addrs {
		cs := calls(a)
		if i%2 == 0 {
			body := tg.post(t, "["+strings.Join(cs, ",")+"]")
			if strings.Contains(string(body), `"error"`) {
				t.Fatalf("batch for %s: %s", a, body)
			}
			continue
		}
		for _, c := range cs {
			if body := tg.post(t, c); strings.Contains(string(body), `"error"`) {
				t.Fatalf("%s: %s", c, body)
			}
		}
	}
	reached := map[string][]string{}
	for op, set := range tg.addressesSeen(mark) {
		for a := range set {
			reached[a] = append(reached[a], op)
		}
	}
	// The reads were proven: the providers were asked for proofs.
	proofs := 0
	for i, rec := range tg.recs {
		for _, r := range rec.requests()[mark[i]:] {
			for _, c := range callsIn(r.body) {
				if c.Method == "eth_getProof" {
					proofs++
				}
			}
		}
	}
	if proofs < len(addrs) {
		t.Fatalf("%d eth_getProof calls reached the providers for %d addresses: were the reads verified?", proofs, len(addrs))
	}
	// One operator each, but for what the policy says it yielded (fallback).
	extra := 0
	for _, a := range addrs {
		if len(reached[a]) == 0 {
			t.Errorf("%s reached no provider", a)
		}
		extra += max(len(reached[a])-1, 0)
	}
	if fb := tg.privacyOutcomes(t)["fallback"]; float64(extra) > fb {
		t.Errorf("%d extra operator sightings, %v fallbacks reported: %v", extra, fb, reached)
	}
	t.Logf("privacy outcomes %v", tg.privacyOutcomes(t))
}
