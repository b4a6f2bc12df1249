package audite2e

import (
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"math"
	"math/big"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/params"

	"github.com/rpcmesh/rpcmesh/internal/audit"
	"github.com/rpcmesh/rpcmesh/internal/chain"
	"github.com/rpcmesh/rpcmesh/internal/devnet"
	"github.com/rpcmesh/rpcmesh/internal/devnetgw"
	"github.com/rpcmesh/rpcmesh/internal/server"
	"github.com/rpcmesh/rpcmesh/internal/testwait"
	"github.com/rpcmesh/rpcmesh/internal/upstream"
	"github.com/rpcmesh/rpcmesh/internal/verify"
)

// record is what a restart must not launder: a provider's penalty and
// counts by reason.
type record struct {
	at      time.Time
	penalty float64
	counts  []upstream.PenaltyCount
}

func records(g *server.Gateway, names ...string) map[string]record {
	now := time.Now()
	out := map[string]record{}
	for _, p := range g.Status().Chains[0].Providers {
		for _, n := range names {
			if p.Name == n {
				out[n] = record{at: now, penalty: p.Penalty, counts: p.Penalties}
			}
		}
	}
	return out
}

func hasReason(r record, reason string) bool {
	for _, c := range r.counts {
		if c.Reason == reason && c.Count >= 1 {
			return true
		}
	}
	return false
}

// A censor's and a liar's penalties (decayed value and counts by reason),
// the verification evidence and the censorship evidence are the same
// after the gateway restarts on the same store; the penalty decays on
// from when it was stored.
func TestRestartKeepsPenaltiesAndEvidence(t *testing.T) {
	ctx := testwait.Context(t, 90*time.Second)
	store := filepath.Join(t.TempDir(), "rpcmesh.db")
	g1, err := devnetgw.Start(ctx, gatewayConfig(store), devnetgw.SuiteLogger())
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			devnetgw.Stop(g1)
		}
	})
	censor, liar := g1.BroadcastOrder("devnet")[0], "node5"
	if censor == liar {
		t.Fatalf("the broadcast's first choice is %s, the liar", censor)
	}
	clearCensor := dn.Stage(t, devnet.FaultSpec{Target: censor, Kind: devnet.FaultCensor})
	clearLiar := dn.Stage(t, devnet.FaultSpec{Target: liar, Kind: devnet.FaultLie, Params: json.RawMessage(`{"what":["proof"]}`)})

	key := dn.Keys()[2]
	tx := signedTransfer(ctx, t, g1, key)
	raw, _ := tx.MarshalBinary()
	var h common.Hash
	if err := call(ctx, g1, &h, "eth_sendRawTransaction", hexutil.Bytes(raw)); err != nil || h != tx.Hash() {
		t.Fatalf("send: %v (hash %s)", err, h)
	}
	testwait.For(t, 45*time.Second, "the censor and the liar penalised", func() bool {
		r := records(g1, censor, liar)
		return hasReason(r[censor], "censored") && hasReason(r[liar], audit.Reason)
	})
	clearCensor()
	clearLiar()

	// Stop the gateway: from here nothing changes its record.
	devnetgw.Stop(g1)
	stopped = true
	before := records(g1, censor, liar)
	beforeEvidence := evidence(t, g1)
	beforeTx := g1.Transactions().Chains[0]
	if len(beforeEvidence) == 0 || beforeTx.Censorship[censor] == 0 {
		t.Fatalf("nothing recorded: evidence %v, transactions %+v", beforeEvidence, beforeTx)
	}

	cfg := gatewayConfig(store)
	cfg.Audit.Enabled = false // nothing new: the record must be the stored one
	g2 := devnetgw.StartForTest(ctx, t, cfg)
	after := records(g2, censor, liar)
	halfLife := cfg.Health.PenaltyHalfLife.D()
	for _, name := range []string{censor, liar} {
		b, a := before[name], after[name]
		if !reflect.DeepEqual(a.counts, b.counts) {
			t.Errorf("%s: counts %v before the restart, %v after", name, b.counts, a.counts)
		}
		// Decayed from the stored value by the time between the reads (a
		// second more: each read decays to its own instant).
		lo := b.penalty * math.Exp2(-float64(a.at.Sub(b.at)+time.Second)/float64(halfLife))
		if b.penalty <= 0 || a.penalty > b.penalty+1e-9 || a.penalty < lo-1e-9 {
			t.Errorf("%s: penalty %.6f before, %.6f after (want in [%.6f, %.6f])", name, b.penalty, a.penalty, lo, b.penalty)
		}
	}
	if afterEvidence := evidence(t, g2); !reflect.DeepEqual(afterEvidence, beforeEvidence) {
		t.Errorf("evidence before the restart:\n%+v\nafter:\n%+v", beforeEvidence, afterEvidence)
	}
	afterTx := g2.Transactions().Chains[0]
	if afterTx.Censorship[censor] != beforeTx.Censorship[censor] || !reflect.DeepEqual(censoredHashes(afterTx), censoredHashes(beforeTx)) {
		t.Errorf("censorship before %+v, after %+v", beforeTx, afterTx)
	}
	// The open scores link the kept penalties to the kept evidence.
	s, _ := publicScores(t, g2)
	p, _ := provider(s, liar)
	r, _ := reasonOf(p, audit.Reason)
	if len(r.Evidence) == 0 {
		t.Fatalf("liar's audit penalty without evidence after the restart: %+v", p.Penalty)
	}
	c, _ := provider(s, censor)
	if cr, _ := reasonOf(c, "censored"); len(cr.Transactions) == 0 || cr.Transactions[0] != tx.Hash().Hex() {
		t.Fatalf("censor's penalty not linked to the transaction %s: %+v", tx.Hash().Hex(), c.Penalty)
	}
	for _, id := range r.Evidence {
		if !containsID(beforeEvidence, id) {
			t.Fatalf("scores link evidence %d, which was not recorded before the restart", id)
		}
	}
}

func censoredHashes(tx chain.Transactions) []string {
	var out []string
	for _, e := range tx.Evidence {
		out = append(out, e.Provider+"/"+e.Hash)
	}
	return out
}

func containsID(es []verify.Evidence, id uint64) bool {
	for _, e := range es {
		if e.ID == id {
			return true
		}
	}
	return false
}

// signedTransfer signs a 1-wei transfer from key at its pending nonce
// (asked through gateway g).
func signedTransfer(ctx context.Context, t *testing.T, g *server.Gateway, key *ecdsa.PrivateKey) *types.Transaction {
	t.Helper()
	var nonce hexutil.Uint64
	if err := call(ctx, g, &nonce, "eth_getTransactionCount", crypto.PubkeyToAddress(key.PublicKey), "pending"); err != nil {
		t.Fatal(err)
	}
	id := new(big.Int).SetUint64(dn.Info().ChainID)
	to := common.HexToAddress("0x000000000000000000000000000000000000a0d1")
	tx, err := types.SignNewTx(key, types.LatestSignerForChainID(id), &types.DynamicFeeTx{
		ChainID: id, Nonce: uint64(nonce), GasTipCap: big.NewInt(params.GWei), GasFeeCap: big.NewInt(100 * params.GWei),
		Gas: 21000, To: &to, Value: big.NewInt(1),
	})
	if err != nil {
		t.Fatal(err)
	}
	return tx
}
