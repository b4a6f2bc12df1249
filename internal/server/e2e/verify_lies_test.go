package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common/hexutil"

	"github.com/rpcmesh/rpcmesh/internal/config"
	"github.com/rpcmesh/rpcmesh/internal/devnet"
	"github.com/rpcmesh/rpcmesh/internal/jsonrpc"
)

// lieMethods are the methods whose answers each lie touches, directly or
// through what the gateway asks to prove them (an eth_getProof behind every
// state read, blocks by hash behind receipts, transactions and logs).
var lieMethods = map[string][]string{
	devnet.LieBalance:     {"eth_getBalance"},
	devnet.LieNonce:       {"eth_getTransactionCount"},
	devnet.LieCode:        {"eth_getCode"},
	devnet.LieStorage:     {"eth_getStorageAt"},
	devnet.LieProof:       {"eth_getProof", "eth_getBalance", "eth_getTransactionCount", "eth_getStorageAt", "eth_getCode"},
	devnet.LieReceipt:     {"eth_getTransactionReceipt", "eth_getBlockReceipts", "eth_getLogs"},
	devnet.LieLog:         {"eth_getLogs"},
	devnet.LieBlockHash:   {"eth_getBlockByNumber", "eth_getBlockByHash", "eth_getBlockReceipts", "eth_getTransactionByHash", "eth_getTransactionReceipt", "eth_getLogs", "eth_getBalance"},
	devnet.LieBlockNumber: {"eth_blockNumber", "eth_getBlockByNumber", "eth_getBlockByHash", "eth_getTransactionByHash", "eth_getTransactionReceipt", "eth_getBalance"},
}

// collusion is what a gateway needs to survive two operators telling the
// same lie where agreement, not a proof, settles what the lie touches: log
// ranges beyond maxLogBlocks (a quorum of two). The head needs nothing:
// a head whose header does not hash to its claimed hash never votes.
// Proofs need nothing either: the other lies run with the defaults.
var collusion = map[string]func(*config.Config){
	devnet.LieLog: func(c *config.Config) { c.Verify.Quorum = 3 },
}

// runStats counts what clients got.
type runStats struct {
	mu              sync.Mutex
	calls, batches  int
	correct, wrong  int
	errors          map[int]int // by JSON-RPC code
	failed          int         // no JSON-RPC answer at all, or no truth to compare with
	wrongSamples    []string
	errorSamples    []string
	transportErrors []string
}

func (s *runStats) String() string {
	return fmt.Sprintf("%d calls (%d in batches): %d correct, %d JSON-RPC errors %v, %d wrong, %d transport failures",
		s.calls, s.batches, s.correct, sum(s.errors), s.errors, s.wrong, s.failed)
}

func sum(m map[int]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// runMix sends total calls of methods through the gateway from four
// clients, every third send a batch of three, and compares every result
// with the honest node's.
func runMix(t *testing.T, ctx context.Context, v *verifyGateway, cat *catalogue, honest *truth, methods []string, total int) *runStats {
	t.Helper()
	s := &runStats{errors: map[int]int{}}
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := w; ctx.Err() == nil; k++ {
				size := 1
				if k%3 == 2 {
					size = 3
				}
				start := int(next.Add(int64(size))) - size
				if start >= total {
					return
				}
				var calls []rpcCall
				for j := start; j < min(start+size, total); j++ {
					calls = append(calls, cat.call(methods[j%len(methods)], j/len(methods)))
				}
				answers, _, err := send(ctx, v.client, v.url, calls, size > 1)
				s.judge(ctx, calls, answers, err, size > 1, honest)
			}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		t.Fatalf("run: %v (%s)", err, s)
	}
	return s
}

