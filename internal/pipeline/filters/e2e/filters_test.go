package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/rpcmesh/rpcmesh/internal/devnet"

	"github.com/rpcmesh/rpcmesh/internal/devnetgw"
	"github.com/rpcmesh/rpcmesh/internal/testwait"
)

// TestLogFilterEveryEventOnceThroughFailover polls a log filter while a
// contract emits one log per transaction, and takes the provider that
// serves the chain (node 0, the only "own" node: tiers send it all traffic)
// down in the middle: every log arrives exactly once, some while it is
// down, and the logs are the node's.
func TestLogFilterEveryEventOnceThroughFailover(t *testing.T) {
	devnetgw.AwaitHealthy(t, gw)
	ctx := testwait.Context(t, 150*time.Second)
	e := newEmitter(t, ctx, 1)
	id := newFilter(t, ctx, url, "eth_newFilter", fmt.Sprintf(`[{"address":%q}]`, strings.ToLower(e.contract.Hex())))
	defer anyClient.call(ctx, url, "eth_uninstallFilter", fmt.Sprintf(`[%q]`, id))

	var seen []logSeen
	var seenRaw []json.RawMessage
	poll := func() int {
		var got []json.RawMessage
		if err := json.Unmarshal(must(t, ctx, url, "eth_getFilterChanges", fmt.Sprintf(`[%q]`, id)), &got); err != nil {
			t.Fatal(err)
		}
		for _, raw := range got {
			var l logSeen
			_ = json.Unmarshal(raw, &l)
			seen, seenRaw = append(seen, l), append(seenRaw, raw)
		}
		return len(got)
	}
	const total, downAt, upAt = 30, 8, 22
	serving := dn.Info().Nodes[0].Name
	var up func()
	var txs []*types.Transaction
	whileDown := 0
	for i := range total {
		if i == downAt {
			up = dn.Stage(t, devnet.FaultSpec{Target: serving, Kind: devnet.FaultDown})
		}
		if i == upAt {
			up()
		}
		txs = append(txs, e.emit(t, ctx, i))
		select { // one transaction every 300 ms: a log in most blocks
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		case <-time.After(300 * time.Millisecond):
		}
		if n := poll(); i > downAt && i < upAt {
			whileDown += n
		}
	}
	e.receipt(t, ctx, txs[total-1].Hash())
	for len(seen) < total {
		select {
		case <-ctx.Done():
			t.Fatalf("the filter gave %d of %d logs", len(seen), total)
		case <-time.After(200 * time.Millisecond):
		}
		poll()
	}
	if whileDown == 0 {
		t.Error("no log arrived while the serving provider was down")
	}
	count := map[string]int{}
	for _, l := range seen {
		if l.Removed {
			t.Errorf("removed log without a reorg: %+v", l)
		}
		count[strings.ToLower(l.TxHash)]++
	}
	for i, tx := range txs {
		if n := count[strings.ToLower(tx.Hash().Hex())]; n != 1 {
			t.Errorf("transaction %d's log arrived %d times", i, n)
		}
	}
	// The same logs, byte for byte, as the node answers eth_getLogs.
	last := e.receipt(t, ctx, txs[total-1].Hash()).BlockNumber.Uint64()
	direct := must(t, ctx, directURL(t, 1), "eth_getLogs", fmt.Sprintf(`[{"address":%q,"fromBlock":"%s","toBlock":"%s"}]`,
		strings.ToLower(e.contract.Hex()), hexutil.EncodeUint64(e.deployed), hexutil.EncodeUint64(last)))
	var want []json.RawMessage
	_ = json.Unmarshal(direct, &want)
	if len(want) != len(seenRaw) {
		t.Fatalf("node has %d logs, filter gave %d", len(want), len(seenRaw))
	}
	for i := range want {
		if !bytes.Equal(want[i], seenRaw[i]) {
			t.Errorf("log %d: node %s, filter %s", i, want[i], seenRaw[i])
		}
	}
	devnetgw.AwaitHealthy(t, gw)
}

