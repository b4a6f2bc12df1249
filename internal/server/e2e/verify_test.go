package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"

	"github.com/rpcmesh/rpcmesh/internal/config"
	"github.com/rpcmesh/rpcmesh/internal/devnet"
	"github.com/rpcmesh/rpcmesh/internal/devnetgw"
	"github.com/rpcmesh/rpcmesh/internal/jsonrpc"
	"github.com/rpcmesh/rpcmesh/internal/server"
)

// The verification stage seen from a client: lies told by one or two of
// the five providers never reach the client, the liars are penalised and
// their answers kept as evidence; with every provider lying, proven
// methods fail with -32012; the response header and the metrics say how
// each answer was established.

// liePenaltyHalfLife lets a liar's penalty fade fast, so that routing goes
// back to the favoured liar again and again within one short run (with the
// default ten minutes it would be avoided after its first lie).
const liePenaltyHalfLife = 100 * time.Millisecond

// The activity (a contract with code, storage and logs, transfers,
// receipts) the verification tests read, made once.
var (
	actOnce sync.Once
	actVal  *devnet.Activity
	actErr  error
)

func sharedActivity(t *testing.T) *devnet.Activity {
	t.Helper()
	actOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		actVal, actErr = dn.MakeActivity(ctx)
	})
	if actErr != nil {
		t.Fatalf("devnet activity: %v", actErr)
	}
	return actVal
}

// maxLogBlocks is the longest log range the test gateways prove; longer
// ones (most of the catalogue's) are settled by quorum.
const maxLogBlocks = 4

// verifyGateway is a gateway of the test's own in front of the shared
// devnet: penalties and evidence do not leak between tests.
type verifyGateway struct {
	g      *server.Gateway
	url    string
	admin  string
	client *http.Client
}

// startVerifyGateway starts a verifyGateway, closed when the test ends:
// every provider in one tier, the favourites weighted 100 so routing
// prefers them, plain reads checked beside their proofs; tune (may be nil)
// changes the config further.
func startVerifyGateway(t *testing.T, tune func(*config.Config), favourites ...string) *verifyGateway {
	t.Helper()
	start := time.Now()
	cfg := gatewayConfig(dn.Info())
	cfg.Verify.CheckPlain = true // a lie in eth_getBalance beside an honest proof is caught too
	cfg.Verify.MaxLogBlocks = maxLogBlocks
	cfg.Health.PenaltyHalfLife = config.Duration(liePenaltyHalfLife)
	for i := range cfg.Chains[0].Providers {
		p := &cfg.Chains[0].Providers[i]
		p.Labels.Tier = config.TierOwn
		if slices.Contains(favourites, p.Name) {
			p.Weight = 100
		}
	}
	if tune != nil {
		tune(cfg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	g, err := devnetgw.Start(ctx, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Logf("gateway took %s to be ready", d)
	}
	tr := &http.Transport{MaxIdleConnsPerHost: 8}
	t.Cleanup(func() {
		start := time.Now()
		// Idle client connections first: the server's Shutdown waits up to
		// 5 s for a connection the client opened but never used.
		tr.CloseIdleConnections()
		devnetgw.Stop(g)
		if d := time.Since(start); d > time.Second {
			t.Logf("gateway took %s to stop", d)
		}
	})
	return &verifyGateway{g: g, url: "http://" + g.HTTPAddr() + "/devnet", admin: "http://" + g.AdminAddr(),
		client: &http.Client{Transport: tr, Timeout: 20 * time.Second}}
}

// setLie makes target lie about what and clears the fault when the test ends.
func setLie(t *testing.T, target string, what ...string) {
	t.Helper()
	params, _ := json.Marshal(map[string]any{"what": what})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	f, err := dn.SetFault(ctx, devnet.FaultSpec{Target: target, Kind: devnet.FaultLie, Params: params})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = dn.ClearFault(f.ID) })
}

// rpcCall is one JSON-RPC call.
type rpcCall struct {
	Method string
	Params json.RawMessage
	// Truth, when set, are the params to ask the honest node instead (a
	// block number for "latest").
	Truth json.RawMessage
}

func (c rpcCall) String() string { return c.Method + " " + string(c.Params) }

// truthCall is the call whose honest answer c's answer must equal.
func (c rpcCall) truthCall() rpcCall {
	if c.Truth == nil {
		return c
	}
	return rpcCall{Method: c.Method, Params: c.Truth}
}

// rpcAnswer is one JSON-RPC response: a result or an error.
type rpcAnswer struct {
	ID     int             `json:"id"`
	Result json.RawMessage `json:"result"`
	Error  *jsonrpc.Error  `json:"error"`
}

