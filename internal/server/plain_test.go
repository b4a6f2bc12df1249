package server

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/rpcmesh/rpcmesh/internal/config"
)

// goInternals are words that show a client Go's internals instead of
// saying what was wrong with the request.
var goInternals = []string{"go value", "go struct", "strconv.", "json:", "unmarshal", "rlp:", "hexutil", "common.",
	"types.", "json.rawmessage", "reflect", "big.int", "*errors."}

// unstartedGateway is a gateway whose provider was never started, so that
// every call that passes the gateway's own checks fails fast.
func unstartedGateway(t testing.TB, verify bool) *Gateway {
	cfg := config.Default()
	ch := config.DefaultChain()
	ch.Name, ch.ChainID = "dev", 1337
	p := config.DefaultProvider()
	p.Name, p.HTTP = "a", "http://127.0.0.1:1"
	ch.Providers = []config.Provider{p}
	cfg.Chains = []config.Chain{ch}
	cfg.Limits.MaxBatchItems = 20
	cfg.Limits.MaxBodyBytes = 1 << 14
	cfg.Verify.Enabled = verify
	cfg.Complete()
	gw, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	return gw
}

// plainMessages checks that no error message of an answer (one response
// or a batch) shows Go internals; it returns the messages.
func plainMessages(t testing.TB, body []byte, request string) []string {
	t.Helper()
	var many []json.RawMessage
	if json.Unmarshal(body, &many) != nil {
		many = []json.RawMessage{body}
	}
	var msgs []string
	for _, one := range many {
		var r struct {
			Error *struct {
				Message string          `json:"message"`
				Data    json.RawMessage `json:"data"`
			} `json:"error"`
		}
		if json.Unmarshal(one, &r) != nil || r.Error == nil {
			continue
		}
		msgs = append(msgs, r.Error.Message)
		text := strings.ToLower(r.Error.Message + " " + string(r.Error.Data))
		for _, bad := range goInternals {
			if strings.Contains(text, bad) {
				t.Errorf("answer to %s: %q shows Go internals (%q)", request, r.Error.Message, bad)
			}
		}
	}
	return msgs
}

// TestClientErrorsInPlainWords sends requests wrong in every way a client
// gets wrong, through the gateway with and without verification: each is
// answered with an error in plain words.
func TestClientErrorsInPlainWords(t *testing.T) {
	const addr = `"0x00000000000000000000000000000000000000aa"`
	bodies := []string{
		`{"jsonrpc":"2.0","id":1,"method":"eth_getBalance","params":{"a":1}}`,
		`{"jsonrpc":"2.0","id":1,"method":"rpcmesh_anything","params":{"a":1}}`,
		`{"jsonrpc":"2.0","id":1,"method":"eth_getBalance","params":["0xzz","latest"]}`,
		`{"jsonrpc":"2.0","id":1,"method":"eth_getBalance","params":[123,"latest"]}`,
		`{"jsonrpc":"2.0","id":1,"method":"eth_getBalance","params":[` + addr + `,"0xzz"]}`,
		`{"jsonrpc":"2.0","id":1,"method":"eth_getBalance","params":[` + addr + `,"0x1ffffffffffffffffff"]}`,
		`{"jsonrpc":"2.0","id":1,"method":"eth_getBalance","params":[` + addr + `,{"blockHash":123}]}`,
		`{"jsonrpc":"2.0","id":1,"method":"eth_getBalance","params":[` + addr + `,{"blockHash":"0xab","requireCanonical":"yes"}]}`,
		`{"jsonrpc":"2.0","id":1,"method":"eth_getBalance","params":[` + addr + `,"latest",1]}`,
		`{"jsonrpc":"2.0","id":1,"method":"eth_getStorageAt","params":[` + addr + `,5,"0x1"]}`,
		`{"jsonrpc":"2.0","id":1,"method":"eth_getProof","params":[` + addr + `,"0x1","0x1"]}`,
		`{"jsonrpc":"2.0","id":1,"method":"eth_getProof","params":[` + addr + `,["0xzz"],"0x1"]}`,
		`{"jsonrpc":"2.0","id":1,"method":"eth_getLogs","params":[{"fromBlock":5}]}`,
		`{"jsonrpc":"2.0","id":1,"method":"eth_getLogs","params":[{"fromBlock":"0xzz"}]}`,
		`{"jsonrpc":"2.0","id":1,"method":"eth_getLogs","params":["x"]}`,
		`{"jsonrpc":"2.0","id":1,"method":"eth_getLogs","params":[{"blockHash":7}]}`,
		`{"jsonrpc":"2.0","id":1,"method":"eth_getBlockByNumber","params":["0x1","yes"]}`,
		`{"jsonrpc":"2.0","id":1,"method":"eth_getBlockByNumber","params":[{},false]}`,
		`{"jsonrpc":"2.0","id":1,"method":"eth_getBlockByHash","params":[5,false]}`,
		`{"jsonrpc":"2.0","id":1,"method":"eth_getTransactionByHash","params":[5]}`,
		`{"jsonrpc":"2.0","id":1,"method":"eth_getTransactionByHash","params":["0xab"]}`,
		`{"jsonrpc":"2.0","id":1,"method":"eth_getBlockByHash","params":["0xab",false]}`,
		`{"jsonrpc":"2.0","id":1,"method":"eth_getTransactionReceipt","params":["0xab"]}`,
		`{"jsonrpc":"2.0","id":1,"method":"eth_getStorageAt","params":[` + addr + `,"0xzz","0x1"]}`,
		`{"jsonrpc":"2.0","id":1,"method":"eth_getLogs","params":[{"blockHash":"0xab"}]}`,
		`{"jsonrpc":"2.0","id":1,"method":"eth_getLogs","params":[{"address":"0xab"}]}`,
		`{"jsonrpc":"2.0","id":1,"method":"eth_getTransactionReceipt","params":[{"x":1}]}`,
		`{"jsonrpc":"2.0","id":1,"method":"eth_sendRawTransaction","params":["0xf800"]}`,
		`{"jsonrpc":"2.0","id":1,"method":"eth_sendRawTransaction","params":[5]}`,
		`{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[1]}`,
		`{"jsonrpc":"2.0","id":1,"method":5}`,
		`{"jsonrpc":"2.0","id":{},"method":"eth_chainId"}`,
		`{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":5}`,
		`[1,{"jsonrpc":"1.0","id":1,"method":"eth_chainId"}]`,
		`[{"jsonrpc":"2.0","id":1,"method":"eth_chainId"},`,
		`{"jsonrpc":"2.0","id":1,"method":"eth_chainId"`,
		`[{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]} x]`,
		`"eth_chainId"`,
	}
	for _, verify := range []bool{true, false} {
		url := serveLoopback(t, unstartedGateway(t, verify)) + "/dev"
		for _, body := range bodies {
			_, out := postTo(t, http.DefaultClient, url, body)
			if msgs := plainMessages(t, out, body); len(msgs) == 0 {
				t.Errorf("verify %v: %s: no error in %s", verify, body, out)
			}
		}
	}
}