// TestBlockFilterEveryBlockOnceInOrder polls a block filter for a dozen
// blocks: each hash once, numbers consecutive, each block's parent the one
// before, and each the node's canonical block at its number.
func TestBlockFilterEveryBlockOnceInOrder(t *testing.T) {
	ctx := testwait.Context(t, 60*time.Second)
	id := newFilter(t, ctx, url, "eth_newBlockFilter", `[]`)
	defer anyClient.call(ctx, url, "eth_uninstallFilter", fmt.Sprintf(`[%q]`, id))
	var hashes []string
	for len(hashes) < 12 {
		var got []string
		if err := json.Unmarshal(must(t, ctx, url, "eth_getFilterChanges", fmt.Sprintf(`[%q]`, id)), &got); err != nil {
			t.Fatal(err)
		}
		hashes = append(hashes, got...)
		select {
		case <-ctx.Done():
			t.Fatalf("only %d blocks", len(hashes))
		case <-time.After(300 * time.Millisecond):
		}
	}
	node := directURL(t, 1)
	var prev struct{ Number, Hash string }
	for i, h := range hashes {
		var b struct {
			Number     string `json:"number"`
			Hash       string `json:"hash"`
			ParentHash string `json:"parentHash"`
		}
		if err := json.Unmarshal(must(t, ctx, node, "eth_getBlockByHash", fmt.Sprintf(`[%q,false]`, h)), &b); err != nil || b.Hash != h {
			t.Fatalf("block %s: %v %+v", h, err, b)
		}
		var canon struct{ Hash string }
		_ = json.Unmarshal(must(t, ctx, node, "eth_getBlockByNumber", fmt.Sprintf(`[%q,false]`, b.Number)), &canon)
		if canon.Hash != h {
			t.Errorf("block %s at %s is not the node's (%s)", h, b.Number, canon.Hash)
		}
		if i > 0 {
			pn, _ := hexutil.DecodeUint64(prev.Number)
			n, _ := hexutil.DecodeUint64(b.Number)
			if n != pn+1 || b.ParentHash != prev.Hash {
				t.Errorf("block %d: number %d parent %s after %d %s", i, n, b.ParentHash, pn, prev.Hash)
			}
		}
		prev.Number, prev.Hash = b.Number, b.Hash
	}
}

// TestGetFilterLogsEqualsGetLogs: eth_getFilterLogs answers what
// eth_getLogs with the filter's object answers, through the gateway and
// on the node, for a block range and for a block hash.
func TestGetFilterLogsEqualsGetLogs(t *testing.T) {
	ctx := testwait.Context(t, 60*time.Second)
	e := newEmitter(t, ctx, 2)
	var last *types.Receipt
	for i := range 4 {
		last = e.receipt(t, ctx, e.emit(t, ctx, i).Hash())
	}
	addr := strings.ToLower(e.contract.Hex())
	for _, crit := range []string{
		fmt.Sprintf(`{"address":%q,"fromBlock":"%s","toBlock":"%s"}`, addr, hexutil.EncodeUint64(e.deployed), hexutil.EncodeUint64(last.BlockNumber.Uint64())),
		fmt.Sprintf(`{"address":[%q],"topics":[["0x00000000000000000000000000000000000000000000000000000000000000aa"]],"fromBlock":"%s","toBlock":"%s"}`, addr, hexutil.EncodeUint64(e.deployed), hexutil.EncodeUint64(last.BlockNumber.Uint64())),
		fmt.Sprintf(`{"blockHash":%q}`, last.BlockHash.Hex()),
	} {
		id := newFilter(t, ctx, url, "eth_newFilter", "["+crit+"]")
		got := must(t, ctx, url, "eth_getFilterLogs", fmt.Sprintf(`[%q]`, id))
		viaGateway := must(t, ctx, url, "eth_getLogs", "["+crit+"]")
		onNode := must(t, ctx, directURL(t, 1), "eth_getLogs", "["+crit+"]")
		if !bytes.Equal(got, viaGateway) || !bytes.Equal(got, onNode) || len(got) < 10 {
			t.Errorf("%s:\n getFilterLogs %s\n getLogs %s\n node %s", crit, got, viaGateway, onNode)
		}
		must(t, ctx, url, "eth_uninstallFilter", fmt.Sprintf(`[%q]`, id))
	}
}

// idShape is a filter ID as go-ethereum makes one.
var idShape = regexp.MustCompile(`^"0x([1-9a-f][0-9a-f]{0,31}|0)"$`)