// send posts calls to url (as a batch when batch is set) and returns the
// answers in call order and the response header.
func send(ctx context.Context, client *http.Client, url string, calls []rpcCall, batch bool) ([]rpcAnswer, http.Header, error) {
	type envelope struct {
		JSONRPC string          `json:"jsonrpc"`
		ID      int             `json:"id"`
		Method  string          `json:"method"`
		Params  json.RawMessage `json:"params"`
	}
	envs := make([]envelope, len(calls))
	for i, c := range calls {
		envs[i] = envelope{"2.0", i, c.Method, c.Params}
	}
	var body []byte
	if batch {
		body, _ = json.Marshal(envs)
	} else {
		body, _ = json.Marshal(envs[0])
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, nil, err
	}
	var answers []rpcAnswer
	if batch {
		err = json.Unmarshal(b, &answers)
	} else {
		answers = make([]rpcAnswer, 1)
		err = json.Unmarshal(b, &answers[0])
	}
	if err != nil {
		return nil, nil, fmt.Errorf("HTTP %d: %.300s", resp.StatusCode, b)
	}
	out := make([]rpcAnswer, len(calls))
	seen := make([]bool, len(calls))
	for _, a := range answers {
		if a.ID < 0 || a.ID >= len(calls) || seen[a.ID] {
			return nil, nil, fmt.Errorf("answer with unexpected id %d: %.300s", a.ID, b)
		}
		out[a.ID], seen[a.ID] = a, true
	}
	for i, ok := range seen {
		if !ok {
			return nil, nil, fmt.Errorf("no answer for call %d (%s): %.300s", i, calls[i], b)
		}
	}
	return out, resp.Header, nil
}

// truth asks the honest node itself (no fault proxy) and remembers its
// answers: every call the tests compare is pinned to a block.
type truth struct {
	url    string
	client *http.Client
	mu     sync.Mutex
	cache  map[string]json.RawMessage
}

func newTruth(t *testing.T, node string) *truth {
	t.Helper()
	u, ok := dn.DirectURL(node)
	if !ok {
		t.Fatalf("no node %s", node)
	}
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return &truth{url: u, client: &http.Client{Transport: tr, Timeout: 10 * time.Second}, cache: map[string]json.RawMessage{}}
}

func (tr *truth) get(ctx context.Context, c rpcCall) (json.RawMessage, error) {
	key := c.String()
	tr.mu.Lock()
	v, ok := tr.cache[key]
	tr.mu.Unlock()
	if ok {
		return v, nil
	}
	a, _, err := send(ctx, tr.client, tr.url, []rpcCall{c}, false)
	if err != nil {
		return nil, err
	}
	if a[0].Error != nil {
		return nil, fmt.Errorf("%s: honest node: %v", c, a[0].Error)
	}
	tr.mu.Lock()
	tr.cache[key] = a[0].Result
	tr.mu.Unlock()
	return a[0].Result, nil
}

// sameJSON compares JSON values ignoring key order and hex case.
func sameJSON(a, b json.RawMessage) bool { return canonicalJSON(a) == canonicalJSON(b) }

func canonicalJSON(raw json.RawMessage) string {
	var v any
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	if err := d.Decode(&v); err != nil {
		return string(raw)
	}
	b, _ := json.Marshal(v)
	return strings.ToLower(string(b))
}

// catalogue builds calls about the activity: every method at several
// blocks (before the activity, each of its blocks, after it), on accounts
// holding code and storage, balances and nonces, or nothing.
type catalogue struct {
	act    *devnet.Activity
	blocks []uint64
	hashes map[uint64]common.Hash // honest block hashes
}

func newCatalogue(t *testing.T, ctx context.Context, act *devnet.Activity, honest *truth) *catalogue {
	t.Helper()
	c := &catalogue{act: act, hashes: map[uint64]common.Hash{}}
	c.blocks = append(c.blocks, act.Blocks[0]-1)
	c.blocks = append(c.blocks, act.Blocks...)
	c.blocks = append(c.blocks, act.Blocks[len(act.Blocks)-1]+1)
	for _, n := range c.blocks {
		raw, err := honest.get(ctx, rpcCall{Method: "eth_getBlockByNumber", Params: params(hexutil.EncodeUint64(n), false)})
		if err != nil {
			t.Fatal(err)
		}
		var b struct{ Hash common.Hash }
		if err := json.Unmarshal(raw, &b); err != nil || b.Hash == (common.Hash{}) {
			t.Fatalf("block %d: %s %v", n, raw, err)
		}
		c.hashes[n] = b.Hash
	}
	return c
}

func params(ps ...any) json.RawMessage {
	b, err := json.Marshal(ps)
	if err != nil {
		panic(err)
	}
	return b
}

