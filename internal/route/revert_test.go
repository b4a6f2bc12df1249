package route

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/devnet"
	"github.com/rpcmesh/rpcmesh/internal/ethmethod"
	"github.com/rpcmesh/rpcmesh/internal/jsonrpc"
	"github.com/rpcmesh/rpcmesh/internal/upstream"
)

// revertingCall is an eth_call whose code (a contract creation: no "to")
// reverts with Error(reason), as a contract's require(false, reason) does,
// and the revert data a node answers with. reason fits in 32 bytes.
func revertingCall(reason string) (params json.RawMessage, data string) {
	payload := make([]byte, 4+32+32+32)
	copy(payload, []byte{0x08, 0xc3, 0x79, 0xa0}) // Error(string)
	payload[4+31] = 0x20                          // offset of the string
	payload[4+63] = byte(len(reason))             // its length
	copy(payload[4+64:], reason)
	// PUSH1 100 PUSH1 12 PUSH1 0 CODECOPY PUSH1 100 PUSH1 0 REVERT, then
	// the payload (at offset 12).
	code := append([]byte{0x60, 100, 0x60, 12, 0x60, 0, 0x39, 0x60, 100, 0x60, 0, 0xfd}, payload...)
	params = json.RawMessage(fmt.Sprintf(`[{"data":"0x%x"},"latest"]`, code))
	return params, "0x" + hex.EncodeToString(payload)
}

// TestRevertReasonIsTheAnswer: an eth_call that reverts with a reason
// reading like a provider's trouble ("rate limit exceeded", "internal
// error", "header not found", ...) is the caller's answer, code 3 with the
// revert data, sent to one provider once: a client looping it benches no
// provider and is never retried elsewhere. On 82001cf the reason was read
// as throttling, as a node failure or as missing data: providers were
// benched and each call tried on several.
func TestRevertReasonIsTheAnswer(t *testing.T) {
	if testing.Short() {
		t.Skip("starts go-ethereum nodes")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	dn, err := devnet.Start(ctx, devnet.Options{Nodes: 3})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = dn.Close() })
	urls := map[string]string{}
	var specs []nodeSpec
	for _, n := range dn.Info().Nodes {
		urls[n.Name] = n.HTTP
		specs = append(specs, nodeSpec{name: n.Name, operator: n.Labels.Operator, tier: n.Labels.Tier})
	}
	routing := testRouting()
	routing.Hedge = false // one call, one attempt: what is counted below
	net := startNetAt(t, routing, testHealth(), func(name string) string { return urls[name] }, specs...)

	const loops = 10
	for _, reason := range []string{"rate limit exceeded", "Too Many Requests", "internal error", "request timed out", "service unavailable", "header not found", "missing trie node"} {
		t.Run(reason, func(t *testing.T) {
			params, data := revertingCall(reason)
			before := requests(net.router.Providers())
			for i := range loops {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				res, err := net.router.Do(ctx, &Request{Method: "eth_call", Params: params, Info: ethmethod.Lookup("eth_call")})
				cancel()
				var je *jsonrpc.Error
				if !errors.As(err, &je) {
					t.Fatalf("call %d: got %s, %v; want the node's revert", i, res.Value, err)
				}
				if je.Code != 3 || !strings.Contains(je.Message, reason) || string(je.Data) != `"`+data+`"` {
					t.Fatalf("call %d: got error %d %q data %s, want 3, the reason and %s", i, je.Code, je.Message, je.Data, data)
				}
			}
			if sent := requests(net.router.Providers()) - before; sent != loops {
				t.Errorf("%d calls sent to providers for %d eth_calls, want one each", sent, loops)
			}
			for _, p := range net.router.Providers() {
				s := p.Snapshot(time.Now())
				if s.State != upstream.StateOK || s.ThrottleRate > 0 || s.ErrorRate > 0 {
					t.Errorf("%s: state %s, throttle rate %.2f, error rate %.2f; want ok, 0, 0", s.Name, s.State, s.ThrottleRate, s.ErrorRate)
				}
			}
		})
	}
}

// requests is how many calls the providers were sent.
func requests(ps []*upstream.Provider) uint64 {
	var n uint64
	for _, p := range ps {
		n += p.Snapshot(time.Now()).Requests
	}
	return n
}
