package usage_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/rpcmesh/rpcmesh/internal/config"
	"github.com/rpcmesh/rpcmesh/internal/devnet"
	"github.com/rpcmesh/rpcmesh/internal/devnetgw"
	"github.com/rpcmesh/rpcmesh/internal/server"
	"github.com/rpcmesh/rpcmesh/internal/store"
	"github.com/rpcmesh/rpcmesh/internal/usage"
)

// sender sends JSON-RPC through a gateway and counts the calls a provider
// answers (eth_chainId and eth_blockNumber are the gateway's own answers:
// not sent here) and their compute units by the default table.
type sender struct {
	t      *testing.T
	client *http.Client
	calls  uint64
	units  uint64
	costs  *usage.Costs
}

func (s *sender) post(url, body string) []json.RawMessage {
	s.t.Helper()
	resp, err := s.client.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var many []struct {
		Result json.RawMessage `json:"result"`
		Error  json.RawMessage `json:"error"`
	}
	if b[0] != '[' {
		b = []byte("[" + string(b) + "]")
	}
	if err := json.Unmarshal(b, &many); err != nil {
		s.t.Fatalf("HTTP %d: %s", resp.StatusCode, b)
	}
	out := make([]json.RawMessage, len(many))
	for i, r := range many {
		if r.Error != nil {
			s.t.Fatalf("call %d of %s: error %s", i, body, r.Error)
		}
		out[i] = r.Result
	}
	return out
}