// call is the i-th call of method: i walks the blocks (for state reads and
// logs also "latest": nothing the activity touched changes after it), then
// the accounts, transactions, slots or shapes.
func (c *catalogue) call(method string, i int) rpcCall {
	nb := len(c.blocks)
	if latestToo(method) {
		nb++
	}
	round := i / nb
	n := c.blocks[min(i%nb, len(c.blocks)-1)]
	block, truthBlock := hexutil.EncodeUint64(n), hexutil.EncodeUint64(n)
	if i%nb == len(c.blocks) {
		block = "latest"
	}
	acct := c.act.Accounts()[round%len(c.act.Accounts())]
	tx := c.act.Txs[i%len(c.act.Txs)]
	both := func(ps func(block string) json.RawMessage) rpcCall {
		return rpcCall{Method: method, Params: ps(block), Truth: ps(truthBlock)}
	}
	switch method {
	case "eth_getBalance", "eth_getTransactionCount", "eth_getCode":
		return both(func(b string) json.RawMessage { return params(acct, b) })
	case "eth_getStorageAt":
		slot := hexutil.EncodeUint64(uint64(round % 2))
		return both(func(b string) json.RawMessage { return params(c.act.Contract, slot, b) })
	case "eth_getProof":
		if round%2 == 0 {
			return rpcCall{Method: method, Params: params(c.act.Contract, []string{"0x0", "0x1"}, block)}
		}
		return rpcCall{Method: method, Params: params(acct, []string{}, block)}
	case "eth_getBlockByNumber":
		return rpcCall{Method: method, Params: params(block, round%2 == 0)}
	case "eth_getBlockByHash":
		return rpcCall{Method: method, Params: params(c.hashes[n], round%2 == 0)}
	case "eth_getBlockReceipts":
		return rpcCall{Method: method, Params: params(block)}
	case "eth_getTransactionReceipt", "eth_getTransactionByHash":
		return rpcCall{Method: method, Params: params(tx)}
	case "eth_getLogs":
		// From before the activity to the block: ranges of one to a dozen
		// blocks, proven or (beyond maxLogBlocks) settled by quorum; or
		// one block by topic.
		from := hexutil.EncodeUint64(c.blocks[0])
		if round%2 == 1 {
			from = block
		}
		return both(func(b string) json.RawMessage {
			if round%2 == 1 {
				return params(map[string]any{"fromBlock": b, "toBlock": b, "topics": []common.Hash{devnet.LogTopic}})
			}
			return params(map[string]any{"fromBlock": from, "toBlock": b, "address": c.act.Contract})
		})
	case "eth_blockNumber":
		return rpcCall{Method: method, Params: params()}
	}
	panic("no calls for " + method)
}

// latestToo names the methods whose calls include "latest": their answers
// about the activity stay the same after it.
func latestToo(method string) bool {
	switch method {
	case "eth_getBalance", "eth_getTransactionCount", "eth_getCode", "eth_getStorageAt", "eth_getLogs":
		return true
	}
	return false
}

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

// evidenceDoc is GET /verify/evidence.
type evidenceDoc struct {
	Total    uint64 `json:"total"`
	Kept     int    `json:"kept"`
	Evidence []struct {
		Provider string `json:"provider"`
		Operator string `json:"operator"`
		Method   string `json:"method"`
		Kind     string `json:"kind"`
		Answer   string `json:"answer"`
		Failure  string `json:"failure"`
	} `json:"evidence"`
}

func (v *verifyGateway) evidence(t *testing.T) evidenceDoc {
	t.Helper()
	var doc evidenceDoc
	v.adminGet(t, "/verify/evidence?limit=100000", &doc)
	return doc
}

// adminGet reads a JSON (into out) or text document from the admin listener.
func (v *verifyGateway) adminGet(t *testing.T, path string, out any) string {
	t.Helper()
	resp, err := v.client.Get(v.admin + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: HTTP %d %v: %.300s", path, resp.StatusCode, err, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("GET %s: %v: %.300s", path, err, b)
		}
	}
	return string(b)
}

// metricSum adds up the samples of a metric whose labels contain every
// one of labels (e.g. `class="proof"`).
func (v *verifyGateway) metricSum(t *testing.T, name string, labels ...string) float64 {
	t.Helper()
	var total float64
	for _, line := range strings.Split(v.adminGet(t, "/metrics", nil), "\n") {
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		ok := true
		for _, l := range labels {
			ok = ok && strings.Contains(line, l)
		}
		if !ok {
			continue
		}
		var x float64
		if _, err := fmt.Sscanf(line[strings.LastIndex(line, " ")+1:], "%g", &x); err == nil {
			total += x
		}
	}
	return total
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
