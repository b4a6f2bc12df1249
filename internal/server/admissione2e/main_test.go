// Package admissione2e tests provider admission against a real devnet:
// a probation provider's share and verification, demotion of a liar,
// promotion, and providers added and removed through the admin API while
// clients call (docs/admission.md).
package admissione2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/config"
	"github.com/rpcmesh/rpcmesh/internal/devnet"
	"github.com/rpcmesh/rpcmesh/internal/devnetgw"
	"github.com/rpcmesh/rpcmesh/internal/server"
	"github.com/rpcmesh/rpcmesh/internal/testwait"
)

// dn is the package's devnet (five nodes: node1 own, node2 and node3
// partner, node4 community, node5 public; each its own operator).
var dn *devnet.Devnet

func TestMain(m *testing.M) {
	devnet.Main(m, "admission e2e", devnet.Options{}, func(d *devnet.Devnet) { dn = d })
}

// gateway is one test's gateway: its public and admin URLs.
type gateway struct {
	gw    *server.Gateway
	url   string // the chain's JSON-RPC URL
	admin string // the admin listener's base URL
}

// startGateway runs a gateway in front of node1–node3 (admitted) with
// edit applied to its config, until the test ends.
func startGateway(t *testing.T, edit func(cfg *config.Config)) *gateway {
	t.Helper()
	cfg := devnetgw.Config(dn.Info(), "127.0.0.1:0", "127.0.0.1:0")
	ch := &cfg.Chains[0]
	ch.Providers = ch.Providers[:3]
	ch.HeadAgreement = 2
	cfg.Routing.Hedge = false // every answer a provider gives is one a client's call used
	cfg.Routing.ShareWindow = config.Duration(10 * time.Minute)
	cfg.Admission.CheckInterval = config.Duration(50 * time.Millisecond)
	if edit != nil {
		edit(cfg)
	}
	cfg.Complete()
	gw := devnetgw.StartForTest(testwait.Context(t, 60*time.Second), t, cfg)
	return &gateway{gw: gw, url: devnetgw.URL(gw), admin: "http://" + gw.AdminAddr()}
}

// nodeEntry is a provider entry for devnet node name whose URL is url.
func nodeEntry(t *testing.T, name, url, stage string) config.Provider {
	t.Helper()
	n := dn.MustNode(t, name)
	p := config.DefaultProvider()
	p.Name, p.HTTP, p.Stage = name, url, stage
	p.Labels = config.Labels{Operator: n.Labels.Operator, Cloud: n.Labels.Cloud, Region: n.Labels.Region, Tier: n.Labels.Tier}
	return p
}

// counter is a proxy in front of a devnet node that counts, per method,
// the calls the node answered with a result: what the provider gave.
type counter struct {
	srv      *httptest.Server
	inflight atomic.Int64 // requests being forwarded
	mu       sync.Mutex
	res      map[string]int
}

// countingProxy starts a counter in front of the devnet node name; its
// URL carries a path standing for an API key, which must never show.
func countingProxy(t *testing.T, name string) *counter {
	t.Helper()
	n := dn.MustNode(t, name)
	c := &counter{res: map[string]int{}}
	client := &http.Client{Timeout: 10 * time.Second}
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.inflight.Add(1)
		defer c.inflight.Add(-1)
		body, _ := io.ReadAll(r.Body)
		resp, err := client.Post(n.HTTP, "application/json", bytes.NewReader(body))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		c.count(body, out)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(resp.StatusCode)
		_, _ = w.Write(out)
	}))
	t.Cleanup(c.srv.Close)
	return c
}

// URL is the proxy's URL, with a secret-looking path.
func (c *counter) URL() string { return c.srv.URL + "/v3/SECRETKEY0123" }

type rpcMsg struct {
	ID     json.RawMessage `json:"id"`
	Method string          `json:"method"`
	Result json.RawMessage `json:"result"`
	Error  json.RawMessage `json:"error"`
}

// count counts the calls of req that resp answered with a result.
func (c *counter) count(req, resp []byte) {
	var calls, answers []rpcMsg
	if json.Unmarshal(req, &calls) != nil {
		var one rpcMsg
		_ = json.Unmarshal(req, &one)
		calls = []rpcMsg{one}
	}
	if json.Unmarshal(resp, &answers) != nil {
		var one rpcMsg
		_ = json.Unmarshal(resp, &one)
		answers = []rpcMsg{one}
	}
	method := map[string]string{}
	for _, m := range calls {
		method[string(m.ID)] = m.Method
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, a := range answers {
		if a.Error == nil && len(a.Result) > 0 {
			c.res[method[string(a.ID)]]++
		}
	}
}

// answered is how many calls of method the node answered with a result.
func (c *counter) answered(method string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.res[method]
}

// total is how many calls of any method the node answered.
func (c *counter) total() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, v := range c.res {
		n += v
	}
	return n
}

var client = &http.Client{Timeout: 20 * time.Second}

// call sends one JSON-RPC call and returns its result and the
// X-Rpcmesh-Verified header; a JSON-RPC error is an error.
func (g *gateway) call(ctx context.Context, method, params string) (json.RawMessage, string, error) {
	a, err := devnetgw.CallResult(ctx, client, g.url, method, params)
	if err != nil {
		return nil, "", err
	}
	return a.Result, a.Header.Get(server.VerifiedHeader), nil
}

// balanceOfNew asks the balance of a fresh random address at the latest
// block: a state read proven by eth_getProof, never answered from a cache.
func (g *gateway) balanceOfNew(ctx context.Context) (string, error) {
	var a [20]byte
	_, _ = rand.Read(a[:])
	_, verified, err := g.call(ctx, "eth_getBalance", fmt.Sprintf(`["0x%s","latest"]`, hex.EncodeToString(a[:])))
	return verified, err
}

// adminDo sends an admin request with token (none when empty) and
// returns the status and body.
func (g *gateway) adminDo(t *testing.T, method, path, token, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, g.admin+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// providersDoc is GET /providers.
type providersDoc struct {
	Chains []struct {
		Providers []struct {
			Name            string  `json:"name"`
			HTTP            string  `json:"http"`
			Stage           string  `json:"stage"`
			VerifiedAnswers uint64  `json:"verifiedAnswers"`
			Share           float64 `json:"probationShare"`
		} `json:"providers"`
		Transitions []struct {
			Provider string    `json:"provider"`
			Time     time.Time `json:"time"`
			From, To string
			Reason   string `json:"reason"`
			Evidence []struct {
				ID       uint64 `json:"id"`
				Provider string `json:"provider"`
				Method   string `json:"method"`
			} `json:"evidence"`
		} `json:"transitions"`
	} `json:"chains"`
}

// providers reads GET /providers.
func (g *gateway) providers(t *testing.T) (providersDoc, string) {
	t.Helper()
	status, body := g.adminDo(t, http.MethodGet, "/providers", "", "")
	if status != http.StatusOK {
		t.Fatalf("GET /providers: %d %s", status, body)
	}
	var doc providersDoc
	if err := json.Unmarshal([]byte(body), &doc); err != nil || len(doc.Chains) != 1 {
		t.Fatalf("GET /providers: %v: %s", err, body)
	}
	return doc, body
}

// stage is the stage GET /providers gives the provider ("" when absent).
func (g *gateway) stage(t *testing.T, name string) string {
	doc, _ := g.providers(t)
	for _, p := range doc.Chains[0].Providers {
		if p.Name == name {
			return p.Stage
		}
	}
	return ""
}
