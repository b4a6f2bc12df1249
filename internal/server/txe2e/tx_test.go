package txe2e

import (
	"encoding/json"
	"errors"
	"math/big"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/rpcmesh/rpcmesh/internal/devnet"
	"github.com/rpcmesh/rpcmesh/internal/testwait"
	"github.com/rpcmesh/rpcmesh/internal/txbroadcast"
	"github.com/rpcmesh/rpcmesh/internal/txwatch"
	"github.com/rpcmesh/rpcmesh/internal/upstream"
)

// Runs first: no transaction is watched yet, so any provider request
// would come from the bad input.
func TestBadInputContactsNoProvider(t *testing.T) {
	key := dn.Keys()[0]
	good := dn.Transfer(t, key, 0)
	raw, _ := good.MarshalBinary()
	wrongChain, _ := types.SignNewTx(key, types.LatestSignerForChainID(big.NewInt(1)), &types.DynamicFeeTx{ChainID: big.NewInt(1), Gas: 21000, GasFeeCap: big.NewInt(1)})
	wrongRaw, _ := wrongChain.MarshalBinary()
	badSig := types.NewTx(&types.DynamicFeeTx{ChainID: new(big.Int).SetUint64(dn.Info().ChainID), Gas: 21000, GasFeeCap: big.NewInt(1),
		V: big.NewInt(0), R: big.NewInt(0), S: big.NewInt(1)})
	badSigRaw, _ := badSig.MarshalBinary()
	oversize := types.NewTx(&types.LegacyTx{Gas: 5_000_000, GasPrice: big.NewInt(1), Data: make([]byte, 200<<10)})
	oversize, _ = types.SignTx(oversize, types.LatestSignerForChainID(new(big.Int).SetUint64(dn.Info().ChainID)), key)
	oversizeRaw, _ := oversize.MarshalBinary()

	before := requests(gw)
	for _, tc := range []struct {
		name   string
		raw    []byte
		reason string
	}{
		{"malformed RLP", raw[:len(raw)-10], "malformed"},
		{"garbage", []byte{0x02, 0xff, 0x00}, "malformed"},
		{"wrong chain ID", wrongRaw, "wrong_chain_id"},
		{"bad signature", badSigRaw, "bad_signature"},
		{"oversize", oversizeRaw, "oversize"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := call(gw, nil, "eth_sendRawTransaction", hexutil.Bytes(tc.raw))
			var re *rpcError
			if !errors.As(err, &re) || re.Code != -32602 || !strings.Contains(string(re.Data), tc.reason) {
				t.Fatalf("err = %v, want -32602 with reason %s", err, tc.reason)
			}
		})
	}
	if after := requests(gw); !maps(before, after) {
		t.Fatalf("providers were contacted: before %v after %v", before, after)
	}
}

func maps(a, b map[string]uint64) bool {
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return len(a) == len(b)
}

