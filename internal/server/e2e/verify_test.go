package e2e

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common/hexutil"

	"github.com/rpcmesh/rpcmesh/internal/config"
	"github.com/rpcmesh/rpcmesh/internal/devnet"
	"github.com/rpcmesh/rpcmesh/internal/jsonrpc"
	"github.com/rpcmesh/rpcmesh/internal/server"
)

// TestVerifyAllLying: when every provider tells the same lie, a proven
// method gets -32012, never the lie.
func TestVerifyAllLying(t *testing.T) {
	act := sharedActivity(t)
	honest := newTruth(t, "node1")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cat := newCatalogue(t, ctx, act, honest)
	cases := []struct {
		name   string
		lies   []string
		method string
	}{
		{"balance+proof", []string{devnet.LieBalance, devnet.LieProof}, "eth_getBalance"},
		{"blockhash", []string{devnet.LieBlockHash}, "eth_getBlockByNumber"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// No proof cache: a balance proven before the lie would be
			// answered again (correctly) without asking anyone, and this
			// test is about what the gateway does when it must ask.
			v := startVerifyGateway(t, func(c *config.Config) { c.Verify.ProofCache = 0 })
			n := 2 * len(cat.blocks) * len(act.Accounts()) / max(1, raceScale)
			// Honest first: every call is answered (and its trusted
			// headers are cached); then the same calls while all lie.
			for i := range n {
				c := cat.call(tc.method, i)
				a, _, err := send(ctx, v.client, v.url, []rpcCall{c}, false)
				if err != nil || a[0].Error != nil {
					t.Fatalf("%s before the lie: %v %v", c, err, a)
				}
			}
			setLie(t, "all", tc.lies...)
			unverified := 0
			for i := range n {
				c := cat.call(tc.method, i)
				a, _, err := send(ctx, v.client, v.url, []rpcCall{c}, false)
				if err != nil {
					t.Fatalf("%s: %v", c, err)
				}
				switch {
				case a[0].Error == nil:
					t.Errorf("%s answered %.200s while every provider lies", c, a[0].Result)
				case a[0].Error.Code != jsonrpc.CodeUnverified:
					t.Errorf("%s: error %d %s, want %d", c, a[0].Error.Code, a[0].Error.Message, jsonrpc.CodeUnverified)
				default:
					unverified++
				}
			}
			doc := v.evidence(t)
			t.Logf("%d calls answered before the lie; with every provider lying %d of %d refused with -32012; %d evidence records",
				n, unverified, n, doc.Total)
		})
	}
}

// TestVerifiedHeader: the X-Rpcmesh-Verified header says how each answer
// was established, one line per call of a batch; the metrics count them.
func TestVerifiedHeader(t *testing.T) {
	act := sharedActivity(t)
	v := startVerifyGateway(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	operators := map[string]bool{}
	for _, n := range dn.Info().Nodes {
		operators[n.Labels.Operator] = true
	}
	block := hexutil.EncodeUint64(act.Blocks[len(act.Blocks)-1])
	balance := rpcCall{Method: "eth_getBalance", Params: params(act.Payer, block)}
	gasPrice := rpcCall{Method: "eth_gasPrice", Params: params()}
	ethCall := rpcCall{Method: "eth_call", Params: params(map[string]any{"to": act.Contract, "data": "0x01"}, block)}
	blockCall := rpcCall{Method: "eth_getBlockByNumber", Params: params(block, false)}
	proof := regexp.MustCompile(`^proof; operators=([a-z0-9-]+)$`)
	quorum := regexp.MustCompile(`^quorum; operators=([a-z0-9-]+),([a-z0-9-]+)(?:,[a-z0-9-]+)*(; note=.*)?$`) // fees: three operators
	check := func(t *testing.T, line string, re *regexp.Regexp) {
		t.Helper()
		m := re.FindStringSubmatch(line)
		if m == nil {
			t.Errorf("X-Rpcmesh-Verified %q does not match %s", line, re)
			return
		}
		ops := m[1:2]
		if re == quorum {
			ops = m[1:3]
			if ops[0] == ops[1] {
				t.Errorf("X-Rpcmesh-Verified %q: a quorum of one operator", line)
			}
		}
		for _, op := range ops {
			if !operators[op] {
				t.Errorf("X-Rpcmesh-Verified %q: %q is no operator of the chain", line, op)
			}
		}
	}
	for _, tc := range []struct {
		call rpcCall
		re   *regexp.Regexp
	}{{balance, proof}, {gasPrice, quorum}, {ethCall, quorum}, {blockCall, proof}} {
		a, h, err := send(ctx, v.client, v.url, []rpcCall{tc.call}, false)
		if err != nil || a[0].Error != nil {
			t.Fatalf("%s: %v %v", tc.call, err, a)
		}
		lines := h.Values(server.VerifiedHeader)
		if len(lines) != 1 {
			t.Fatalf("%s: X-Rpcmesh-Verified %q, want one line", tc.call, lines)
		}
		check(t, lines[0], tc.re)
		t.Logf("%s: %s", tc.call.Method, lines[0])
	}
	batch := []rpcCall{balance, gasPrice, ethCall, blockCall}
	a, h, err := send(ctx, v.client, v.url, batch, true)
	if err != nil {
		t.Fatal(err)
	}
	for i, ans := range a {
		if ans.Error != nil {
			t.Fatalf("batch item %d (%s): %v", i, batch[i], ans.Error)
		}
	}
	lines := h.Values(server.VerifiedHeader)
	sort.Strings(lines)
	if len(lines) != len(batch) {
		t.Fatalf("batch: X-Rpcmesh-Verified %q, want %d lines", lines, len(batch))
	}
	for i, re := range []*regexp.Regexp{proof, quorum, quorum, proof} {
		prefix := fmt.Sprintf("[%d] ", i)
		if !strings.HasPrefix(lines[i], prefix) {
			t.Errorf("batch line %q, want it to start with %q", lines[i], prefix)
			continue
		}
		check(t, strings.TrimPrefix(lines[i], prefix), re)
	}
	t.Logf("batch: %q", lines)
	if n := v.metricSum(t, "rpcmesh_verified_answers_total", `class="proof"`); n < 4 {
		t.Errorf("rpcmesh_verified_answers_total{class=\"proof\"} = %g after 4 proven answers", n)
	}
	if n := v.metricSum(t, "rpcmesh_verified_answers_total", `class="quorum"`); n < 4 {
		t.Errorf("rpcmesh_verified_answers_total{class=\"quorum\"} = %g after 4 quorum answers", n)
	}
	if n := v.metricSum(t, "rpcmesh_verify_rejected_total"); n != 0 {
		t.Errorf("rpcmesh_verify_rejected_total = %g with no liar", n)
	}
}