// judge counts one send's answers.
func (s *runStats) judge(ctx context.Context, calls []rpcCall, answers []rpcAnswer, err error, batch bool, honest *truth) {
	type verdict struct {
		correct bool
		code    int    // a JSON-RPC error
		wrong   string // what was wrong (or the error)
		failed  error  // no truth to compare with
	}
	verdicts := make([]verdict, len(calls))
	if err == nil {
		for i, c := range calls {
			a := answers[i]
			switch {
			case a.Error != nil:
				verdicts[i] = verdict{code: a.Error.Code, wrong: fmt.Sprintf("%s: error %d: %.200s", c, a.Error.Code, a.Error.Message)}
			case c.Method == "eth_blockNumber":
				// The agreed head: never above the chain's real head.
				var got hexutil.Uint64
				head, _ := dn.Head()
				if json.Unmarshal(a.Result, &got) != nil || uint64(got) > head {
					verdicts[i].wrong = fmt.Sprintf("%s: %s, the chain's head is %d", c, a.Result, head)
				} else {
					verdicts[i].correct = true
				}
			default:
				want, terr := honest.get(ctx, c.truthCall())
				if terr != nil {
					verdicts[i].failed = terr
					continue
				}
				if sameJSON(a.Result, want) {
					verdicts[i].correct = true
				} else {
					verdicts[i].wrong = fmt.Sprintf("%s:\n  got  %.300s\n  want %.300s", c, a.Result, want)
				}
			}
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls += len(calls)
	if batch {
		s.batches += len(calls)
	}
	if err != nil {
		s.failed += len(calls)
		if len(s.transportErrors) < 5 {
			s.transportErrors = append(s.transportErrors, err.Error())
		}
		return
	}
	for _, v := range verdicts {
		switch {
		case v.failed != nil:
			s.failed++
			if len(s.transportErrors) < 5 {
				s.transportErrors = append(s.transportErrors, v.failed.Error())
			}
		case v.correct:
			s.correct++
		case v.code != 0:
			s.errors[v.code]++
			if len(s.errorSamples) < 5 {
				s.errorSamples = append(s.errorSamples, v.wrong)
			}
		default:
			s.wrong++
			if len(s.wrongSamples) < 5 {
				s.wrongSamples = append(s.wrongSamples, v.wrong)
			}
		}
	}
}

// TestVerifyLiesNeverReachClients: for each lie the devnet can tell, one
// liar and then two (of different operators) among the five providers,
// favoured by routing; a few hundred calls of the methods the lie touches
// go through the gateway. No wrong answer reaches a client, the liars are
// penalised and their answers are the evidence, and nobody else's.
//
// The lies reach every client of the liars, the package's shared gateway
// too; its head does not move, since a head whose header does not hash to
// its claimed hash never votes.
func TestVerifyLiesNeverReachClients(t *testing.T) {
	act := sharedActivity(t)
	honest := newTruth(t, "node1")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cat := newCatalogue(t, ctx, act, honest)
	perRun := 300 / raceScale
	var totals struct{ calls, correct, errors, wrong, evidence int }
	for _, liars := range [][]string{{"node2"}, {"node2", "node4"}} {
		for _, lie := range devnet.LieTargets {
			t.Run(fmt.Sprintf("%d-liars/%s", len(liars), lie), func(t *testing.T) {
				var tune func(*config.Config) // the defaults
				if len(liars) == 2 {
					tune = collusion[lie]
				}
				v := startVerifyGateway(t, tune, liars...)
				for _, l := range liars {
					setLie(t, l, lie)
				}
				rctx, rcancel := context.WithTimeout(ctx, 60*time.Second)
				defer rcancel()
				start := time.Now()
				stopWatch := v.watchPenalties()
				s := runMix(t, rctx, v, cat, honest, lieMethods[lie], perRun)
				peak := stopWatch()
				t.Logf("%s in %s", s, time.Since(start).Round(time.Millisecond))
				for _, w := range s.wrongSamples {
					t.Errorf("WRONG ANSWER reached a client: %s", w)
				}
				if s.failed > 0 {
					t.Errorf("%d calls got no JSON-RPC answer: %v", s.failed, s.transportErrors)
				}
				for _, e := range s.errorSamples {
					t.Logf("error: %s", e)
				}
				// Errors are allowed (never a lie), but with three honest
				// providers left they must stay rare, and say why.
				if n := sum(s.errors); n > s.calls/10 || n != s.errors[jsonrpc.CodeUnverified] {
					t.Errorf("errors %v in %d calls: want a few at most, all %d", s.errors, s.calls, jsonrpc.CodeUnverified)
				}
				totals.evidence += checkCaught(t, v, liars, peak)
				totals.calls += s.calls
				totals.correct += s.correct
				totals.errors += sum(s.errors)
				totals.wrong += s.wrong
			})
		}
	}
	t.Logf("total: %d calls, %d correct, %d JSON-RPC errors, %d wrong; %d lies caught", totals.calls, totals.correct, totals.errors, totals.wrong, totals.evidence)
}

// watchPenalties samples every provider's penalty in Status until the
// returned function is called, which returns the highest seen per provider
// (penalties fade within a second here: see liePenaltyHalfLife).
func (v *verifyGateway) watchPenalties() func() map[string]float64 {
	peak := map[string]float64{}
	sample := func() {
		for _, p := range v.g.Status().Chains[0].Providers {
			peak[p.Name] = max(peak[p.Name], p.Penalty)
		}
	}
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			sample()
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()
	return func() map[string]float64 {
		close(stop)
		<-done
		sample()
		return peak
	}
}

// checkCaught checks that every liar, and no one else, was penalised (peak
// is the highest penalty Status showed during the run) and blamed in the
// evidence, and that the metrics count what the evidence holds.
func checkCaught(t *testing.T, v *verifyGateway, liars []string, peak map[string]float64) int {
	t.Helper()
	st := v.g.Status().Chains[0]
	doc := v.evidence(t)
	blamed := map[string]int{}
	kinds := map[string]int{}
	for _, e := range doc.Evidence {
		blamed[e.Provider]++
		kinds[e.Kind]++
		if e.Kind == "" || e.Method == "" || e.Failure == "" {
			t.Errorf("incomplete evidence: %+v", e)
		}
	}
	penalty := map[string]string{}
	for _, p := range st.Providers {
		liar := slices.Contains(liars, p.Name)
		penalty[p.Name] = fmt.Sprintf("peak %.2f %v", peak[p.Name], p.Penalties)
		switch {
		case liar && (peak[p.Name] <= 0 || len(p.Penalties) == 0):
			t.Errorf("liar %s not penalised: peak penalty %.3f, penalties %v", p.Name, peak[p.Name], p.Penalties)
		case liar && blamed[p.Name] == 0:
			t.Errorf("liar %s: no evidence", p.Name)
		case !liar && (peak[p.Name] > 0 || len(p.Penalties) > 0 || blamed[p.Name] > 0):
			t.Errorf("honest %s blamed: peak penalty %.3f, penalties %v, %d evidence records", p.Name, peak[p.Name], p.Penalties, blamed[p.Name])
		}
	}
	// The health loop may record a head lie between the reads: the metric
	// read between two evidence reads lies between their totals.
	rejected := v.metricSum(t, "rpcmesh_verify_rejected_total")
	after := v.evidence(t).Total
	if rejected < float64(doc.Total) || rejected > float64(after) || doc.Total == 0 {
		t.Errorf("rpcmesh_verify_rejected_total %g, evidence total %d then %d", rejected, doc.Total, after)
	}
	t.Logf("evidence: %d records by provider %v, by kind %v; penalties %v", doc.Total, blamed, kinds, penalty)
	return int(doc.Total)
}