// TestAnswersAsGoEthereum runs the same calls on the gateway and on a
// go-ethereum node and compares the answers byte for byte (filter IDs by
// shape: they are random).
func TestAnswersAsGoEthereum(t *testing.T) {
	ctx := testwait.Context(t, 60*time.Second)
	node := directURL(t, 1)
	tests := []struct {
		name  string
		calls [][2]string // method, params; "$id" is the first call's filter ID
		isID  bool        // the first call answers a filter ID
	}{
		{"changes of unknown id", [][2]string{{"eth_getFilterChanges", `["0x1234"]`}}, false},
		{"logs of unknown id", [][2]string{{"eth_getFilterLogs", `["0x1234"]`}}, false},
		{"uninstall unknown id", [][2]string{{"eth_uninstallFilter", `["0x1234"]`}}, false},
		{"changes without id", [][2]string{{"eth_getFilterChanges", `[]`}}, false},
		{"changes with two ids", [][2]string{{"eth_getFilterChanges", `["0x1","0x2"]`}}, false},
		{"range backwards", [][2]string{{"eth_newFilter", `[{"fromBlock":"0x5","toBlock":"0x2"}]`}}, false},
		{"pending logs", [][2]string{{"eth_newFilter", `[{"fromBlock":"pending"}]`}}, false},
		{"from safe", [][2]string{{"eth_newFilter", `[{"fromBlock":"safe"}]`}}, false},
		{"to a number from latest", [][2]string{{"eth_newFilter", `[{"fromBlock":"latest","toBlock":"0x2"}]`}}, false},
		{"hash and range", [][2]string{{"eth_newFilter", `[{"blockHash":"0x0000000000000000000000000000000000000000000000000000000000000001","fromBlock":"0x1"}]`}}, false},
		{"short address", [][2]string{{"eth_newFilter", `[{"address":"0x12"}]`}}, false},
		{"five topics", [][2]string{{"eth_newFilter", `[{"topics":[null,null,null,null,null]}]`}}, false},
		{"short topic", [][2]string{{"eth_newFilter", `[{"topics":["0x12"]}]`}}, false},
		{"no criteria", [][2]string{{"eth_newFilter", `[]`}}, false},
		{"block filter with an argument", [][2]string{{"eth_newBlockFilter", `[1]`}}, false},
		{"log filter, then its logs of a past-free range", [][2]string{{"eth_newFilter", `[{"fromBlock":"0x1","toBlock":"0x2"}]`}, {"eth_getFilterLogs", `["$id"]`}, {"eth_getFilterChanges", `["$id"]`}}, true},
		{"uninstall twice, then poll", [][2]string{{"eth_newBlockFilter", `[]`}, {"eth_uninstallFilter", `["$id"]`}, {"eth_uninstallFilter", `["$id"]`}, {"eth_getFilterChanges", `["$id"]`}}, true},
		{"logs of a block filter", [][2]string{{"eth_newBlockFilter", `[]`}, {"eth_getFilterLogs", `["$id"]`}, {"eth_uninstallFilter", `["$id"]`}}, true},
		{"pending filter, hashes", [][2]string{{"eth_newPendingTransactionFilter", `[false]`}, {"eth_uninstallFilter", `["$id"]`}}, true},
		{"pending filter, no argument", [][2]string{{"eth_newPendingTransactionFilter", `[]`}, {"eth_uninstallFilter", `["$id"]`}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			run := func(endpoint string) []string {
				var out []string
				id := ""
				for i, c := range tt.calls {
					b, err := anyClient.raw(ctx, endpoint, c[0], strings.ReplaceAll(c[1], "$id", id))
					if err != nil {
						t.Fatal(err)
					}
					var r struct {
						Result json.RawMessage `json:"result"`
						Error  json.RawMessage `json:"error"`
					}
					_ = json.Unmarshal(b, &r)
					if i == 0 && tt.isID {
						if !idShape.Match(r.Result) {
							t.Fatalf("%s: not a filter ID: %s", endpoint, b)
						}
						_ = json.Unmarshal(r.Result, &id)
						continue
					}
					out = append(out, string(b))
				}
				return out
			}
			got, want := run(url), run(node)
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("gateway:\n%s\nnode:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}

// TestPendingFilterSeesTransactionsSentThroughTheGateway: a pending
// transaction filter gives the hash of a transaction sent through the
// gateway (once the providers' pending feeds, opened for the first
// pending filter, are up: transactions are sent until one shows).
func TestPendingFilterSeesTransactionsSentThroughTheGateway(t *testing.T) {
	ctx := testwait.Context(t, 60*time.Second)
	e := newEmitter(t, ctx, 5)
	id := newFilter(t, ctx, url, "eth_newPendingTransactionFilter", `[]`)
	defer anyClient.call(ctx, url, "eth_uninstallFilter", fmt.Sprintf(`[%q]`, id))
	seen := map[string]int{}
	poll := func() {
		var got []string
		_ = json.Unmarshal(must(t, ctx, url, "eth_getFilterChanges", fmt.Sprintf(`[%q]`, id)), &got)
		for _, h := range got {
			seen[strings.ToLower(h)]++
		}
	}
	send := func(i int) string {
		tx := e.sign(t, i)
		raw, _ := tx.MarshalBinary()
		must(t, ctx, url, "eth_sendRawTransaction", fmt.Sprintf(`[%q]`, hexutil.Encode(raw)))
		return strings.ToLower(tx.Hash().Hex())
	}
	var sent []string
	for i := 0; ; i++ {
		sent = append(sent, send(i))
		poll()
		if slices.ContainsFunc(sent, func(h string) bool { return seen[h] > 0 }) {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("none of %d transactions sent showed in the filter", len(sent))
		case <-time.After(300 * time.Millisecond):
		}
	}
	// Now that the feeds are up, the next one shows, once.
	last := send(len(sent))
	for seen[last] == 0 {
		select {
		case <-ctx.Done():
			t.Fatalf("transaction %s never showed", last)
		case <-time.After(100 * time.Millisecond):
		}
		poll()
	}
	for h, n := range seen {
		if n != 1 {
			t.Errorf("hash %s given %d times", h, n)
		}
	}
}
