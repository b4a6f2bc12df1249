package server

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/ethereum/go-ethereum/common/hexutil"

	"github.com/rpcmesh/rpcmesh/internal/config"
	"github.com/rpcmesh/rpcmesh/internal/pipeline"
	"github.com/rpcmesh/rpcmesh/internal/txbroadcast"
	"github.com/rpcmesh/rpcmesh/internal/txwatch"
)

// newTxWatch builds a chain's transaction broadcaster and inclusion watch
// over its providers and agreed head.
func newTxWatch(cfg *config.Config, ch *config.Chain, c *chain, m *txwatch.Metrics, logger *slog.Logger) (*txbroadcast.Broadcaster, *txwatch.Watcher) {
	b := txbroadcast.New(cfg.Broadcast.Fanout, cfg.Health.ProviderTimeout.D(), logger.With("chain", ch.Name))
	w := txwatch.New(txwatch.Options{
		Chain:     ch.Name,
		Config:    cfg.Broadcast,
		Agreement: ch.HeadAgreement,
		Head: func() (uint64, bool) {
			h, ok := c.head.Latest()
			return h.Number, ok
		},
		Rank: func(penalty func(string) int) []txbroadcast.Target {
			return txbroadcast.Ranked(c.providers, penalty)
		},
		Penalise: func(provider, reason string) {
			for _, p := range c.providers {
				if p.Name() == provider {
					p.Penalise(reason)
				}
			}
		},
		Broadcaster: b,
		Metrics:     m,
		Logger:      logger,
	})
	if ch.EffectiveVerify(cfg.Verify).Enabled {
		w.SetReceipt(c.provenReceipt)
	}
	return b, w
}

// openTxStore opens broadcast.store, when set, and hands it to every
// chain's watch so that tracked transactions survive a restart.
func (g *Gateway) openTxStore() error {
	if g.cfg.Broadcast.Store == "" {
		return nil
	}
	s, err := txwatch.OpenStore(g.cfg.Broadcast.Store)
	if err != nil {
		return err
	}
	for _, c := range g.chains {
		if err := c.watch.SetStore(s); err != nil {
			s.Close()
			return err
		}
	}
	g.txStore = s
	return nil
}

// closeTx waits for broadcasts still running and closes the store. Call
// it after the watch loops stopped.
func (g *Gateway) closeTx() error {
	for _, c := range g.chains {
		c.bcast.Close()
	}
	if g.txStore == nil {
		return nil
	}
	err := g.txStore.Close()
	g.txStore = nil
	return err
}

// TransactionsStatus is the /transactions document: per chain, the
// censorship counts per provider, the evidence, and the watched count.
type TransactionsStatus struct {
	Chains []ChainTransactions `json:"chains"`
}

// ChainTransactions is one chain in /transactions.
type ChainTransactions struct {
	Name       string             `json:"name"`
	Pending    int                `json:"pending"`
	Censorship map[string]int     `json:"censorship"`
	Evidence   []txwatch.Evidence `json:"evidence"`
}

// Transactions reports the transaction watch of every chain.
func (g *Gateway) Transactions() TransactionsStatus {
	var st TransactionsStatus
	for _, c := range g.chains {
		ev, counts := c.watch.Evidence()
		st.Chains = append(st.Chains, ChainTransactions{Name: c.cfg.Name, Pending: c.watch.Pending(), Censorship: counts, Evidence: ev})
	}
	return st
}

// serveTransactions is the admin /transactions handler.
func (g *Gateway) serveTransactions(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(g.Transactions())
}

// BroadcastOrder names the providers of chain in the order a transaction
// broadcast would choose them now (nil for an unknown chain).
func (g *Gateway) BroadcastOrder(chain string) []string {
	for _, c := range g.chains {
		if c.cfg.Name != chain {
			continue
		}
		var out []string
		for _, t := range c.watch.Ranked() {
			out = append(out, t.Name())
		}
		return out
	}
	return nil
}

// provenReceipt looks a receipt up through the chain's pipeline, where the
// verification stage proves it against the block's receiptsRoot; nil when
// the chain does not verify (inclusion is then agreed by operators alone).
func (c *chain) provenReceipt(ctx context.Context, hash string) (uint64, string, error) {
	params, _ := json.Marshal([]string{hash})
	res, err := pipeline.Do(ctx, c.pipeline, pipeline.NewCall("eth_getTransactionReceipt", params))
	if err != nil {
		return 0, "", err
	}
	var r struct {
		BlockNumber hexutil.Uint64 `json:"blockNumber"`
		BlockHash   string         `json:"blockHash"`
	}
	if err := json.Unmarshal(res, &r); err != nil || r.BlockHash == "" {
		return 0, "", fmt.Errorf("receipt of %s: not found (%s)", hash, res)
	}
	return uint64(r.BlockNumber), r.BlockHash, nil
}
