package audite2e

import (
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"math/big"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/params"
	"github.com/ethereum/go-ethereum/rpc"

	"github.com/rpcmesh/rpcmesh/internal/audit"
	"github.com/rpcmesh/rpcmesh/internal/config"
	"github.com/rpcmesh/rpcmesh/internal/devnet"
	"github.com/rpcmesh/rpcmesh/internal/devnetgw"
	"github.com/rpcmesh/rpcmesh/internal/server"
	"github.com/rpcmesh/rpcmesh/internal/testwait"
	"github.com/rpcmesh/rpcmesh/internal/txbroadcast"
	"github.com/rpcmesh/rpcmesh/internal/txwatch"
)

// propagationCatchWithin bounds how long the propagation check may take to
// catch the censor: at one check a second per provider, each waiting
// propagationWait, it gets the one transaction it cannot know from gossip
// about every other check.
const (
	propagationCatchWithin = 30 * time.Second
	propagationWait        = 2 * time.Second
)

// A censor in the public tier (it acknowledges eth_sendRawTransaction and
// drops the transaction), which gets no user transaction while the own
// tier is healthy, is caught by the audit's propagation check with users'
// own transactions: penalised with reason "audit", evidence of kind
// "audit" naming the transaction. The censor's node still learns gossiped
// transactions from its peers, as a real censor's node would, so the
// transaction that catches it is one nodes do not gossip: a user's
// transaction waiting in the pools for an earlier nonce. Honest providers
// the broadcast skipped get the same transactions and are never penalised.
func TestReserveCensorCaughtByPropagationCheck(t *testing.T) {
	ctx := testwait.Context(t, 120*time.Second)
	cfg := gatewayConfig("")
	cfg.Broadcast.RebroadcastBlocks = 1_000_000 // the watch's re-broadcast would hand it to the censor first
	cfg.Audit.Propagation = config.AuditPropagation{Enabled: true, ChecksPerMinute: 60, Transactions: 32,
		MaxAge: config.Duration(2 * time.Minute), Wait: config.Duration(propagationWait)}
	g := devnetgw.StartForTest(ctx, t, cfg)
	if err := devnetgw.WaitHealthy(ctx, g); err != nil {
		t.Fatal(err)
	}
	dn.Stage(t, devnet.FaultSpec{Target: "tier=public", Kind: devnet.FaultCensor})
	start := time.Now()

	// Users send through the gateway: two ordinary transfers (gossiped to
	// every node, then mined) and one that waits for an earlier nonce.
	keys := dn.Keys()
	payer, waiter := keys[len(keys)-1], keys[len(keys)-2]
	var hashes []common.Hash
	for range 2 {
		hashes = append(hashes, sendTx(ctx, t, g, payer, nonceOf(ctx, t, g, payer)))
	}
	gapNonce := nonceOf(ctx, t, g, waiter)
	waiting := sendTx(ctx, t, g, waiter, gapNonce+1)
	hashes = append(hashes, waiting)
	var skipped []string // honest providers the broadcast did not send the waiting transaction to
	for _, h := range hashes {
		var st txwatch.Entry
		// The sends after the first acceptance are recorded when they end.
		testwait.For(t, 10*time.Second, "the broadcast of "+h.Hex()+" recorded", func() bool {
			return call(ctx, g, &st, "rpcmesh_transactionStatus", h) == nil && len(st.Sends) >= cfg.Broadcast.Fanout
		})
		sent := func(name string) bool {
			return slices.ContainsFunc(st.Sends, func(o txbroadcast.Outcome) bool { return o.Provider == name })
		}
		if sent("node5") {
			t.Fatalf("the broadcast sent %s to the public tier: %+v", h.Hex(), st.Sends)
		}
		for _, n := range []string{"node1", "node2", "node3", "node4"} {
			if h == waiting && !sent(n) {
				skipped = append(skipped, n)
			}
		}
	}
	if len(skipped) == 0 {
		t.Fatal("the broadcast sent the waiting transaction to every honest provider: none to audit with it")
	}

	testwait.For(t, propagationCatchWithin, "the propagation check to catch node5", func() bool {
		for _, e := range evidence(t, g) {
			if e.Provider == "node5" && e.Kind == audit.Reason && strings.Contains(e.Failure, "censored") &&
				strings.Contains(e.Failure, waiting.Hex()) {
				return true
			}
		}
		return false
	})
	t.Logf("node5 caught censoring after %s; the broadcast skipped %v besides", time.Since(start).Round(time.Millisecond), skipped)
	if r := records(g, "node5"); !hasReason(r["node5"], audit.Reason) {
		t.Fatalf("node5 not penalised: %+v", r["node5"])
	}
	// The open scores link the penalty to the record.
	s, _ := publicScores(t, g)
	p, _ := provider(s, "node5")
	if r, ok := reasonOf(p, audit.Reason); !ok || len(r.Evidence) == 0 {
		t.Fatalf("node5's audit penalty without linked evidence: %+v", p.Penalty)
	}

	// Honest providers, those the broadcast skipped included, were audited
	// with the same transactions and never penalised. Nodes do not gossip
	// a transaction waiting for an earlier nonce: a skipped node that
	// knows it got it from the audit.
	for _, n := range skipped {
		testwait.For(t, propagationCatchWithin, n+" handed the waiting transaction", func() bool {
			return nodeKnows(ctx, n, waiting)
		})
	}
	honest := []string{"node1", "node2", "node3", "node4"}
	for _, e := range evidence(t, g) {
		if slices.Contains(honest, e.Provider) {
			t.Errorf("evidence against honest %s: %+v", e.Provider, e)
		}
	}
	for name, r := range records(g, honest...) {
		if r.penalty != 0 || len(r.counts) != 0 {
			t.Errorf("honest %s penalised: %.3f %+v", name, r.penalty, r.counts)
		}
	}

	// Fill the nonce gap so that the waiting transaction is mined and the
	// account is left as it was found.
	sendTx(ctx, t, g, waiter, gapNonce)
	testwait.For(t, 30*time.Second, "the waiting transaction to be mined", func() bool {
		var st txwatch.Entry
		return call(ctx, g, &st, "rpcmesh_transactionStatus", waiting) == nil && st.State == txwatch.StateIncluded
	})
}

