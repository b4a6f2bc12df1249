package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
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
	return &verifyGateway{g: g, url: devnetgw.URL(g), admin: "http://" + g.AdminAddr(),
		client: &http.Client{Transport: tr, Timeout: 20 * time.Second}}
}

// setLie makes target lie about what and clears the fault when the test ends.
func setLie(t *testing.T, target string, what ...string) {
	t.Helper()
	params, _ := json.Marshal(map[string]any{"what": what})
	dn.Stage(t, devnet.FaultSpec{Target: target, Kind: devnet.FaultLie, Params: params})
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