func TestCensoringFirstChoiceStillMined(t *testing.T) {
	waitUsable(t)
	ctx := testwait.Context(t, 30*time.Second)
	// On a fresh gateway node1, the only "own" tier node, is the first
	// choice; censorship records from earlier runs may have moved it.
	censor := gw.BroadcastOrder("devnet")[0]
	setFault(t, censor, devnet.FaultCensor)
	key := dn.Keys()[1]
	tx := dn.Transfer(t, key, pendingNonce(t, gw, key))
	start := time.Now()
	send(t, gw, tx)
	if d := time.Since(start); d > time.Second {
		t.Fatalf("the hash took %s", d)
	}
	e := waitIncluded(t, ctx, gw, tx.Hash())
	if r, err := direct(t, "node5").TransactionReceipt(ctx, tx.Hash()); err != nil || r.BlockNumber.Uint64() != e.Included.BlockNumber {
		t.Fatalf("receipt %v %v, status %+v", r, err, e.Included)
	}
	if !e.Included.Proven {
		t.Fatalf("inclusion not proven by a verified receipt: %+v", e.Included)
	}
	if !slices.Contains(e.CensoredBy, censor) {
		t.Fatalf("%s not recorded as censor: %+v", censor, e)
	}
	st := gw.Transactions().Chains[0]
	if st.Censorship[censor] < 1 {
		t.Fatalf("censorship counts %v", st.Censorship)
	}
	i := slices.IndexFunc(st.Evidence, func(ev txwatch.Evidence) bool { return ev.Hash == tx.Hash().Hex() })
	if i < 0 || st.Evidence[i].Provider != censor || len(st.Evidence[i].MinedVia) == 0 || st.Evidence[i].BlockNumber != e.Included.BlockNumber {
		t.Fatalf("evidence %+v", st.Evidence)
	}
	// The censor is penalised in the routing score every part of the
	// gateway shares, not only in the broadcast order.
	for _, ps := range gw.Status().Chains[0].Providers {
		if ps.Name == censor && (ps.Penalty < 0.5 || !slices.ContainsFunc(ps.Penalties, func(c upstream.PenaltyCount) bool { return c.Reason == "censored" && c.Count >= 1 })) {
			t.Fatalf("censor %s not penalised in its routing score: penalty %.2f %+v", censor, ps.Penalty, ps.Penalties)
		}
	}
	// The admin listener shows the same, and the metric counts it.
	for path, want := range map[string]string{
		"/transactions": `"` + censor + `": `,
		"/metrics":      `rpcmesh_tx_censorship_total{chain="devnet",operator=`,
		"/status":       `"reason": "censored"`,
	} {
		rec := httptest.NewRecorder()
		gw.AdminHandler().ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		if rec.Code != 200 || !strings.Contains(rec.Body.String(), want) {
			t.Fatalf("GET %s: %d, no %q in %s", path, rec.Code, want, rec.Body.String())
		}
	}
}

func TestAllButOneOperatorCensoring(t *testing.T) {
	waitUsable(t)
	ctx := testwait.Context(t, 30*time.Second)
	for _, n := range []string{"node1", "node2", "node3", "node4"} {
		setFault(t, n, devnet.FaultCensor)
	}
	key := dn.Keys()[2]
	tx := dn.Transfer(t, key, pendingNonce(t, gw, key))
	send(t, gw, tx)
	e := waitIncluded(t, ctx, gw, tx.Hash())
	// node5 (public tier) is not in a fresh gateway's first fan-out of
	// three (only a re-broadcast reaches it) unless earlier censorship
	// records ranked the censors below it.
	if e.Rebroadcasts < 1 && !slices.ContainsFunc(e.Sends, func(o txbroadcast.Outcome) bool { return o.Provider == "node5" }) {
		t.Fatalf("included without reaching node5: %+v", e)
	}
	if _, err := direct(t, "node5").TransactionReceipt(ctx, tx.Hash()); err != nil {
		t.Fatal(err)
	}
}

func TestCloudDownSendingWorks(t *testing.T) {
	waitUsable(t)
	ctx := testwait.Context(t, 30*time.Second)
	setFault(t, "cloud=aws", devnet.FaultDown)
	key := dn.Keys()[3]
	tx := dn.Transfer(t, key, pendingNonce(t, gw, key))
	send(t, gw, tx)
	waitIncluded(t, ctx, gw, tx.Hash())
}