// nonceOf is key's mined nonce, through the gateway.
func nonceOf(ctx context.Context, t *testing.T, g *server.Gateway, key *ecdsa.PrivateKey) uint64 {
	t.Helper()
	var n hexutil.Uint64
	if err := call(ctx, g, &n, "eth_getTransactionCount", crypto.PubkeyToAddress(key.PublicKey), "pending"); err != nil {
		t.Fatal(err)
	}
	return uint64(n)
}

// sendTx signs a transfer with nonce and sends it through the gateway.
func sendTx(ctx context.Context, t *testing.T, g *server.Gateway, key *ecdsa.PrivateKey, nonce uint64) common.Hash {
	t.Helper()
	id := new(big.Int).SetUint64(dn.Info().ChainID)
	to := common.HexToAddress("0x000000000000000000000000000000000000a0d2")
	tx, err := types.SignNewTx(key, types.LatestSignerForChainID(id), &types.DynamicFeeTx{
		ChainID: id, Nonce: nonce, GasTipCap: big.NewInt(params.GWei), GasFeeCap: big.NewInt(100 * params.GWei),
		Gas: 21000, To: &to, Value: big.NewInt(1),
	})
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := tx.MarshalBinary()
	var h common.Hash
	if err := call(ctx, g, &h, "eth_sendRawTransaction", hexutil.Bytes(raw)); err != nil || h != tx.Hash() {
		t.Fatalf("send nonce %d: %v (hash %s)", nonce, err, h)
	}
	return h
}

// nodeKnows asks the devnet node name directly whether it has the
// transaction (in its pool or mined).
func nodeKnows(ctx context.Context, name string, hash common.Hash) bool {
	n, ok := dn.Node(name)
	if !ok {
		return false
	}
	c, err := rpc.DialContext(ctx, n.HTTP)
	if err != nil {
		return false
	}
	defer c.Close()
	var tx json.RawMessage
	return c.CallContext(ctx, &tx, "eth_getTransactionByHash", hash) == nil && len(tx) > 0 && string(tx) != "null"
}