// traffic sends n rounds of single calls and one batch through gw.
func (s *sender) traffic(gw *server.Gateway, accounts []devnet.Account, n int) {
	url := devnetgw.URL(gw)
	for i := range n {
		a := accounts[i%len(accounts)].Address
		for _, c := range []struct{ method, params string }{
			{"eth_getBalance", fmt.Sprintf(`[%q,"latest"]`, a)},
			{"eth_getTransactionCount", fmt.Sprintf(`[%q,"latest"]`, a)},
			{"eth_getCode", fmt.Sprintf(`[%q,"latest"]`, a)},
			{"eth_getBlockByNumber", `["latest",false]`},
			{"eth_gasPrice", `[]`},
		} {
			s.post(url, fmt.Sprintf(`{"jsonrpc":"2.0","id":1,"method":%q,"params":%s}`, c.method, c.params))
			s.calls++
			s.units += s.costs.Units(c.method)
		}
		var batch []string
		for j := range 4 {
			batch = append(batch, fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"eth_getBalance","params":[%q,"latest"]}`, j, accounts[j].Address))
		}
		s.post(url, "["+strings.Join(batch, ",")+"]")
		s.calls += 4
		s.units += 4 * s.costs.Units("eth_getBalance")
	}
}

// statementsOnAdmin polls the admin listener until it lists a statement
// (bounded by ctx) and returns them.
func statementsOnAdmin(ctx context.Context, t *testing.T, gw *server.Gateway) (signer string, sts []json.RawMessage) {
	t.Helper()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+gw.AdminAddr()+"/usage/statements?limit=50", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var body struct {
			Signer     string            `json:"signer"`
			Statements []json.RawMessage `json:"statements"`
		}
		err = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("/usage/statements: HTTP %d, %v", resp.StatusCode, err)
		}
		if len(body.Statements) > 0 {
			return body.Signer, body.Statements
		}
		select {
		case <-ctx.Done():
			t.Fatal("no usage statement on the admin listener before the deadline")
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// TestGatewayMetering sends counted calls through a real gateway in
// front of devnet nodes, restarts the gateway on the same store and sends
// more: every epoch's signed statements (served on the admin listener
// while it runs) add up to exactly the calls and compute units sent, with
// the embedded store and with PostgreSQL. With verification on, the
// answers verified correct are counted for the providers that gave them.
func TestGatewayMetering(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a devnet; skipped with -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	d, err := devnet.Start(ctx, devnet.Options{BlockTime: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	t.Run("embedded across a restart", func(t *testing.T) {
		st := meterAcrossRestart(ctx, t, d, false, "")
		st.totals(t, true)
	})
	t.Run("postgres across a restart", func(t *testing.T) {
		dsn := usage.TestPostgresDSN(t)
		st := meterAcrossRestart(ctx, t, d, false, dsn)
		st.totals(t, true)
	})
	t.Run("verified answers", func(t *testing.T) {
		st := meterAcrossRestart(ctx, t, d, true, "")
		verified, requests := st.totals(t, false)
		// Verified answers may come from caches (no provider served them),
		// and proofs send follow-ups (served too): no exact count, but
		// answers were verified, each for a provider that served it.
		if verified == 0 || requests == 0 {
			t.Fatalf("%d verified of %d served answers for %d calls sent; want some verified", verified, requests, st.sent.calls)
		}
	})
}

// metered is what one gateway test run left: the calls it sent and every
// statement of its store.
type metered struct {
	sent       *sender
	statements []*usage.Statement
}

// totals checks every statement's signature and proofs and sums their
// records; exact: requests and compute units must equal what was sent.
func (m *metered) totals(t *testing.T, exact bool) (verified, requests uint64) {
	t.Helper()
	var units uint64
	for _, st := range m.statements {
		for _, r := range st.Records {
			requests += r.Requests
			units += r.ComputeUnits
			verified += r.Verified
			if r.Verified > r.Requests {
				t.Errorf("%s: %d verified of %d served", r.Provider, r.Verified, r.Requests)
			}
		}
	}
	t.Logf("%d calls sent in two gateway runs; %d statements count %d served answers, %d verified", m.sent.calls, len(m.statements), requests, verified)
	if exact && (requests != m.sent.calls || units != m.sent.units) {
		t.Fatalf("statements count %d requests and %d compute units; the test sent %d calls of %d units", requests, units, m.sent.calls, m.sent.units)
	}
	return verified, requests
}

// meterAcrossRestart runs a metering gateway twice on one store (the
// embedded one, or PostgreSQL at dsn), sending calls each time, then
// states what the second run left (as its next start would) and returns
// every statement.
func meterAcrossRestart(ctx context.Context, t *testing.T, d *devnet.Devnet, verify bool, dsn string) *metered {
	dir := t.TempDir()
	gatewayConfig := func() *config.Config {
		cfg := devnetgw.Config(d.Info(), "127.0.0.1:0", "127.0.0.1:0")
		cfg.Broadcast.Store = filepath.Join(dir, "gateway.db")
		// Without verification each call is one answer routing hands back
		// (with it, proofs and quorum votes are answers too); hedging stays
		// on: a hedge loser's answer is not counted.
		cfg.Verify.Enabled = verify
		cfg.Usage.Enabled = true
		cfg.Usage.KeyFile = filepath.Join(dir, "usage.key")
		cfg.Usage.Epoch = config.Duration(2 * time.Second)
		cfg.Usage.FlushInterval = config.Duration(100 * time.Millisecond)
		if dsn != "" {
			cfg.Usage.Store, cfg.Usage.PostgresDSN = config.UsageStorePostgres, dsn
		}
		return cfg
	}
	s := &sender{t: t, client: &http.Client{Timeout: 10 * time.Second}, costs: usage.NewCosts(nil, 0)}
	accounts := d.Info().Accounts

	gw, err := devnetgw.Start(ctx, gatewayConfig(), devnetgw.SuiteLogger())
	if err != nil {
		t.Fatal(err)
	}
	s.traffic(gw, accounts, 30)
	signer, listed := statementsOnAdmin(ctx, t, gw) // an epoch of 2 s ends while it runs
	for _, b := range listed {
		st, err := usage.DecodeStatement(b)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.Verify(common.HexToAddress(signer)); err != nil {
			t.Fatalf("a statement served by the gateway does not verify: %v", err)
		}
	}
	devnetgw.Stop(gw)

	gw, err = devnetgw.Start(ctx, gatewayConfig(), devnetgw.SuiteLogger())
	if err != nil {
		t.Fatal(err)
	}
	s.traffic(gw, accounts, 30)
	devnetgw.Stop(gw)

	key, err := usage.LoadOrCreateKey(filepath.Join(dir, "usage.key"))
	if err != nil {
		t.Fatal(err)
	}
	if key.Address().Hex() != signer {
		t.Fatalf("the key file holds %s, the gateway signed as %s", key.Address().Hex(), signer)
	}
	var st usage.Store
	if dsn != "" {
		pg, err := usage.OpenPostgres(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer pg.Close()
		st = pg
	} else {
		db, err := store.Open(filepath.Join(dir, "gateway.db"))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		st = usage.NewEmbedded(db)
	}
	later := func() time.Time { return time.Now().Add(time.Hour) }
	m, err := usage.New(usage.Options{Store: st, Signer: key, Epoch: 2 * time.Second, Now: later})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.CloseEpochs(ctx); err != nil {
		t.Fatal(err)
	}
	all, err := st.Statements(ctx, "", 1_000_000)
	if err != nil {
		t.Fatal(err)
	}
	out := &metered{sent: s}
	for _, b := range all {
		sm, err := usage.DecodeStatement(b)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := sm.Verify(key.Address()); err != nil {
			t.Fatal(err)
		}
		out.statements = append(out.statements, sm)
	}
	return out
}