func TestManyTransactionsMinedOnceInNonceOrder(t *testing.T) {
	waitUsable(t)
	ctx := testwait.Context(t, 45*time.Second)
	const perAccount = 15
	keys := dn.Keys()[4:8]
	c := direct(t, "node3")
	first, err := c.BlockNumber(ctx)
	if err != nil {
		t.Fatal(err)
	}
	type sent struct {
		from  common.Address
		nonce uint64
		hash  common.Hash
	}
	var mu sync.Mutex
	var all []sent
	var wg sync.WaitGroup
	for _, key := range keys {
		nonce := pendingNonce(t, gw, key)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range uint64(perAccount) {
				tx := dn.Transfer(t, key, nonce+i)
				raw, _ := tx.MarshalBinary()
				var h common.Hash
				if err := call(gw, &h, "eth_sendRawTransaction", hexutil.Bytes(raw)); err != nil || h != tx.Hash() {
					t.Errorf("send nonce %d: %v", nonce+i, err)
					return
				}
				mu.Lock()
				all = append(all, sent{crypto.PubkeyToAddress(key.PublicKey), nonce + i, h})
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	for _, s := range all {
		waitIncluded(t, ctx, gw, s.hash)
	}
	last, err := c.BlockNumber(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Every transaction exactly once in the chain, each account's in nonce order.
	seen := map[common.Hash]int{}
	order := map[common.Address][]uint64{}
	for n := first; n <= last; n++ {
		b, err := c.BlockByNumber(ctx, new(big.Int).SetUint64(n))
		if err != nil {
			t.Fatal(err)
		}
		for _, tx := range b.Transactions() {
			seen[tx.Hash()]++
			from, _ := types.Sender(types.LatestSignerForChainID(tx.ChainId()), tx)
			order[from] = append(order[from], tx.Nonce())
		}
	}
	for _, s := range all {
		if seen[s.hash] != 1 {
			t.Errorf("%s (nonce %d) mined %d times", s.hash, s.nonce, seen[s.hash])
		}
	}
	for from, nonces := range order {
		if !slices.IsSorted(nonces) {
			t.Errorf("%s: nonces out of order %v", from, nonces)
		}
	}
	if len(all) != perAccount*len(keys) {
		t.Fatalf("sent %d, want %d", len(all), perAccount*len(keys))
	}
}

func TestWatchSurvivesRestart(t *testing.T) {
	waitUsable(t)
	ctx := testwait.Context(t, 40*time.Second)
	store := t.TempDir() + "/watch.db"
	key := dn.Keys()[8]
	nonce := pendingNonce(t, gw, key)

	g1, err := startGateway(ctx, store)
	if err != nil {
		t.Fatal(err)
	}
	// Every node censors: accepted, and lost unless the watch goes on.
	f, err := dn.SetFault(ctx, devnet.FaultSpec{Target: "all", Kind: devnet.FaultCensor})
	if err != nil {
		closeGateway(g1)
		t.Fatal(err)
	}
	tx := dn.Transfer(t, key, nonce)
	send(t, g1, tx)
	if e := status(t, g1, tx.Hash()); e.State != txwatch.StatePending {
		closeGateway(g1)
		t.Fatalf("status %+v", e)
	}
	closeGateway(g1)
	if err := dn.ClearFault(f.ID); err != nil {
		t.Fatal(err)
	}

	g2, err := startGateway(ctx, store)
	if err != nil {
		t.Fatal(err)
	}
	defer closeGateway(g2)
	e := waitIncluded(t, ctx, g2, tx.Hash())
	if e.Rebroadcasts < 1 {
		t.Fatalf("included without a re-broadcast: %+v", e)
	}
}

// TestLyingNonceIsNotBelieved: one node adds 7 to every transaction count.
// The gateway's "pending" count is still the honest one, so a client's
// next transaction is mined instead of waiting behind a nonce gap.
func TestLyingNonceIsNotBelieved(t *testing.T) {
	waitUsable(t)
	ctx := testwait.Context(t, 30*time.Second)
	key := dn.Keys()[9]
	addr := crypto.PubkeyToAddress(key.PublicKey)
	honest, err := direct(t, "node5").PendingNonceAt(ctx, addr)
	if err != nil {
		t.Fatal(err)
	}
	dn.Stage(t, devnet.FaultSpec{Target: "node2", Kind: devnet.FaultLie, Params: json.RawMessage(`{"what":["nonce"]}`)})
	if got := pendingNonce(t, gw, key); got != honest {
		t.Fatalf("pending nonce %d through the gateway, the honest nodes say %d", got, honest)
	}
	tx := dn.Transfer(t, key, honest)
	send(t, gw, tx)
	waitIncluded(t, ctx, gw, tx.Hash())
}
