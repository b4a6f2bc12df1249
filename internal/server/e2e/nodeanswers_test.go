package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/config"
	"github.com/rpcmesh/rpcmesh/internal/ethmethod"
)

// nodeAnswer is one JSON-RPC answer: its result or its error.
type nodeAnswer struct {
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// code is the answer's error code (0: a result).
func (a nodeAnswer) code() int {
	if a.Error == nil {
		return 0
	}
	return a.Error.Code
}

func (a nodeAnswer) String() string {
	if a.Error == nil {
		return "result " + string(a.Result)
	}
	return fmt.Sprintf("error %d %q", a.Error.Code, a.Error.Message)
}

// ask sends one call with raw params to url.
func ask(t *testing.T, url, method, params string) nodeAnswer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	body := fmt.Sprintf(`{"jsonrpc":"2.0","id":1,"method":%q,"params":%s}`, method, params)
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, params, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var a nodeAnswer
	if err := json.Unmarshal(b, &a); err != nil {
		t.Fatalf("%s %s: HTTP %d: %s", method, params, resp.StatusCode, b)
	}
	return a
}

// nodeURL is the devnet node the tests ask directly.
func nodeURL() string { return dn.Info().Nodes[0].HTTP }

// nodeGateway starts a gateway in front of that node alone, marked as
// serving debug_ as it does, and waits until its agreed head is at least
// block 3; it returns the gateway's URL and its head.
func nodeGateway(t *testing.T) (string, uint64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, _, gwURL := startOneNodeGateway(t, ctx, dn.Info().Nodes[0].Name, func(_ *config.Config, p *config.Provider) { p.Debug = true })
	for {
		a := ask(t, gwURL, "eth_blockNumber", "[]")
		var s string
		var n uint64
		if json.Unmarshal(a.Result, &s) == nil {
			fmt.Sscanf(s, "0x%x", &n)
		}
		if n >= 3 {
			return gwURL, n
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the gateway's head is not at block 3 within 30s: %v", a)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// TestArgumentCountsAsNode checks ethmethod's table of arities against a
// go-ethereum node: for every method the gateway knows, no params, too
// many null params and too many hex params are answered through the
// gateway as the node answers them directly (the same code; the same
// message where the node has not looked at a param's value yet).
func TestArgumentCountsAsNode(t *testing.T) {
	url, _ := nodeGateway(t)
	methods := ethmethod.Methods()
	sort.Strings(methods)
	for _, m := range methods {
		info := ethmethod.Lookup(m)
		if info.Kind == ethmethod.Refused {
			continue // the gateway does not serve it (-32601): docs/compatibility
		}
		nulls := "[" + strings.TrimSuffix(strings.Repeat("null,", info.Args.Max+1), ",") + "]"
		hexes := "[" + strings.TrimSuffix(strings.Repeat(`"0x0",`, info.Args.Max+1), ",") + "]"
		for _, probe := range []struct {
			params    string
			sameWords bool
		}{{"[]", true}, {nulls, true}, {hexes, false}} {
			node := ask(t, nodeURL(), m, probe.params)
			if node.code() != -32602 {
				if info.Args.Min == 0 && probe.params == "[]" {
					continue // a valid call: answered, not checked here
				}
				t.Errorf("%s %s: the node answers %v, not -32602: the table is wrong", m, probe.params, node)
				continue
			}
			gw := ask(t, url, m, probe.params)
			if gw.code() != node.code() || probe.sameWords && gw.Error.Message != node.Error.Message {
				t.Errorf("%s %s: gateway %v, node %v", m, probe.params, gw, node)
			}
		}
	}
}

// TestBlockParamFormsAsNode sends every block parameter form the spec
// allows (number, each tag, a bare block hash, EIP-1898 objects) and forms
// a node refuses, through the gateway and to a node: the gateway answers
// each as the node does (the same error code, the same result for a block
// both have).
func TestBlockParamFormsAsNode(t *testing.T) {
	url, head := nodeGateway(t)
	account := dn.Info().Accounts[0].Address
	n := head - 2 // a block the node and the agreed head have
	block := ask(t, nodeURL(), "eth_getBlockByNumber", fmt.Sprintf(`["0x%x",false]`, n))
	var b struct{ Hash string }
	if err := json.Unmarshal(block.Result, &b); err != nil || b.Hash == "" {
		t.Fatalf("block %d: %v", n, block)
	}
	unknown := "0x" + strings.Repeat("ab", 32)
	// Differences left to the verification stage's handling of absence and
	// of "pending" (issue 14, items 2 and 6): logged, not failed, here.
	const (
		absent  = "absence: the verification stage answers -32012 where the node answers -32000"
		pending = "pending: one operator cannot make a quorum, and the pending block cannot be proven"
	)
	tests := []struct {
		method, params string
		sameResult     bool
		knownDiff      string
	}{
		{"eth_getBalance", fmt.Sprintf(`[%q,"0x%x"]`, account, n), true, ""},
		{"eth_getBalance", fmt.Sprintf(`[%q,%q]`, account, b.Hash), true, ""},
		{"eth_getBalance", fmt.Sprintf(`[%q,{"blockHash":%q}]`, account, b.Hash), true, ""},
		{"eth_getBalance", fmt.Sprintf(`[%q,{"blockHash":%q,"requireCanonical":true}]`, account, b.Hash), true, ""},
		{"eth_getBalance", fmt.Sprintf(`[%q,{"blockNumber":"0x%x"}]`, account, n), true, ""},
		{"eth_getBalance", fmt.Sprintf(`[%q,"earliest"]`, account), true, ""},
		{"eth_getBalance", fmt.Sprintf(`[%q,"latest"]`, account), false, ""},
		{"eth_getBalance", fmt.Sprintf(`[%q,"safe"]`, account), false, ""},
		{"eth_getBalance", fmt.Sprintf(`[%q,"finalized"]`, account), false, ""},
		{"eth_getBalance", fmt.Sprintf(`[%q,"pending"]`, account), false, pending},
		{"eth_getBalance", fmt.Sprintf(`[%q,{"blockNumber":"latest"}]`, account), false, ""},
		{"eth_getBalance", fmt.Sprintf(`[%q]`, account), false, ""},
		{"eth_getBalance", fmt.Sprintf(`[%q,null]`, account), false, ""},
		{"eth_getTransactionCount", fmt.Sprintf(`[%q,%q]`, account, b.Hash), true, ""},
		{"eth_getCode", fmt.Sprintf(`[%q,{"blockHash":%q}]`, account, b.Hash), true, ""},
		{"eth_getStorageAt", fmt.Sprintf(`[%q,"0x0",%q]`, account, b.Hash), true, ""},
		{"eth_call", fmt.Sprintf(`[{"to":%q},%q]`, account, b.Hash), true, ""},
		{"eth_getBlockReceipts", fmt.Sprintf(`[%q]`, b.Hash), true, ""},
		{"eth_getBlockReceipts", fmt.Sprintf(`[{"blockHash":%q}]`, b.Hash), true, ""},
		// Forms a node refuses.
		{"eth_getBalance", fmt.Sprintf(`[%q,{"blockHash":%q,"blockNumber":"0x1"}]`, account, b.Hash), true, ""},
		{"eth_getBalance", fmt.Sprintf(`[%q,{}]`, account), true, ""},
		{"eth_getBalance", fmt.Sprintf(`[%q,"0x01"]`, account), true, ""},
		{"eth_getBalance", fmt.Sprintf(`[%q,"tomorrow"]`, account), true, ""},
		{"eth_getBalance", fmt.Sprintf(`[%q,"0xab"]`, account), true, absent}, // above the head
		{"eth_getBalance", fmt.Sprintf(`[%q,{"blockHash":"0xab"}]`, account), true, ""},
		{"eth_getBlockByNumber", fmt.Sprintf(`[%q,false]`, b.Hash), true, ""},
		{"eth_getBlockByNumber", fmt.Sprintf(`[{"blockNumber":"0x%x"},false]`, n), true, ""},
		{"eth_getBlockByNumber", `["0x8000000000000000",false]`, true, ""},
		// A hash no node knows.
		{"eth_getBalance", fmt.Sprintf(`[%q,%q]`, account, unknown), true, absent},
		{"eth_getBalance", fmt.Sprintf(`[%q,{"blockHash":%q,"requireCanonical":true}]`, account, unknown), true, absent},
	}
	for _, tt := range tests {
		node := ask(t, nodeURL(), tt.method, tt.params)
		gw := ask(t, url, tt.method, tt.params)
		if gw.code() != node.code() || tt.sameResult && node.code() == 0 && string(gw.Result) != string(node.Result) {
			if tt.knownDiff != "" {
				t.Logf("known difference (%s): %s %s: gateway %v, node %v", tt.knownDiff, tt.method, tt.params, gw, node)
				continue
			}
			t.Errorf("%s %s: gateway %v, node %v", tt.method, tt.params, gw, node)
		}
	}
}

// TestLogsRangePastHeadAsNode asks eth_getLogs for a range past the head:
// a node refuses it (-32602 "block range extends beyond current head
// block"), and so does the gateway (against its agreed head) instead of
// cutting the range at the head, which made an indexer skip blocks.
func TestLogsRangePastHeadAsNode(t *testing.T) {
	url, n := nodeGateway(t)
	for _, params := range []string{
		fmt.Sprintf(`[{"fromBlock":"0x%x","toBlock":"0x%x"}]`, n-1, n+1000),
		fmt.Sprintf(`[{"fromBlock":"0x%x"}]`, n+1000),
		fmt.Sprintf(`[{"fromBlock":"0x%x","toBlock":"0x%x"}]`, n, n-1),
		`[{"fromBlock":"pending"}]`,
	} {
		node := ask(t, nodeURL(), "eth_getLogs", params)
		gw := ask(t, url, "eth_getLogs", params)
		if node.code() != -32602 || gw.code() != node.code() || gw.Error.Message != node.Error.Message {
			t.Errorf("eth_getLogs %s: gateway %v, node %v", params, gw, node)
		}
	}
}
